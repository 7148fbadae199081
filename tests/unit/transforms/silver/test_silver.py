"""Silver transforms on tiny bronze and silver frames: readings, states, counts, shift calendar."""

import json
from datetime import date, datetime

import pytest

import plant
from lakehouse.catalog import get_table
from lakehouse.plant_model import load_plant_model
from transforms.silver.counts import production_counts
from transforms.silver.master_data import shift_calendar
from transforms.silver.readings import conform_readings
from transforms.silver.signals import compile_rules, map_signals, mapped_readings, opcua_values
from transforms.silver.states import equipment_states

EQ = "acme.berlin.machining.line1.cell1.cnc01"
SIMULATOR = compile_rules(load_plant_model(plant.MODEL_FILE))
OPCUA_COLUMNS = (
    "node_id string, value string, status_code bigint, source_timestamp timestamp, "
    "server_timestamp timestamp, received_at timestamp, ingested_at timestamp"
)


def opcua_bronze(df):
    return df.selectExpr(
        "*",
        "'urn:plantlake:plant' namespace_uri",
        "CAST(NULL AS string) browse_path",
        "'opc.tcp://127.0.0.1:4840' endpoint",
        "'Double' variant_type",
    )


T0 = datetime(2026, 3, 2, 6, 0, 0)


def df(spark, table, rows):
    spec = get_table(table)
    return spark.createDataFrame(
        [tuple(r.get(c) for c in spec.column_names) for r in rows], spec.schema
    )


def at(seconds):
    return datetime.fromtimestamp(T0.timestamp() + seconds)


def reading(tag, seconds, value=None, text=None, eq=EQ, quality="good"):
    return {
        "equipment_id": eq,
        "tag": tag,
        "event_time": at(seconds),
        "value": value,
        "value_str": text if text is not None else (None if value is None else str(value)),
        "quality": quality,
        "source": "uns",
        "event_date": at(seconds).date(),
    }


@pytest.fixture
def equipment(spark):
    return df(
        spark,
        "silver.equipment",
        [
            {
                "equipment_id": EQ,
                "enterprise": "acme",
                "site": "berlin",
                "area": "machining",
                "line": "line1",
                "cell": "cell1",
                "name": "cnc01",
                "kind": "cnc_mill",
                "timezone": "Europe/Berlin",
                "valid_from": T0,
                "is_current": True,
            },
            {
                "equipment_id": "acme.berlin.machining.line1.meter.energy",
                "enterprise": "acme",
                "site": "berlin",
                "area": "machining",
                "line": "line1",
                "cell": "meter",
                "name": "energy",
                "kind": "energy_meter",
                "timezone": "Europe/Berlin",
                "valid_from": T0,
                "is_current": True,
            },
        ],
    )


@pytest.fixture
def tags(spark):
    rows = [
        ("temperature_c", "Double", "degC"),
        ("state", "Enum", ""),
        ("parts_total", "Int64", "count"),
        ("power_kw", "Double", "kW"),
    ]
    return df(
        spark,
        "silver.tags",
        [{"equipment_id": EQ, "tag": t, "datatype": d, "unit": u} for t, d, u in rows],
    )


def test_every_source_maps_to_one_deduplicated_typed_series(spark, equipment, tags):
    uns = spark.createDataFrame(
        [
            (f"acme/berlin/machining/line1/cell1/cnc01/{tag}", json.dumps(p).encode(), at(0), at(1))
            for tag, p in (
                ("temperature_c", {"value": 41.2, "timestamp": "2026-03-02T06:00:00Z"}),
                ("state", {"value": "running", "timestamp": "2026-03-02T06:00:00Z"}),
                # a Fahrenheit reading: 212 °F = 100 °C, converted to the tag's unit
                ("power_kw", {"value": 5000, "unit": "W", "timestamp": "2026-03-02T06:00:00Z"}),
            )
        ],
        "topic string, payload binary, source_timestamp timestamp, ingested_at timestamp",
    ).selectExpr("*", "source_timestamp received_at")
    opc = spark.createDataFrame(
        [
            # the same temperature reading from OPC UA, with more digits: OPC UA wins the dedup
            (f"ns=2;s={EQ}.temperature_c", "41.2345", 0, at(0), None, at(1), at(2)),
            # a gap marker: bad status, no value
            (f"ns=2;s={EQ}.temperature_c", None, 0x80310000, at(10), None, at(10), at(11)),
        ],
        OPCUA_COLUMNS,
    )
    spb = spark.createDataFrame(
        [
            (
                "berlin",
                "machining-line1",
                "cnc01",
                "DDATA",
                json.dumps(
                    {
                        "seq": 1,
                        "timestamp": int(at(20).timestamp() * 1000),
                        "metrics": [
                            {
                                "name": "temperature_c",
                                "timestamp": int(at(20).timestamp() * 1000),
                                "value": 42.0,
                            },
                            {"name": "bdSeq", "value": 3},
                        ],
                    }
                ),
                at(21),
            )
        ],
        "group_id string, edge_node_id string, device_id string, message_type string, "
        "decoded_json string, ingested_at timestamp",
    )
    addressed = map_signals(SIMULATOR, equipment, mqtt=uns, sparkplug=spb, opcua=opcua_bronze(opc))
    assert addressed.where("reason IS NOT NULL").count() == 0
    out = conform_readings(mapped_readings(addressed), tags)
    rows = {(r.tag, r.event_time): r for r in out.collect()}
    assert len(rows) == 5  # temperature ×3 times (dedup of 06:00:00), state, power
    t = rows[("temperature_c", at(0))]
    assert (t.value, t.source, t.unit, t.quality) == (41.2345, "opcua", "degC", "good")
    s = rows[("state", at(0))]
    assert (s.value, s.value_str) == (None, "running")
    p = rows[("power_kw", at(0))]
    assert (p.value, p.unit) == (5.0, "kW")  # 5,000 W = 5 kW
    gap = rows[("temperature_c", at(10))]
    assert (gap.value, gap.quality) == (None, "bad")
    spb_row = rows[("temperature_c", at(20))]
    assert (spb_row.value, spb_row.source, spb_row.equipment_id) == (42.0, "sparkplug", EQ)


def test_opcua_status_severity_gives_the_quality(spark):
    opc = spark.createDataFrame(
        [
            (f"ns=2;s={EQ}.x", "1", 0, at(0)),
            (f"ns=2;s={EQ}.x", "2", 0x40000000, at(1)),
            (f"ns=2;s={EQ}.x", "3", 0x80000000, at(2)),
        ],
        "node_id string, value string, status_code bigint, source_timestamp timestamp",
    ).selectExpr(
        "*",
        "CAST(NULL AS timestamp) server_timestamp",
        "source_timestamp received_at",
        "source_timestamp ingested_at",
    )
    values = opcua_values(opcua_bronze(opc), SIMULATOR).orderBy("event_time")
    got = [(r.value_text, r.quality) for r in values.collect()]
    assert got == [("1", "good"), ("2", "uncertain"), (None, "bad")]


def test_state_intervals_take_reasons_from_the_tag_or_else_the_mes(spark):
    readings = df(
        spark,
        "silver.readings",
        [
            reading("state", 0, text="running"),
            reading("reason_code", 0, text=""),
            reading("product_id", 0, text="P-100"),
            reading("state", 600, text="unplanned_stop"),
            reading("reason_code", 600, text="jam"),
            reading("state", 900, text="running"),
            reading("reason_code", 900, text=""),
            reading("state", 1200, text="unplanned_stop"),  # the machine sent no reason
            reading("state", 1500, text="running"),
            reading("state", 1600, text=""),  # a birth's placeholder: no change of state
        ],
    )
    downtime = df(
        spark,
        "silver.downtime_events",
        [
            {
                "event_id": "DT-1",
                "equipment_id": EQ,
                "start_time": at(1200),
                "reason_code": "material_shortage",
                "event_date": date(2026, 3, 2),
            }
        ],
    )
    out = equipment_states(readings, downtime).orderBy("start_time").collect()
    got = [
        (
            r.start_time,
            r.end_time,
            r.duration_s,
            r.state,
            r.reason_code,
            r.reason_source,
            r.product_id,
        )
        for r in out
    ]
    assert got == [
        (at(0), at(600), 600.0, "running", "", None, "P-100"),
        (at(600), at(900), 300.0, "unplanned_stop", "jam", "tag", "P-100"),
        (at(900), at(1200), 300.0, "running", "", None, "P-100"),
        (at(1200), at(1500), 300.0, "unplanned_stop", "material_shortage", "mes", "P-100"),
        (at(1500), None, None, "running", "", None, "P-100"),  # still running: open
    ]


def test_counter_reset_and_product_change_in_production_counts(spark, equipment):
    routings = df(
        spark,
        "silver.routings",
        [
            {"product_id": "P-100", "equipment_kind": "cnc_mill", "ideal_cycle_s": 42.0},
            {"product_id": "P-200", "equipment_kind": "cnc_mill", "ideal_cycle_s": 55.0},
        ],
    )
    readings = df(
        spark,
        "silver.readings",
        [
            reading("product_id", 0, text="P-100"),
            reading("parts_total", 5, 1000.0),  # baseline: no earlier reading, counts 0
            reading("parts_total", 50, 1001.0),  # +1
            reading("parts_total", 55, 1003.0),  # +2 (two parts between samples)
            reading("parts_total", 70, 2.0),  # reset: the counter restarted at 0, so +2
            reading("parts_total", 80, 3.0),  # +1, still 06:01
            reading("product_id", 120, text="P-200"),
            reading("parts_total", 120, 4.0),  # same second as the change: still P-100
            reading("parts_total", 170, 5.0),  # P-200 +1
            reading("parts_good", 50, 500.0),
            reading("parts_good", 55, 502.0),  # +2 good
        ],
    )
    out = (
        production_counts(readings, equipment, routings)
        .orderBy("interval_start", "product_id")
        .collect()
    )
    got = [
        (r.interval_start, r.product_id, r.produced, r.good, r.ideal_cycle_s, r.ideal_time_s)
        for r in out
    ]
    assert got == [
        # 06:00: 0 + 1 + 2 = 3 parts of P-100, 3 × 42 s = 126 s; good: baseline 0 + 2
        (at(0), "P-100", 3, 2, 42.0, 126.0),
        # 06:01: reset +2, +1 = 3 parts, 126 s
        (at(60), "P-100", 3, 0, 42.0, 126.0),
        # 06:02: the part counted at the change second (+1) is P-100, the next (+1) is P-200
        (at(120), "P-100", 1, 0, 42.0, 42.0),
        (at(120), "P-200", 1, 0, 55.0, 55.0),
    ]


def test_shift_calendar_shows_local_times_across_daylight_saving(spark, equipment):
    night = {
        "shift_id": "berlin-2026-03-28-night",
        "site": "berlin",
        "shift_name": "night",
        "local_date": "2026-03-28",
        "start_time": "2026-03-28T21:00:00+00:00",
        "end_time": "2026-03-29T04:00:00+00:00",
        "break_start": "2026-03-29T00:15:00+00:00",
        "break_end": "2026-03-29T00:45:00+00:00",
        "maintenance_end": "2026-03-28T21:00:00+00:00",
        "updated_at": "2026-03-01T00:00:00+00:00",
    }
    mes = df(
        spark,
        "bronze.mes_rows",
        [
            {
                "record_id": "r1",
                "source_table": "mes.shift_calendar",
                "primary_key": '{"shift_id": "berlin-2026-03-28-night"}',
                "row_json": json.dumps(night),
                "updated_at": datetime(2026, 3, 1),
                "source": "mes",
                "received_at": datetime(2026, 3, 1),
                "ingested_at": datetime(2026, 3, 1),
            }
        ],
    )
    row = shift_calendar(mes, equipment).collect()[0]
    # 22:00 CET (+01:00) to 06:00 CEST (+02:00): 7 hours of real time, 25,200 s; break 30 min
    assert (row.local_start, row.local_end) == ("2026-03-28T22:00+01:00", "2026-03-29T06:00+02:00")
    assert (row.planned_s, row.calendar_planned_downtime_s) == (25200.0, 1800.0)
    assert row.timezone == "Europe/Berlin"


def test_an_opcua_enum_code_is_named_like_the_other_sources_name_it(spark):
    long = spark.createDataFrame(
        [(EQ, "state", at(0), "2", "good", "opcua", None, None, None, at(1))],
        "equipment_id string, tag string, event_time timestamp, value_text string, "
        "quality string, source string, unit_in string, unit string, is_text boolean, "
        "ingested_at timestamp",
    )
    tags = df(
        spark,
        "silver.tags",
        [
            {
                "equipment_id": EQ,
                "tag": "state",
                "datatype": "Enum",
                "enum_values": ["running", "idle", "planned_stop", "unplanned_stop", "changeover"],
            }
        ],
    )
    row = conform_readings(long, tags).collect()[0]
    # code 2 is the third name
    assert (row.value, row.value_str) == (None, "planned_stop")
