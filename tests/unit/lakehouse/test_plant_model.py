"""The plant model file: validation messages that name the key, templates, calendars."""

from datetime import date, datetime

import pytest

import plant
from lakehouse.plant_model import (
    PlantModelError,
    install_model,
    load_plant_model,
    model_for_lake,
)
from lakehouse.plant_model.calendar import model_calendar
from lakehouse.plant_model.schema import parse_plant_model
from lakehouse.plant_model.templates import Template, TemplateError

SITE = {
    "name": "sued",
    "timezone": "Europe/Berlin",
    "calendar": {
        "shifts": [
            {"name": "early", "start": "06:00", "end": "14:00"},
            {"name": "night", "start": "22:00", "hours": 8, "days": ["sat"]},
        ],
        "breaks": [
            {"name": "coffee", "start": "09:00", "minutes": 15, "shifts": ["early"]},
            {"name": "lunch", "start": "11:00", "minutes": 45},
            {"name": "night meal", "start": "02:00", "minutes": 30},
        ],
        "holidays": ["2026-03-27"],
        "planned_maintenance": [
            {"start": "2026-03-26T13:00", "end": "2026-03-26T15:00", "equipment": ["press7"]}
        ],
    },
    "areas": [
        {
            "name": "pressing",
            "lines": [
                {
                    "name": "line1",
                    "cells": [
                        {
                            "name": "cell1",
                            "equipment": [{"name": "press7", "kind": "press", "ideal_cycle_s": 12}],
                        }
                    ],
                }
            ],
        }
    ],
}
RULE = {
    "mqtt": {"topic": "factory/{equipment}/telemetry", "value": None, "fields": "all"},
    "equipment": {"name": "{equipment}"},
    "tags": {"running": {"role": "state", "values": "running_bool"}, "*": "analog"},
}


def model(**changes):
    data = {"enterprise": "acme", "sites": [SITE], "signals": [RULE]} | changes
    return parse_plant_model(data)


def test_the_simulators_model_file_is_valid():
    m = load_plant_model(plant.MODEL_FILE)
    assert [r.source for r in m.signals] == ["uns", "sparkplug", "sparkplug", "opcua"]


def test_a_bad_key_is_named_with_its_path_and_the_expected_form():
    bad_zone = {**SITE, "timezone": "Berlin/Mitte"}
    with pytest.raises(PlantModelError, match=r"sites\[0\]\(sued\)\.timezone: not an IANA"):
        model(sites=[bad_zone])
    with pytest.raises(PlantModelError, match=r"signals\[0\]\.tags\.running\.role"):
        model(signals=[{**RULE, "tags": {"running": {"role": "status"}}}])
    with pytest.raises(PlantModelError, match="give exactly one of opcua, mqtt or sparkplug"):
        model(signals=[{k: v for k, v in RULE.items() if k != "mqtt"}])
    with pytest.raises(PlantModelError, match=r"uses \{cell\} which the address template"):
        model(signals=[{**RULE, "equipment": "{cell}.{equipment}"}])
    with pytest.raises(PlantModelError, match="name the namespace by URI"):
        model(signals=[{**RULE, "mqtt": None, "opcua": {"node": "ns=2;s={equipment}"}}])
    unquoted = {**SITE, "calendar": {"shifts": [{"name": "late", "start": 840, "hours": 8}]}}
    with pytest.raises(PlantModelError, match=r"shifts\[0\]\(late\)\.start: write times in quotes"):
        model(sites=[unquoted])
    offset = {**SITE["calendar"]["planned_maintenance"][0], "start": "2026-03-26T13:00:00Z"}
    with_offset = {**SITE, "calendar": {**SITE["calendar"], "planned_maintenance": [offset]}}
    with pytest.raises(PlantModelError, match="local time without an offset"):
        model(sites=[with_offset])
    with pytest.raises(PlantModelError, match="without a ' \\(quote\\)"):
        model(signals=[{**RULE, "mqtt": {**RULE["mqtt"], "timestamp": "it's"}}])
    unknown_state = {"running": {"role": "state", "values": {"1": "producing"}}}
    with pytest.raises(PlantModelError, match=r"states \['producing'\] are not in running"):
        model(signals=[{**RULE, "tags": unknown_state}])


def test_templates_compile_to_the_same_regex_for_python_and_java():
    t = Template("umh/v1/{enterprise}/{site}/{area}/{line}/{cell}/{origin}/_historian/{tag}")
    got = t.match("umh/v1/acme/sued/pressing/line1/cell1/plc7/_historian/temperature")
    assert got == {
        "enterprise": "acme",
        "site": "sued",
        "area": "pressing",
        "line": "line1",
        "cell": "cell1",
        "origin": "plc7",
        "tag": "temperature",
    }
    assert t.match("umh/v1/acme/sued/pressing/line1/cell1/_historian/temperature") is None
    # a node id: the equipment is everything up to the last dot
    node = Template("nsu=urn:x;s={equipment}.{tag}")
    assert node.match("nsu=urn:x;s=a.b.c.temp", default=".+") == {
        "equipment": "a.b.c",
        "tag": "temp",
    }
    assert Template("{line:L\\d+}-{n}").match("L12-3") == {"line": "L12", "n": "3"}
    with pytest.raises(TemplateError):
        Template("{a}/{a}")


def test_calendar_breaks_holidays_maintenance_and_daylight_saving():
    """Week of 2026-03-23 (Mon) to 03-29 (Sun), Europe/Berlin, clocks go forward on 03-29 02:00.
    Early shifts Mon–Fri but not Friday 27 (a holiday): 4; a night shift on Saturday 28 22:00
    → Sunday 06:00 local lasts 7 hours of real time."""
    shifts, windows = model_calendar(model(), date(2026, 3, 23), date(2026, 3, 29))
    early = [s for s in shifts if s.shift_name == "early"]
    assert [s.local_date.day for s in early] == [23, 24, 25, 26]
    assert early[0].start_time == datetime(2026, 3, 23, 5, 0)  # 06:00 CET = 05:00 UTC
    night = next(s for s in shifts if s.shift_name == "night")
    assert night.local_date == date(2026, 3, 28)
    assert (night.end_time - night.start_time).total_seconds() == 7 * 3600
    mon = [w for w in windows if w.shift_id == "sued-2026-03-23-early"]
    assert [
        (w.name, w.start_time.hour, (w.end_time - w.start_time).seconds // 60) for w in mon
    ] == [
        ("coffee", 8, 15),
        ("lunch", 10, 45),
    ]
    # the night meal at 02:00 falls on the next local day: 02:00 CET does not exist that night,
    # zoneinfo reads it as 01:00 UTC (03:00 CEST)
    meal = next(w for w in windows if w.shift_id == "sued-2026-03-28-night")
    assert meal.start_time == datetime(2026, 3, 29, 1, 0)
    # maintenance 13:00–15:00 on Thursday is clipped to the early shift's end (14:00)
    maint = [w for w in windows if w.kind == "planned_maintenance"]
    assert [(w.equipment_id, w.start_time.hour, w.end_time.hour) for w in maint] == [
        ("acme.sued.pressing.line1.cell1.press7", 12, 13)
    ]


def test_a_lake_uses_the_model_it_was_given(tmp_path):
    with pytest.raises(PlantModelError, match="plantlake model use FILE"):
        model_for_lake(tmp_path)
    install_model(tmp_path, plant.MODEL_FILE)
    assert model_for_lake(tmp_path).enterprise == "acme"
    bad = tmp_path / "bad.yaml"
    bad.write_text("enterprise: acme\nsites: [{name: x}]\n")
    with pytest.raises(PlantModelError, match=r"sites\[0\]\(x\)\.timezone: Field required"):
        install_model(tmp_path, bad)
