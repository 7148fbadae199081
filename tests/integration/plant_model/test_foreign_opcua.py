"""A foreign OPC UA server → our OPC UA connector → landing → bronze → refresh → gold.oee_shift.

The address space is not our simulator's (`ns=2;s=<equipment id>.<tag>`): the namespace is
registered second, so its index is 3; node ids are numeric, GUID and string; the press's folder
is named `Presse 7; Halle 2/Nord`. Only the plant model (models/werk_sued_opcua.yaml) says what
is what: the press by browse path, the deburrer by node ids with the namespace URI.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, date, datetime

import pytest
from asyncua import Server, ua

from ingestion.landing import LandingZone
from ingestion.opcua.connector import OpcUaConnector, OpcUaSourceConfig

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NS_URI = "urn:werk-sued:presses"
ENERGY_URI = "urn:werk-sued:energy"  # registered first: it takes index 2, ours gets 3
TEMPERATURE_GUID = uuid.UUID("0d9a7e51-3c2f-4f0e-a1b8-5d6c7e8f9a01")
SPINDLE_GUID = uuid.UUID("6f1c2a4e-8d3b-4b7a-9c55-0e2f7a1d3b90")
PRESS_FOLDER = "Presse 7; Halle 2/Nord"
PRESS_PATH = "Presse 7; Halle 2&/Nord"  # in a browse path, escaped (OPC UA Part 4 Annex A)
PRESS = "suedwerk.werk-sued.umformung.halle2-nord.zelle-7.presse-7"
DEBURRER = "suedwerk.werk-sued.umformung.halle2-nord.zelle-8.entgrater-3"
UNCERTAIN = ua.StatusCodes.UncertainLastUsableValue
I32, F64, BOOL, TEXT = (
    ua.VariantType.Int32,
    ua.VariantType.Double,
    ua.VariantType.Boolean,
    ua.VariantType.String,
)


def utc(hhmm: str) -> datetime:
    """A time of Tuesday 2026-03-03 in UTC (Europe/Berlin is UTC+1 that day)."""
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 3, 3, h, m, tzinfo=UTC)


def naive(hhmm: str) -> datetime:
    """The same time as Spark returns it: naive UTC (the session time zone)."""
    return utc(hhmm).replace(tzinfo=None)


# The plant's day, in UTC. The early shift runs 06:00-14:00 Berlin = 05:00-13:00 UTC, with the
# 09:30 breakfast break = 08:30-09:00 UTC. Every variable starts at 05:00 with its first value.
INITIAL = {
    "Zustand": 6,  # PackML Execute: running
    "TeileGesamt": 10000,
    "TeileGut": 9800,
    "Produkt": "P-4711",
    "Temperatur": 41.5,
    "Hydraulikdruck": 180.0,  # not in the model: unmapped
    "Laeuft": True,
    "Stueck": 500,
    "Gut": 495,
    "Spindeltemperatur": 35.0,
    "Wirkarbeit": 1000.0,  # another namespace, no rule: unmapped
}
# (UTC time, variable, value, status) in the order the server writes them
CHANGES = [
    ("06:40", "Zustand", 11, 0),  # PackML Held: unplanned stop
    ("06:40", "TeileGesamt", 10480, 0),
    ("06:40", "TeileGut", 10270, 0),
    ("07:00", "Zustand", 6, 0),
    ("07:00", "Temperatur", 48.2, UNCERTAIN),  # lands, kept with quality uncertain
    ("08:30", "Zustand", 2, 0),  # PackML Stopped: idle, the break
    ("08:30", "TeileGesamt", 10910, 0),
    ("08:30", "TeileGut", 10692, 0),
    ("08:30", "Laeuft", False, 0),
    ("08:30", "Stueck", 880, 0),
    ("08:30", "Gut", 872, 0),
    ("09:00", "Zustand", 6, 0),
    ("09:00", "Temperatur", 47.9, 0),
    ("09:00", "Hydraulikdruck", 182.5, 0),
    ("09:00", "Laeuft", True, 0),
    ("11:15", "Zustand", 5, 0),  # PackML Suspended: idle (starved)
    ("11:15", "TeileGesamt", 11560, 0),
    ("11:15", "TeileGut", 11330, 0),
    ("11:30", "Zustand", 6, 0),
    ("12:00", "Laeuft", False, 0),
    ("12:00", "Stueck", 1220, 0),
    ("12:00", "Gut", 1208, 0),
    ("12:58", "TeileGesamt", 11950, 0),
    ("12:58", "TeileGut", 11711, 0),
    ("13:00", "Zustand", 2, 0),
    ("13:00", "Spindeltemperatur", 38.5, 0),
    ("13:00", "Wirkarbeit", 1100.0, 0),
]
# 11 first values + 27 changes = 38 data changes, each one bronze row.
VALUES = len(INITIAL) + len(CHANGES)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WerkSuedServer:
    """Objects/Werk Süd/{Presse 7; Halle 2/Nord, Entgrater 3, Energie}/<variables>."""

    def __init__(self, port: int):
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/werk-sued/"
        self.server: Server | None = None
        self.ns = 0
        self.vars: dict[str, tuple[object, ua.VariantType]] = {}

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("Werk Sued Pressen")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        energy = await server.register_namespace(ENERGY_URI)
        ns = self.ns = await server.register_namespace(NS_URI)
        assert (energy, ns) == (2, 3)
        site = await server.nodes.objects.add_folder(
            ua.NodeId("WerkSued", ns), ua.QualifiedName("Werk Süd", ns)
        )
        press = await site.add_object(ua.NodeId(7000, ns), ua.QualifiedName(PRESS_FOLDER, ns))
        deburrer = await site.add_object(ua.NodeId("E3", ns), ua.QualifiedName("Entgrater 3", ns))
        meters = await site.add_folder(
            ua.NodeId("Energie", energy), ua.QualifiedName("Energie", energy)
        )
        guid = ua.NodeIdType.Guid
        for parent, node_id, name, vtype in (
            (press, ua.NodeId(6001, ns), "Zustand", I32),
            (press, ua.NodeId(6002, ns), "TeileGesamt", I32),
            (press, ua.NodeId("P7.TeileGut", ns), "TeileGut", I32),
            (press, ua.NodeId("P7.Produkt", ns), "Produkt", TEXT),
            (press, ua.NodeId(TEMPERATURE_GUID, ns, guid), "Temperatur", F64),
            (press, ua.NodeId(6009, ns), "Hydraulikdruck", F64),
            (deburrer, ua.NodeId("E3.Laeuft", ns), "Laeuft", BOOL),
            (deburrer, ua.NodeId("E3.Stueck", ns), "Stueck", I32),
            (deburrer, ua.NodeId("E3.Gut", ns), "Gut", I32),
            (deburrer, ua.NodeId(SPINDLE_GUID, ns, guid), "Spindeltemperatur", F64),
            (meters, ua.NodeId(42, energy), "Wirkarbeit", F64),
        ):
            var = await parent.add_variable(
                node_id,
                ua.QualifiedName(name, node_id.NamespaceIndex),
                ua.Variant(INITIAL[name], vtype),
            )
            if vtype == F64:  # a property describes the variable; the connector skips it
                await var.add_property(
                    ns, "EngineeringUnits", "degC" if "temp" in name.lower() else "-"
                )
            self.vars[name] = (var, vtype)
            await self.write(name, INITIAL[name], utc("05:00"))
        await server.start()
        self.server = server

    async def write(self, name: str, value: object, ts: datetime, status: int = 0) -> None:
        var, vtype = self.vars[name]
        await var.write_value(
            ua.DataValue(ua.Variant(value, vtype), ua.StatusCode(status), SourceTimestamp=ts)
        )

    async def stop(self) -> None:
        await self.server.stop()


async def wait_for(predicate, what: str, timeout_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.02)


async def run_plant_and_connector(zone: LandingZone) -> OpcUaConnector:
    """Serve the day, one value change at a time, each landed by the connector."""
    plant = WerkSuedServer(free_port())
    await plant.start()
    try:
        connector = OpcUaConnector(
            OpcUaSourceConfig(
                name="werk-sued-opcua",
                endpoint=plant.endpoint,
                root=["0:Objects", f"{plant.ns}:Werk Süd"],
                sampling_interval_ms=20,
                publishing_interval_ms=20,
                flush_interval_s=0.1,
            ),
            zone,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(connector.run(stop))
        s = connector.stats
        await wait_for(lambda: 0 < s.monitored == s.subscribed, "the connector subscribed")
        # A change is a data change only if value or status differ, and only what the
        # connector sees lands: write the next one when the last one has arrived.
        await wait_for(lambda: s.received == len(INITIAL), "the first values arrived")
        for n, (hhmm, name, value, status) in enumerate(CHANGES, start=len(INITIAL) + 1):
            await plant.write(name, value, utc(hhmm), status)
            await wait_for(lambda n=n: s.received == n, f"change {n} ({name} at {hhmm}) arrived")
        await wait_for(lambda: s.landed == VALUES, "every value is landed")
        stop.set()
        await asyncio.wait_for(task, 20)
        return connector
    finally:
        await plant.stop()


def test_foreign_opcua_server_to_oee(plant_lake):
    connector = asyncio.run(run_plant_and_connector(plant_lake.landing))
    # 11 variables; their 4 EngineeringUnits properties are not data and are not monitored
    assert connector.stats.monitored == 11
    assert connector.stats.received == connector.stats.landed == VALUES == 38
    assert connector.stats.gaps == 0

    # -- bronze: the source's own words --------------------------------------------------
    assert plant_lake.load_bronze() == {"bronze.opcua_values": 38}
    values = len(plant_lake.rows("bronze.opcua_values"))  # one value per row
    bronze = {
        r.browse_path: r
        for r in plant_lake.rows(
            "bronze.opcua_values", "source_timestamp = TIMESTAMP'2026-03-03 05:00:00'"
        )
    }
    assert {p: (r.node_id, r.namespace_uri) for p, r in bronze.items()} == {
        f"{PRESS_PATH}/Zustand": ("ns=3;i=6001", NS_URI),
        f"{PRESS_PATH}/TeileGesamt": ("ns=3;i=6002", NS_URI),
        f"{PRESS_PATH}/TeileGut": ("ns=3;s=P7.TeileGut", NS_URI),
        f"{PRESS_PATH}/Produkt": ("ns=3;s=P7.Produkt", NS_URI),
        f"{PRESS_PATH}/Temperatur": (f"ns=3;g={TEMPERATURE_GUID}", NS_URI),
        f"{PRESS_PATH}/Hydraulikdruck": ("ns=3;i=6009", NS_URI),
        "Entgrater 3/Laeuft": ("ns=3;s=E3.Laeuft", NS_URI),
        "Entgrater 3/Stueck": ("ns=3;s=E3.Stueck", NS_URI),
        "Entgrater 3/Gut": ("ns=3;s=E3.Gut", NS_URI),
        "Entgrater 3/Spindeltemperatur": (f"ns=3;g={SPINDLE_GUID}", NS_URI),
        "Energie/Wirkarbeit": ("ns=2;i=42", ENERGY_URI),
    }
    assert {r.variant_type for r in bronze.values()} == {"Int32", "Double", "Boolean", "String"}

    plant_lake.refresh("werk_sued_opcua.yaml")

    # -- silver: every bronze value is a reading, a duplicate or unmapped -------------------
    unmapped = plant_lake.unmapped("opcua")
    hydraulic = f"nsu={NS_URI};i=6009 @ {PRESS_PATH}/Hydraulikdruck"
    energy = f"nsu={ENERGY_URI};i=42 @ Energie/Wirkarbeit"
    assert unmapped == {
        (hydraulic, "rule 'press 7 by browse path' declares no tag matching 'Hydraulikdruck'"): 2,
        (energy, "no signal rule matches the address"): 2,
    }
    # 38 bronze values = 34 readings + 0 duplicates + 4 unmapped (2 pressures, 2 energy)
    assert plant_lake.silver_rows("opcua") == 34
    assert plant_lake.silver_rows("opcua") + 0 + sum(unmapped.values()) == values == 38

    temperature = plant_lake.rows(
        "silver.readings", f"equipment_id = '{PRESS}'", "tag = 'temperature_c'"
    )
    assert sorted((r.event_time, r.value, r.quality) for r in temperature) == [
        (naive("05:00"), 41.5, "good"),
        (naive("07:00"), 48.2, "uncertain"),
        (naive("09:00"), 47.9, "good"),
    ]
    product = plant_lake.rows("silver.readings", f"equipment_id = '{PRESS}'", "tag = 'product_id'")
    assert [r.value_str for r in product] == ["P-4711"]

    assert plant_lake.states(PRESS) == [
        (naive("05:00"), "running"),
        (naive("06:40"), "unplanned_stop"),
        (naive("07:00"), "running"),
        (naive("08:30"), "idle"),
        (naive("09:00"), "running"),
        (naive("11:15"), "idle"),
        (naive("11:30"), "running"),
        (naive("13:00"), "idle"),
    ]
    assert plant_lake.states(DEBURRER) == [
        (naive("05:00"), "running"),
        (naive("08:30"), "idle"),
        (naive("09:00"), "running"),
        (naive("12:00"), "idle"),
    ]

    # -- gold: the early shift of Tuesday 2026-03-03 (Monday 03-02 is a holiday) -----------
    oee = plant_lake.oee(date(2026, 3, 3))
    assert set(oee) == {PRESS, DEBURRER}
    press, deburrer = oee[PRESS], oee[DEBURRER]
    for row in (press, deburrer):
        assert row["shift_name"] == "frueh" and row["is_complete"]
        assert row["shift_start"] == naive("05:00") and row["shift_end"] == naive("13:00")

    # Press 7 (ideal cycle 12 s):
    #   planned       05:00-13:00                                   = 480 min = 28800 s
    #   break         08:30-09:00 (stopped: planned downtime)       =  30 min =  1800 s
    #   PBT           28800 - 1800                                  =           27000 s
    #   running       05:00-06:40 100 + 07:00-08:30 90 + 09:00-11:15 135 + 11:30-13:00 90
    #                                                               = 415 min = 24900 s
    #   held          06:40-07:00                                   =  20 min =  1200 s
    #   suspended     11:15-11:30                                   =  15 min =   900 s
    #   produced      11950 - 10000 = 1950 (480 + 430 + 650 + 390)
    #   good          11711 -  9800 = 1911 (470 + 422 + 638 + 381)
    #   ideal time    1950 x 12 s = 23400 s
    #   availability  24900 / 27000 = 0.922222   performance 23400 / 24900 = 0.939759
    #   quality       1911 / 1950   = 0.98       OEE = 23400 / 27000 x 0.98 = 0.849333
    assert {k: press[k] for k in ("planned_s", "planned_downtime_s", "planned_busy_s")} == {
        "planned_s": 28800.0,
        "planned_downtime_s": 1800.0,
        "planned_busy_s": 27000.0,
    }
    assert (press["run_s"], press["unplanned_downtime_s"], press["idle_s"]) == (
        24900.0,
        1200.0,
        900.0,
    )
    assert (press["changeover_s"], press["produced"], press["good"]) == (0.0, 1950, 1911)
    assert press["ideal_time_s"] == pytest.approx(23400.0)
    assert press["availability"] == pytest.approx(24900 / 27000)
    assert press["performance"] == pytest.approx(23400 / 24900)
    assert press["quality"] == pytest.approx(0.98)
    assert press["oee"] == pytest.approx(0.849333, abs=1e-6)

    # Deburrer 3 (ideal cycle 30 s, a Boolean running flag: not running is idle):
    #   running       05:00-08:30 210 + 09:00-12:00 180             = 390 min = 23400 s
    #   break         08:30-09:00 not running: planned downtime     =  30 min =  1800 s
    #   idle          12:00-13:00 (open interval, data reaches 13:00) = 60 min = 3600 s
    #   PBT           28800 - 1800 = 27000 s
    #   produced      1220 - 500 = 720 (380 + 340); good 1208 - 495 = 713 (377 + 336)
    #   ideal time    720 x 30 s = 21600 s
    #   availability  23400 / 27000 = 0.866667   performance 21600 / 23400 = 0.923077
    #   quality       713 / 720 = 0.990278       OEE = 21600 / 27000 x 713 / 720 = 0.792222
    assert (deburrer["planned_s"], deburrer["planned_downtime_s"], deburrer["planned_busy_s"]) == (
        28800.0,
        1800.0,
        27000.0,
    )
    assert (deburrer["run_s"], deburrer["unplanned_downtime_s"], deburrer["idle_s"]) == (
        23400.0,
        0.0,
        3600.0,
    )
    assert (deburrer["produced"], deburrer["good"]) == (720, 713)
    assert deburrer["ideal_time_s"] == pytest.approx(21600.0)
    assert deburrer["availability"] == pytest.approx(23400 / 27000)
    assert deburrer["performance"] == pytest.approx(21600 / 23400)
    assert deburrer["quality"] == pytest.approx(713 / 720)
    assert deburrer["oee"] == pytest.approx(0.792222, abs=1e-6)
