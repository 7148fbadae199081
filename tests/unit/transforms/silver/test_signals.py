"""Bronze values mapped by a plant model that is not the simulator's: UMH topics with several
tags per message, a flat vendor topic, PackML states, and every reason a value maps to nothing."""

import json
from datetime import UTC, datetime

import pytest

from lakehouse.catalog import get_table
from lakehouse.plant_model.schema import parse_plant_model
from transforms.silver.signals import (
    compile_rules,
    map_signals,
    mapped_readings,
    unmapped_addresses,
)

MS = 1732960000000  # 2024-11-30 09:46:40 UTC
AT = datetime.fromtimestamp(MS / 1000, UTC).replace(tzinfo=None)
PRESS = "acme.sued.pressing.line1.cell1.press7"
MODEL = {
    "enterprise": "acme",
    "sites": [
        {
            "name": "sued",
            "timezone": "Europe/Berlin",
            "areas": [
                {
                    "name": "pressing",
                    "lines": [
                        {
                            "name": "line1",
                            "cells": [
                                {
                                    "name": "cell1",
                                    "equipment": [{"name": "press7"}],
                                },
                                {
                                    "name": "cell2",
                                    "equipment": [{"name": "a"}, {"name": "b"}],
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    ],
    "signals": [
        {
            "name": "UMH historian",
            "mqtt": {
                "topic": "umh/v1/{enterprise}/{site}/{area}/{line}/{cell}/{origin}/_historian",
                "fields": "all",
                "timestamp": "timestamp_ms",
                "timestamp_format": "epoch_ms",
            },
            "equipment": {"site": "{site}", "area": "{area}", "line": "{line}", "cell": "{cell}"},
            "tags": {
                "state": {"role": "state", "values": "packml"},
                "count": "counter_total",
                "temperature": {"role": "analog", "unit": "degC", "source_unit": "degF"},
                "pressure": {"role": "analog", "unit": "bar", "low": 0, "high": 2.0},
            },
        },
        {
            "name": "vendor telemetry",
            "mqtt": {
                "topic": "factory/{equipment}/telemetry",
                "value": "v",
                "timestamp": "ts",
                "timestamp_format": "epoch_s",
            },
            "equipment": {"name": "{equipment}"},
            "tag": "{equipment}_power",
            "tags": {"*": {"role": "power", "unit": "kW"}},
        },
    ],
}


def messages(spark, rows):
    return spark.createDataFrame(
        [(topic, json.dumps(p).encode(), None, AT, AT) for topic, p in rows],
        "topic string, payload binary, source_timestamp timestamp, received_at timestamp, "
        "ingested_at timestamp",
    )


def equipment(spark, model):
    from transforms.silver.plant_model import model_equipment

    return model_equipment(spark, model)


@pytest.fixture
def addressed(spark):
    model = parse_plant_model(MODEL)
    umh = "umh/v1/acme/sued/pressing/line1/{cell}/plc7/_historian"
    bronze = messages(
        spark,
        [
            # three tags in one message; 212 °F = 100 °C
            (
                umh.format(cell="cell1"),
                {
                    "timestamp_ms": MS,
                    "state": 6,
                    "count": 1003,
                    "temperature": 212,
                    "pressure": 2.5,
                },
            ),
            (umh.format(cell="cell1"), {"timestamp_ms": MS + 1000, "state": 99, "humidity": 40}),
            (umh.format(cell="cell2"), {"timestamp_ms": MS, "pressure": 1.2}),  # two machines
            (umh.format(cell="cell9"), {"timestamp_ms": MS, "pressure": 1.3}),  # none
            ("factory/press7/telemetry", {"v": 5.5, "ts": MS / 1000}),
            ("factory/press7/telemetry", {"v": 5.6}),  # no timestamp
            ("factory/press7/telemetry", {"ts": MS / 1000}),  # no value field
            (umh.format(cell="cell1"), {"timestamp_ms": MS}),  # a heartbeat: no tag at all
            ("other/thing", {"value": 1}),
        ],
    )
    return map_signals(compile_rules(model), equipment(spark, model), mqtt=bronze).cache()


def test_several_tags_per_message_by_role_with_epoch_milliseconds(addressed):
    got = {
        (r.tag, r.value_text, r.unit_in, r.unit, r.is_text)
        for r in mapped_readings(addressed).where(f"equipment_id = '{PRESS}'").collect()
        if r.event_time == AT
    }
    assert got == {
        ("state", "running", None, None, True),  # PackML 6 = Execute
        ("parts_total", "1003", None, "count", False),
        ("temperature", "212", "degF", "degC", None),
        ("pressure", "2.5", None, "bar", None),
        ("power_kw", "5.5", None, "kW", False),  # the role names it, whatever the source
    }


def test_every_value_that_maps_to_nothing_keeps_its_address_and_reason(addressed):
    reasons = {
        (r.address, r.reason)
        for r in addressed.where("reason IS NOT NULL").select("address", "reason").collect()
    }
    umh = "umh/v1/acme/sued/pressing/line1/{}/plc7/_historian"
    assert reasons == {
        (
            umh.format("cell1") + "#state",
            "state value '99' is not in the value map of rule 'UMH historian'",
        ),
        (
            umh.format("cell1") + "#humidity",
            "rule 'UMH historian' declares no tag matching 'humidity'",
        ),
        (umh.format("cell2") + "#pressure", "rule 'UMH historian' matches 2 equipment"),
        (
            umh.format("cell9") + "#pressure",
            "no equipment of the plant model or MES matches rule 'UMH historian'",
        ),
        ("factory/press7/telemetry", "no readable timestamp"),
        ("factory/press7/telemetry", "the payload has no value field of rule 'vendor telemetry'"),
        (umh.format("cell1"), "the message carries no tag field"),
        ("other/thing", "no signal rule matches the address"),
    }
    # a value no rule maps is dated by its message, so it is counted in its own day
    other = addressed.where("address = 'other/thing'").first()
    assert other.event_time == AT


def test_values_in_equal_values_mapped_plus_unmapped(addressed):
    """Bronze values (4 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 = 13) = mapped 5 + unmapped 8."""
    assert addressed.count() == 13
    assert mapped_readings(addressed).count() == 5
    unmapped = unmapped_addresses(addressed)
    assert unmapped.agg({"value_count": "sum"}).first()[0] == 8


def test_units_converted_and_a_value_outside_the_declared_range_is_uncertain(spark, addressed):
    """212 °F = (212 − 32) × 5 / 9 = 100 °C, good; 2.5 bar above the declared 2.0 bar: kept,
    but uncertain."""
    from transforms.silver.readings import conform_readings

    tags = spark.createDataFrame([], get_table("silver.tags").schema)
    rows = conform_readings(mapped_readings(addressed), tags).where(f"equipment_id = '{PRESS}'")
    got = {r.tag: (r.value, r.unit, r.quality) for r in rows.collect() if r.event_time == AT}
    assert got["temperature"] == (pytest.approx(100.0), "degC", "good")
    assert got["pressure"] == (2.5, "bar", "uncertain")
    assert got["state"] == (None, None, "good")


# -- OPC UA ---------------------------------------------------------------------------------
OPCUA_MODEL = {
    **MODEL,
    "signals": [
        {
            "name": "press 7 by browse path",
            "opcua": {"browse_path": "Presse 7; Halle 2&/Nord/{tag}"},  # escaped as bronze has it
            "equipment": PRESS,
            "tags": {
                "Produkt": "product",
                "Auftrag": "work_order",
                "Charge": "material_lot",
                "*": "analog",
            },
        }
    ],
}


def test_opcua_json_values_become_doubles_and_texts(spark):
    """NaN and ±Infinity (JSON strings in bronze) become doubles; strings lose their JSON
    escapes; a LocalizedText is read by its text, whatever its locale."""
    from transforms.silver.readings import conform_readings

    spec = get_table("bronze.opcua_values")
    rows = [
        ("Temperatur", "Double", '"NaN"'),
        ("Druck", "Float", '"-Infinity"'),
        ("Kraft", "Double", '"Infinity"'),
        ("Weg", "Double", "12.5"),
        ("Produkt", "LocalizedText", '{"Text":"P-4711 \\"rot\\"","Locale":"de-DE"}'),
        ("Auftrag", "String", '"WO-1 \\u00fc\\n"'),
        ("Charge", "String", '"NaN"'),  # a text that reads NaN stays a text
    ]
    bronze = spark.createDataFrame(
        [
            {
                "record_id": tag,
                "endpoint": "opc.tcp://10.0.0.5:4840",
                "node_id": f"ns=3;s={tag}",
                "namespace_uri": "urn:werk-sued",
                "browse_path": f"Presse 7; Halle 2&/Nord/{tag}",
                "value": value,
                "variant_type": variant,
                "status_code": 0,
                "source_timestamp": AT,
                "source": "werk-sued-opcua",
                "received_at": AT,
                "ingested_at": AT,
            }
            for tag, variant, value in rows
        ],
        spec.schema,
    )
    model = parse_plant_model(OPCUA_MODEL)
    addressed = map_signals(compile_rules(model), equipment(spark, model), opcua=bronze)
    tags = spark.createDataFrame([], get_table("silver.tags").schema)
    got = {
        r.tag: (r.value, r.value_str)
        for r in conform_readings(mapped_readings(addressed), tags).collect()
    }
    nan, nan_text = got.pop("Temperatur")
    assert nan != nan and nan_text == "NaN"  # NaN is the one double unequal to itself
    assert got == {
        "Druck": (float("-inf"), "-Infinity"),
        "Kraft": (float("inf"), "Infinity"),
        "Weg": (12.5, "12.5"),
        "product_id": (None, 'P-4711 "rot"'),
        "work_order_id": (None, "WO-1 ü\n"),
        "material_lot": (None, "NaN"),
    }


def test_raw_control_characters_and_placeholders_differing_in_case(spark):
    """A payload string with a raw newline is read (as get_json_object read it), and `{Press}`
    of one rule and `{press}` of another are two placeholders (Spark's columns ignore case)."""
    model = parse_plant_model(
        {
            **MODEL,
            "signals": [
                {
                    **MODEL["signals"][1],
                    "name": "upper",
                    "mqtt": {**MODEL["signals"][1]["mqtt"], "topic": "up/{Press}/telemetry"},
                    "equipment": {"name": "{Press}"},
                    "tag": "{Press}_power",
                },
                {
                    **MODEL["signals"][1],
                    "name": "lower",
                    "mqtt": {**MODEL["signals"][1]["mqtt"], "topic": "low/{press}/telemetry"},
                    "equipment": {"name": "{press}"},
                    "tag": "{press}_power",
                },
            ],
        }
    )
    bronze = spark.createDataFrame(
        [
            ("up/press7/telemetry", b'{"v": 5.5, "ts": %d, "note": "a\nb"}' % (MS // 1000)),
            ("low/press7/telemetry", b'{"v": 6.5, "ts": %d}' % (MS // 1000)),
        ],
        "topic string, payload binary",
    ).selectExpr(
        "topic", "payload", "CAST(NULL AS timestamp) AS source_timestamp",
        f"TIMESTAMP'{AT}' AS received_at", f"TIMESTAMP'{AT}' AS ingested_at",
    )  # fmt: skip
    rows = map_signals(compile_rules(model), equipment(spark, model), mqtt=bronze).collect()
    assert sorted((r.equipment_id, r.value_text, r.reason) for r in rows) == [
        (PRESS, "5.5", None),
        (PRESS, "6.5", None),
    ]
