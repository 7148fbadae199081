"""A Sparkplug B edge node of another library → Mosquitto → our MQTT connector → bronze → gold.

The edge node is mqtt-spb-wrapper's, not pysparkplug (which our decoder uses): its births name
metrics `DATA/<name>` and `ATTR/<name>` with aliases, its DDATA send `<name>` with the alias. The
names follow no convention of ours (group `Plant4-SCADA`, one edge node `Gateway-07` for the
site, devices `<line>_<machine>`), and there are no MES rows: the equipment, its cycle times and
the Tokyo calendar come only from the plant model (models/nordstahl_sparkplug.yaml).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import mqtt_spb_wrapper as spb
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GROUP, EDGE = "Plant4-SCADA", "Gateway-07"
ROBOT = "nordstahl.kobe-works.assembly.L2.weld.Robot1"
SHIFT_START = datetime(2026, 3, 2, 23, 0)  # shift A of 2026-03-03: 08:00 Tokyo (UTC+9)


def utc(hhmm: str) -> datetime:
    """A time of shift A in UTC: 23:xx is on 2026-03-02, the rest on 2026-03-03."""
    h, m = map(int, hhmm.split(":"))
    day = SHIFT_START.date() if h >= 23 else SHIFT_START.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, h, m)


def ms(hhmm: str) -> int:
    return int(utc(hhmm).replace(tzinfo=UTC).timestamp() * 1000)


ALIASES = {
    "state": 1,
    "product": 2,
    "alarm_code": 3,
    "parts_total": 4,
    "parts_good": 5,
    "parts_scrap": 6,
    "temperature": 7,
}
# What the robot reports at the shift start (its DBIRTH) and after, in UTC. Lunch 12:00-12:45
# Tokyo = 03:00-03:45 UTC.
BIRTH = {
    "state": "PRODUCING",
    "product": "WX-100",
    "alarm_code": "",
    "parts_total": 3000,
    "parts_good": 2950,
    "parts_scrap": 50,
    "temperature": 180.0,
}
DATA = [  # one DDATA each
    (
        "00:30",
        {
            "state": "FAULT",
            "alarm_code": "E-217",
            "parts_total": 3112,
            "parts_good": 3060,
            "parts_scrap": 52,
            "temperature": 212.5,
        },
    ),
    ("00:50", {"state": "PRODUCING", "alarm_code": ""}),
    ("03:00", {"state": "PAUSE", "parts_total": 3277, "parts_good": 3223, "parts_scrap": 54}),
    ("03:45", {"state": "CHANGEOVER"}),
    "rebirth",  # the device births again: every value it holds, with its old timestamp
    ("04:00", {"state": "PRODUCING", "product": "WX-200"}),
    (
        "06:10",
        {
            "state": "STARVED",
            "parts_total": 3401,
            "parts_good": 3344,
            "parts_scrap": 57,
            "temperature": 198.0,
        },
    ),
    ("06:25", {"state": "PRODUCING"}),
    ("06:59", {"parts_total": 3434, "parts_good": 3377}),
    ("07:00", {"state": "STOPPED"}),
]


def run_edge_node(broker, connector, wait_until) -> None:
    """NBIRTH, the DBIRTHs, then the robot's DDATA; each message published once the previous
    one has arrived (the node and each device have their own MQTT connection, as this library
    makes them, but one sequence number: the order on the wire is the order of `seq`)."""
    node = spb.MqttSpbEntityEdgeNode(GROUP, EDGE)
    node.attributes.set_value("firmware", "4.2.1", timestamp=ms("23:00"))
    robot = spb.MqttSpbEntityDevice(GROUP, EDGE, "L2_Robot1")
    robot.attributes.set_value("serial_number", "RB-2231", timestamp=ms("23:00"))
    for name, value in BIRTH.items():
        robot.data.set_value(name, value, timestamp=ms("23:00"), spb_alias_num=ALIASES[name])
    camera = spb.MqttSpbEntityDevice(GROUP, EDGE, "L2_Camera")  # not in the plant model
    camera.data.set_value("state", "PRODUCING", timestamp=ms("23:00"), spb_alias_num=1)
    camera.data.set_value("parts_total", 12000, timestamp=ms("23:00"), spb_alias_num=2)
    entities = (node, robot, camera)
    try:
        for entity in entities:
            assert entity.connect(
                broker.host, broker.port, broker.username, broker.password, timeout=20
            )
        sent = 0

        def arrived(what: str) -> None:
            nonlocal sent
            sent += 1
            wait_until(lambda: connector.stats.received == sent, f"{what} arrived")

        for entity, what in ((node, "NBIRTH"), (robot, "robot DBIRTH"), (camera, "camera DBIRTH")):
            entity.publish_birth()
            arrived(what)
        for step in DATA:
            if step == "rebirth":
                robot.publish_birth()
                arrived("robot DBIRTH again")
                continue
            hhmm, values = step
            for name, value in values.items():
                robot.data.set_value(name, value, timestamp=ms(hhmm))
            assert robot.publish_data()
            arrived(f"DDATA at {hhmm}")
    finally:
        for entity in entities:
            entity.disconnect(skip_death_publish=True)


def test_foreign_sparkplug_edge_node_to_oee(plant_lake, broker, mqtt_connector, wait_until):
    connector = mqtt_connector("spb", ["spBv1.0/#"])
    run_edge_node(broker, connector, wait_until)
    # NBIRTH + 2 DBIRTH + 4 DDATA + DBIRTH + 5 DDATA = 13 messages
    wait_until(lambda: connector.stats.landed == 13, "13 messages are landed")
    connector.stop()
    stats = connector.stats
    assert (stats.accepted, stats.quarantined, stats.rebirths_requested) == (13, 0, 0)

    # -- bronze ------------------------------------------------------------------------------
    assert plant_lake.load_bronze() == {"bronze.sparkplug_messages": 13}
    bronze = sorted(plant_lake.rows("bronze.sparkplug_messages"), key=lambda r: r.seq)
    assert [(r.seq, r.message_type, r.device_id) for r in bronze] == [
        (0, "NBIRTH", None),
        (1, "DBIRTH", "L2_Robot1"),
        (2, "DBIRTH", "L2_Camera"),
        *[(s, "DDATA", "L2_Robot1") for s in range(3, 7)],
        (7, "DBIRTH", "L2_Robot1"),
        *[(s, "DDATA", "L2_Robot1") for s in range(8, 13)],
    ]
    assert {(r.group_id, r.edge_node_id) for r in bronze} == {(GROUP, EDGE)}
    metrics = [m for r in bronze for m in json.loads(r.decoded_json)["metrics"]]
    robot_birth = json.loads(bronze[1].decoded_json)["metrics"]
    assert {m["name"]: m["alias"] for m in robot_birth} == {
        "ATTR/serial_number": None,
        **{f"DATA/{name}": alias for name, alias in ALIASES.items()},
    }
    # The values silver maps: every metric but bdSeq and Node Control/… (control, not data;
    # this library files the rebirth command as CMD/Node Control/Rebirth):
    #   NBIRTH 1 (ATTR/firmware)
    #   robot DBIRTH 8, camera DBIRTH 2, DDATA 6 + 2 + 4 + 1, robot DBIRTH 8,
    #   DDATA 2 + 5 + 1 + 2 + 1                                            = 43
    control = [m for m in metrics if m["name"] == "bdSeq" or "Node Control/" in m["name"]]
    values = len(metrics) - len(control)
    assert values == 43

    plant_lake.refresh("nordstahl_sparkplug.yaml")

    # -- silver: 43 values = 31 readings + 7 duplicates + 5 unmapped --------------------------
    # readings of the robot: state 9, product 2, alarm_code 3, parts_total 5, parts_good 5,
    # parts_scrap 4, temperature 3 = 31; the second DBIRTH repeats its 7 data values (same
    # times): 7 duplicates; unmapped: the node's firmware metric (no rule for node metrics), the
    # robot's serial number twice (no tag), the camera's 2 values (no equipment).
    unmapped = plant_lake.unmapped("sparkplug")
    rule = "gateway 07 devices"
    no_equipment = f"no equipment of the plant model or MES matches rule '{rule}'"
    assert unmapped == {
        (f"{GROUP}/{EDGE}/-/ATTR/firmware", "no signal rule matches the address"): 1,
        (
            f"{GROUP}/{EDGE}/L2_Robot1/ATTR/serial_number",
            f"rule '{rule}' declares no tag matching 'ATTR/serial_number'",
        ): 2,
        (f"{GROUP}/{EDGE}/L2_Camera/DATA/state", no_equipment): 1,
        (f"{GROUP}/{EDGE}/L2_Camera/DATA/parts_total", no_equipment): 1,
    }
    assert plant_lake.silver_rows("sparkplug") == 31
    assert plant_lake.silver_rows("sparkplug") + 7 + sum(unmapped.values()) == values
    assert {r.equipment_id for r in plant_lake.rows("silver.equipment")} == {ROBOT}

    assert plant_lake.states(ROBOT) == [
        (utc("23:00"), "running"),
        (utc("00:30"), "unplanned_stop"),  # FAULT, alarm E-217
        (utc("00:50"), "running"),
        (utc("03:00"), "idle"),  # PAUSE, the lunch break
        (utc("03:45"), "changeover"),
        (utc("04:00"), "running"),  # now WX-200
        (utc("06:10"), "idle"),  # STARVED
        (utc("06:25"), "running"),
        (utc("07:00"), "idle"),  # STOPPED
    ]
    fault = plant_lake.rows(
        "silver.equipment_states", f"equipment_id = '{ROBOT}'", "state = 'unplanned_stop'"
    )
    assert [r.reason_code for r in fault] == ["E-217"]

    # -- gold: shift A of 2026-03-03, 08:00-16:00 Tokyo = 2026-03-02 23:00 - 03-03 07:00 UTC ---
    # planned       23:00-07:00                                        = 480 min = 28800 s
    # lunch         03:00-03:45 (PAUSE: planned downtime)              =  45 min =  2700 s
    # PBT           28800 - 2700                                       =           26100 s
    # running       23:00-00:30 90 + 00:50-03:00 130 + 04:00-06:10 130 + 06:25-07:00 35
    #                                                                  = 385 min = 23100 s
    # fault         00:30-00:50                                        =  20 min =  1200 s
    # changeover    03:45-04:00                                        =  15 min =   900 s
    # starved       06:10-06:25                                        =  15 min =   900 s
    # produced      3434 - 3000 = 434: WX-100 112 + 165 = 277, WX-200 124 + 33 = 157
    #               (the rebirth repeats 3277 at 03:00: counted once)
    # good          3377 - 2950 = 427; scrap 57 - 50 = 7
    # ideal time    277 x 45 s + 157 x 60 s = 12465 + 9420 = 21885 s
    # availability  23100 / 26100 = 0.885057   performance 21885 / 23100 = 0.947403
    # quality       427 / 434 = 0.983871       OEE = 21885 / 26100 x 427 / 434 = 0.824981
    oee = plant_lake.oee(date(2026, 3, 3))
    assert set(oee) == {ROBOT}  # shift B starts where the data ends; 03-02 is a holiday
    row = oee[ROBOT]
    assert (row["shift_name"], row["shift_start"], row["shift_end"], row["is_complete"]) == (
        "A",
        SHIFT_START,
        utc("07:00"),
        True,
    )
    assert (row["planned_s"], row["planned_downtime_s"], row["planned_busy_s"]) == (
        28800.0,
        2700.0,
        26100.0,
    )
    assert (row["run_s"], row["unplanned_downtime_s"], row["idle_s"], row["changeover_s"]) == (
        23100.0,
        1200.0,
        900.0,
        900.0,
    )
    assert (row["produced"], row["good"], row["scrap"]) == (434, 427, 7)
    assert row["ideal_time_s"] == pytest.approx(21885.0)
    assert row["availability"] == pytest.approx(23100 / 26100)
    assert row["performance"] == pytest.approx(21885 / 23100)
    assert row["quality"] == pytest.approx(427 / 434)
    assert row["oee"] == pytest.approx(0.824981, abs=1e-6)
