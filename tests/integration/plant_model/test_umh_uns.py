"""A UMH-style unified namespace → Mosquitto → our MQTT connector → bronze → refresh → gold.

The publisher is plain paho-mqtt, not our plant: topics
`umh/v1/<enterprise>/<site>/<area>/<line>/<workcell>/<origin>/_historian[/<tag group>]` and
payloads of several tags with the time in epoch milliseconds, as the United Manufacturing Hub
writes them. Only the plant model (models/pioneer_umh.yaml) says which field is what.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = "umh/v1/pioneer/aurora/packaging/line-3"
HISTORIAN = f"{BASE}/filler/plc/_historian"
FILLER = "pioneer.aurora.packaging.line-3.filler.filler-01"


def utc(hhmm: str) -> datetime:
    """A time of Tuesday 2026-03-03, UTC (America/Chicago is UTC-6 that day)."""
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 3, 3, h, m)


def ms(hhmm: str) -> int:
    return int(utc(hhmm).replace(tzinfo=UTC).timestamp() * 1000)


# The day shift runs 07:00-15:00 Chicago = 13:00-21:00 UTC with lunch 11:00-11:30 = 17:00-17:30.
# (topic, UTC time, tags) in publishing order; the state is a PackML number.
MESSAGES = [
    (
        HISTORIAN,
        "13:00",
        {"state": 6, "count": 50000, "good_count": 49500, "temperature": 21.0, "humidity": 40},
    ),
    (f"{HISTORIAN}/energy", "13:00", {"power_kw": 7.5, "energy_kwh": 1200.0}),
    (HISTORIAN, "14:10", {"state": 11, "count": 52000, "good_count": 51480, "temperature": 23.4}),
    (HISTORIAN, "14:35", {"state": 6}),
    (HISTORIAN, "17:00", {"state": 5, "count": 56200, "good_count": 55638}),
    (HISTORIAN, "17:30", {"state": 6}),
    # a second gateway relays the same state at the same time: one reading, one duplicate
    (f"{BASE}/filler/bridge/_historian", "17:30", {"state": 6}),
    # a work cell the model does not declare: unmapped
    (f"{BASE}/labeler/plc/_historian", "18:00", {"state": 6, "count": 10}),
    (HISTORIAN, "19:45", {"state": 17, "count": 60100, "good_count": 59499}),
    (HISTORIAN, "20:00", {"state": 6}),
    (
        HISTORIAN,
        "20:59",
        {"count": 61400, "good_count": 60786, "temperature": 22.8, "humidity": 44},
    ),
    (HISTORIAN, "21:00", {"state": 2}),
    (f"{HISTORIAN}/energy", "21:00", {"power_kw": 0.4, "energy_kwh": 1256.0}),
]


def publish(broker) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="umh-historian-bridge")
    client.username_pw_set(broker.username, broker.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic, hhmm, tags in MESSAGES:
            payload = json.dumps({"timestamp_ms": ms(hhmm), **tags})
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_umh_unified_namespace_to_oee(plant_lake, broker, mqtt_connector, wait_until):
    connector = mqtt_connector("umh", ["umh/v1/#"])
    publish(broker)
    wait_until(lambda: connector.stats.landed == len(MESSAGES) == 13, "13 messages are landed")
    connector.stop()
    # the connector accepts UMH topics (9 and 10 levels) and payloads (several fields, no
    # `value`, epoch ms in timestamp_ms): nothing quarantined
    assert (connector.stats.accepted, connector.stats.quarantined) == (13, 0)

    # -- bronze -------------------------------------------------------------------------------
    assert plant_lake.load_bronze() == {"bronze.mqtt_messages": 13}
    bronze = plant_lake.rows("bronze.mqtt_messages")
    assert sorted((r.source_timestamp, r.topic) for r in bronze) == sorted(
        (utc(hhmm), topic) for topic, hhmm, _ in MESSAGES
    )
    # a value is a payload field other than the timestamp:
    # 5+2+4+1+3+1+1+2+3+1+4+1+2 = 30
    values = sum(len(json.loads(bytes(r.payload))) - 1 for r in bronze)
    assert values == 30

    plant_lake.refresh("pioneer_umh.yaml")

    # -- silver: 30 values = 25 readings + 1 duplicate + 4 unmapped -----------------------------
    # readings of the filler: state 8 (13:00 14:10 14:35 17:00 17:30 19:45 20:00 21:00),
    # count 5, good_count 5, temperature 3, power 2, energy 2 = 25
    unmapped = plant_lake.unmapped("uns")
    no_equipment = "no equipment of the plant model or MES matches rule 'umh historian'"
    assert unmapped == {
        (f"{HISTORIAN}#humidity", "rule 'umh historian' declares no tag matching 'humidity'"): 2,
        (f"{BASE}/labeler/plc/_historian#state", no_equipment): 1,
        (f"{BASE}/labeler/plc/_historian#count", no_equipment): 1,
    }
    assert plant_lake.silver_rows("uns") == 25
    assert plant_lake.silver_rows("uns") + 1 + sum(unmapped.values()) == values

    tags = plant_lake.rows("silver.readings", f"equipment_id = '{FILLER}'")
    assert {t.tag for t in tags} == {
        "state",
        "parts_total",
        "parts_good",
        "temperature_c",
        "power_kw",
        "energy_kwh",
    }
    energy = sorted((t.event_time, t.value, t.unit) for t in tags if t.tag == "energy_kwh")
    assert energy == [(utc("13:00"), 1200.0, "kWh"), (utc("21:00"), 1256.0, "kWh")]

    assert plant_lake.states(FILLER) == [
        (utc("13:00"), "running"),  # 6 Execute
        (utc("14:10"), "unplanned_stop"),  # 11 Held
        (utc("14:35"), "running"),
        (utc("17:00"), "idle"),  # 5 Suspended, in the lunch break
        (utc("17:30"), "running"),  # once, though two gateways sent it
        (utc("19:45"), "idle"),  # 17 Complete
        (utc("20:00"), "running"),
        (utc("21:00"), "idle"),  # 2 Stopped
    ]

    # -- gold: the day shift of Tuesday 2026-03-03 ---------------------------------------------
    # planned       13:00-21:00                                        = 480 min = 28800 s
    # lunch         17:00-17:30 (suspended: planned downtime)          =  30 min =  1800 s
    # PBT           28800 - 1800                                       =           27000 s
    # running       13:00-14:10 70 + 14:35-17:00 145 + 17:30-19:45 135 + 20:00-21:00 60
    #                                                                  = 410 min = 24600 s
    # held          14:10-14:35                                        =  25 min =  1500 s
    # complete      19:45-20:00 (idle)                                 =  15 min =   900 s
    # produced      61400 - 50000 = 11400 (2000 + 4200 + 3900 + 1300)
    # good          60786 - 49500 = 11286 (1980 + 4158 + 3861 + 1287)
    # ideal time    11400 x 2 s = 22800 s
    # availability  24600 / 27000 = 0.911111   performance 22800 / 24600 = 0.926829
    # quality       11286 / 11400 = 0.99       OEE = 22800 / 27000 x 0.99 = 0.836
    oee = plant_lake.oee(date(2026, 3, 3))
    assert set(oee) == {FILLER}
    row = oee[FILLER]
    assert (row["shift_name"], row["shift_start"], row["shift_end"], row["is_complete"]) == (
        "day",
        utc("13:00"),
        utc("21:00"),
        True,
    )
    assert (row["planned_s"], row["planned_downtime_s"], row["planned_busy_s"]) == (
        28800.0,
        1800.0,
        27000.0,
    )
    assert (row["run_s"], row["unplanned_downtime_s"], row["idle_s"], row["changeover_s"]) == (
        24600.0,
        1500.0,
        900.0,
        0.0,
    )
    assert (row["produced"], row["good"]) == (11400, 11286)
    assert row["ideal_time_s"] == pytest.approx(22800.0)
    assert row["availability"] == pytest.approx(24600 / 27000)
    assert row["performance"] == pytest.approx(22800 / 24600)
    assert row["quality"] == pytest.approx(0.99)
    assert row["oee"] == pytest.approx(0.836)
