"""The Dagster definitions load, and hold every catalog table as an asset with its checks."""

import dagster as dg

from lakehouse.catalog import all_tables, get_table
from orchestration.definitions import defs
from orchestration.defs.resources import LakeResource

# The ML scoring tables are the only daily-partitioned assets: silver and gold are incremental
# (each run rebuilds the days its inputs changed on), the scores are made per day.
DAILY = {"gold/maintenance_predictions", "gold/quality_predictions", "gold/feature_drift"}
MODELS = {"ml/maintenance_model", "ml/quality_model"}


def test_every_catalog_table_is_an_asset_keyed_layer_table():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {f"{t.layer}/{t.name}" for t in all_tables()} | MODELS
    assert {graph.get(dg.AssetKey.from_user_string(m)).group_name for m in MODELS} == {"ml"}
    for spec in all_tables():
        node = graph.get(dg.AssetKey([spec.layer, spec.name]))
        assert node.group_name == spec.layer
        assert spec.description in node.description
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == spec.column_names


def test_lineage_checks_and_partitions_come_from_the_catalog():
    from expectations.runner import tables_with_suites

    graph = defs.resolve_asset_graph()
    for spec in all_tables():
        if spec.build is None:
            continue
        node = graph.get(dg.AssetKey([spec.layer, spec.name]))
        parents = {k.to_user_string().replace("/", ".") for k in node.parent_keys}
        assert parents == set(spec.build.tables_read) - {spec.full_name}, spec.full_name
    # gold.oee_shift reads silver.readings (how far each machine's data reaches): the
    # lineage the hand-kept lists once left out
    assert "silver.readings" in get_table("gold.oee_shift").build.tables_read
    checks = {k.asset_key.to_user_string() for k in graph.asset_check_keys}
    suited = {t.replace(".", "/") for t in tables_with_suites()}
    assert checks == suited | {"gold/feature_drift"}
    silver_blocking = [s for s in graph.asset_check_keys if s.asset_key.path[0] == "silver"]
    assert silver_blocking and all(graph.get_check_spec(k).blocking for k in silver_blocking)
    daily = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).partitions_def is not None
    }
    assert daily == DAILY
    # the gold KPIs say when they are stale (data stopped arriving, or the pipeline stopped)
    for spec in all_tables("gold"):
        policy = graph.get(dg.AssetKey(["gold", spec.name])).freshness_policy
        assert (policy is not None) == (spec.build is not None), spec.full_name


def test_the_refresh_job_builds_every_table_the_catalog_says_how_to_build():
    job = defs.resolve_job_def("refresh")
    selected = {k.to_user_string().replace("/", ".") for k in job.asset_layer.selected_asset_keys}
    assert selected == {t.full_name for t in all_tables() if t.build is not None}


def test_jobs_schedule_and_sensors():
    assert {j.name for j in defs.jobs} == {"bronze_load", "refresh", "score", "train_models"}
    assert [s.name for s in defs.schedules] == ["hourly_scoring", "weekly_training"]
    assert defs.resolve_schedule_def("hourly_scoring").job_name == "score"
    assert defs.resolve_schedule_def("weekly_training").cron_schedule == "0 3 * * 1"
    assert {s.default_status for s in defs.schedules} == {dg.DefaultScheduleStatus.RUNNING}
    parents = {
        k.to_user_string()
        for k in defs.resolve_asset_graph().get(dg.AssetKey(["gold", "asset_state"])).parent_keys
    }
    assert "gold/maintenance_predictions" in parents
    assert {s.name for s in defs.sensors} == {"landing_files_sensor", "bronze_changes_sensor"}


def _bronze_commit(root, table: str, version: int) -> None:
    log = root / "bronze" / table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{version:020d}.json").write_text("{}\n")


def test_bronze_sensor_requests_one_refresh_per_change_of_bronze(tmp_path):
    sensor = defs.resolve_sensor_def("bronze_changes_sensor")
    resources = {"lake": LakeResource(lake_root=str(tmp_path))}
    _bronze_commit(tmp_path, "mqtt_messages", 0)
    context = dg.build_sensor_context(resources=resources)
    first = sensor(context)
    assert isinstance(first, dg.RunRequest) and first.partition_key is None
    again = dg.build_sensor_context(cursor=context.cursor, resources=resources)
    assert isinstance(sensor(again), dg.SkipReason)  # bronze did not move
    _bronze_commit(tmp_path, "mes_rows", 0)
    _bronze_commit(tmp_path, "mqtt_messages", 1)
    moved = dg.build_sensor_context(cursor=context.cursor, resources=resources)
    assert isinstance(sensor(moved), dg.RunRequest)  # one run for both tables


def test_landing_sensor_requests_the_bronze_loader_once_per_new_file(tmp_path):
    resources = {"lake": LakeResource(lake_root=str(tmp_path))}
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    landing = tmp_path / "_landing" / "uns"
    landing.mkdir(parents=True)
    context = dg.build_sensor_context(resources=resources)
    assert isinstance(sensor(context), dg.SkipReason)  # nothing landed yet
    (landing / "part-1.parquet").write_bytes(b"PAR1")
    request = sensor(context)
    assert isinstance(request, dg.RunRequest)
    context = dg.build_sensor_context(cursor=context.cursor, resources=resources)
    assert isinstance(sensor(context), dg.SkipReason)  # the same file again: nothing to do


def test_landing_sensor_waits_while_a_loader_run_is_in_flight(tmp_path):
    resources = {"lake": LakeResource(lake_root=str(tmp_path))}
    landing = tmp_path / "_landing" / "uns"
    landing.mkdir(parents=True)
    (landing / "part-1.parquet").write_bytes(b"PAR1")
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    with dg.instance_for_test() as instance:
        run = instance.create_run_for_job(
            defs.resolve_job_def("bronze_load"), status=dg.DagsterRunStatus.STARTED
        )
        context = dg.build_sensor_context(instance=instance, resources=resources)
        assert isinstance(sensor(context), dg.SkipReason)  # no second loader queued behind it
        instance.report_run_failed(run)
        again = dg.build_sensor_context(instance=instance, resources=resources)
        assert isinstance(sensor(again), dg.RunRequest)
