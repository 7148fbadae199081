"""The Dagster definitions load, and hold every catalog table as an asset with its checks."""

import dagster as dg

from lakehouse.catalog import all_tables
from orchestration.definitions import defs

SUITED = {
    *(
        f"bronze/{t}"
        for t in ("mes_rows", "mqtt_messages", "opcua_values", "quarantine", "sparkplug_messages")
    ),
    *(
        f"silver/{t}"
        for t in (
            "downtime_events",
            "equipment",
            "equipment_states",
            "ideal_cycle_times",
            "planned_downtime",
            "production_counts",
            "products",
            "quality_inspections",
            "readings",
            "routings",
            "shift_calendar",
            "tags",
            "unmapped_addresses",
            "work_orders",
        )
    ),
    *(
        f"gold/{t}"
        for t in (
            "asset_health_features",
            "asset_state",
            "downtime_pareto",
            "energy",
            "oee_line_day",
            "oee_shift",
            "oee_site_week",
            "quality",
            "reliability",
            "spc",
            "quality_features",
            "maintenance_predictions",
            "quality_predictions",
            "feature_drift",  # the PSI check
        )
    ),
}
DAILY = {
    "silver/readings",
    "silver/unmapped_addresses",
    "silver/equipment_states",
    "silver/production_counts",
    "gold/oee_shift",
    "gold/downtime_pareto",
    "gold/quality",
    "gold/energy",
    "gold/asset_health_features",
    "gold/quality_features",
    "gold/maintenance_predictions",
    "gold/quality_predictions",
    "gold/feature_drift",
}
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


def test_checks_partitions_and_lineage():
    graph = defs.resolve_asset_graph()
    checks = {k.asset_key.to_user_string() for k in graph.asset_check_keys}
    assert checks == SUITED
    daily = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).partitions_def is not None
    }
    assert daily == DAILY
    parents = {
        k.to_user_string() for k in graph.get(dg.AssetKey(["gold", "oee_shift"])).parent_keys
    }
    assert parents == {
        "silver/equipment_states",
        "silver/production_counts",
        "silver/shift_calendar",
        "silver/planned_downtime",
        "silver/readings",
        "silver/equipment",
    }
    silver_blocking = [s for s in graph.asset_check_keys if s.asset_key.path[0] == "silver"]
    assert all(graph.get_check_spec(k).blocking for k in silver_blocking)


def test_jobs_schedule_and_sensors():
    assert {j.name for j in defs.jobs} == {"bronze_load", "refresh", "train_models"}
    assert [s.name for s in defs.schedules] == ["hourly_refresh", "weekly_training"]
    assert defs.resolve_schedule_def("weekly_training").cron_schedule == "0 3 * * 1"
    assert {s.default_status for s in defs.schedules} == {dg.DefaultScheduleStatus.RUNNING}
    parents = {
        k.to_user_string()
        for k in defs.resolve_asset_graph().get(dg.AssetKey(["gold", "asset_state"])).parent_keys
    }
    assert "gold/maintenance_predictions" in parents
    assert {s.name for s in defs.sensors} == {"landing_files_sensor", "bronze_changes_sensor"}
    schedule = defs.resolve_schedule_def("hourly_refresh")
    assert schedule.cron_schedule == "5 * * * *"


def test_landing_sensor_requests_the_bronze_loader_once_per_new_file(tmp_path, monkeypatch):
    from lakehouse.settings import load_settings

    monkeypatch.setattr(
        "orchestration.defs.bronze.sensors.get_settings", lambda: load_settings(lake_root=tmp_path)
    )
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    landing = tmp_path / "_landing" / "uns"
    landing.mkdir(parents=True)
    context = dg.build_sensor_context()
    assert isinstance(sensor(context), dg.SkipReason)  # nothing landed yet
    (landing / "part-1.parquet").write_bytes(b"PAR1")
    request = sensor(context)
    assert isinstance(request, dg.RunRequest)
    context = dg.build_sensor_context(cursor=context.cursor)
    assert isinstance(sensor(context), dg.SkipReason)  # the same file again: nothing to do


def test_landing_sensor_waits_while_a_loader_run_is_in_flight(tmp_path, monkeypatch):
    from lakehouse.settings import load_settings

    monkeypatch.setattr(
        "orchestration.defs.bronze.sensors.get_settings", lambda: load_settings(lake_root=tmp_path)
    )
    landing = tmp_path / "_landing" / "uns"
    landing.mkdir(parents=True)
    (landing / "part-1.parquet").write_bytes(b"PAR1")
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    with dg.instance_for_test() as instance:
        run = instance.create_run_for_job(
            defs.resolve_job_def("bronze_load"), status=dg.DagsterRunStatus.STARTED
        )
        context = dg.build_sensor_context(instance=instance)
        assert isinstance(sensor(context), dg.SkipReason)  # no second loader queued behind it
        instance.report_run_failed(run)
        assert isinstance(sensor(dg.build_sensor_context(instance=instance)), dg.RunRequest)
