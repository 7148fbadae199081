"""Silver: conformed, deduplicated, ISA-95 keyed tables built from bronze by `transforms/silver`."""

from __future__ import annotations

from lakehouse.catalog.spec import PLANT_MODEL, Build, Column, Read, TableSpec

# The tags of silver.readings each build reads (the builds below and in gold name them).
STATE_TAGS = ("state", "reason_code", "product_id", "work_order_id")
COUNT_TAGS = (
    "parts_total",
    "parts_good",
    "parts_scrap",
    "parts_rework",
    "product_id",
    "work_order_id",
)
HEALTH_TAGS = ("vibration_mm_s", "temperature_c", "power_kw", "tool_wear_pct")
COUNTER_LOOKBACK_DAYS = 3  # the last counter value before a day may be a weekend away

EQUIPMENT_ID = Column(
    "equipment_id",
    "string",
    "stable ISA-95 id: <enterprise>.<site>.<area>.<line>.<cell>.<equipment>",
    nullable=False,
)
EVENT_DATE = Column(
    "event_date", "date", "UTC date of the event time (the partition)", nullable=False
)
SITE_PATH = (
    Column("site", "string", "ISA-95 site"),
    Column("area", "string", "ISA-95 area"),
    Column("line", "string", "ISA-95 line (unique within its area)"),
)


def master_data(*also: str) -> Build:
    """The build of the MES master data and events: bronze.mes_rows (and `also`), one step."""
    return Build(
        "orchestration.builders:master_data",
        reads=(Read("bronze.mes_rows"), *(Read(t) for t in also)),
        writes_itself=True,
    )


def calendar(*also: str) -> Build:
    """The build of the shift calendar and planned downtime, one step."""
    reads = ("bronze.mes_rows", "silver.equipment", "silver.readings", PLANT_MODEL, *also)
    return Build(
        "orchestration.builders:calendar",
        reads=tuple(Read(t) for t in reads),
        writes_itself=True,
    )


# silver.readings and silver.unmapped_addresses: every bronze value, mapped or not, one step
READINGS_BUILD = Build(
    "orchestration.builders:readings",
    reads=(
        Read("bronze.mqtt_messages"),
        Read("bronze.sparkplug_messages"),
        Read("bronze.opcua_values"),
        Read("silver.equipment"),
        Read("silver.tags"),
        Read(PLANT_MODEL),
    ),
    writes_itself=True,
)

TABLES = (
    TableSpec(
        layer="silver",
        name="equipment",
        build=master_data(PLANT_MODEL),
        description="The ISA-95 equipment hierarchy with kind and time zone; slowly changing "
        "(one row per version, valid_from/valid_to).",
        grain="one version of one equipment",
        columns=(
            EQUIPMENT_ID,
            Column("enterprise", "string", "ISA-95 enterprise", nullable=False),
            *SITE_PATH,
            Column("cell", "string", "ISA-95 work cell"),
            Column("name", "string", "equipment name within its cell", nullable=False),
            Column(
                "kind", "string", "equipment kind (cnc_mill, press, …); null when only seen in data"
            ),
            Column("timezone", "string", "IANA time zone of the site"),
            Column("valid_from", "timestamp", "this version holds from (UTC)", nullable=False),
            Column(
                "valid_to", "timestamp", "this version holds until (UTC); null for the current one"
            ),
            Column("is_current", "boolean", "true for the version in force now", nullable=False),
            Column("source", "string", "mes.equipment, or the data source that revealed it"),
        ),
        primary_key=("equipment_id", "valid_from"),
    ),
    TableSpec(
        layer="silver",
        name="tags",
        build=master_data(),
        description="What each tag of each equipment measures: type, unit and valid range.",
        grain="one tag of one equipment",
        columns=(
            EQUIPMENT_ID,
            Column("tag", "string", "tag name, last segment of the topic or node", nullable=False),
            Column("datatype", "string", "Double, Int64, Boolean, String or Enum"),
            Column("unit", "string", "canonical unit of silver.readings.value for this tag"),
            Column("low", "double", "lowest plausible value (in unit)"),
            Column("high", "double", "highest plausible value (in unit)"),
            Column("is_counter", "boolean", "monotonic counter (deltas count, resets restart it)"),
            Column("description", "string", "what the tag measures"),
            Column(
                "enum_values",
                "array<string>",
                "an Enum tag's names in code order: a source sending code 2 means the third",
            ),
        ),
        primary_key=("equipment_id", "tag"),
    ),
    TableSpec(
        layer="silver",
        name="readings",
        build=READINGS_BUILD,
        description="Every reading of every source as one narrow, typed time series, deduplicated "
        "on (equipment, tag, event time), units normalised.",
        grain="one value of one tag at one source time",
        columns=(
            EQUIPMENT_ID,
            Column("tag", "string", "tag name", nullable=False),
            Column("event_time", "timestamp", "the source's timestamp (UTC)", nullable=False),
            Column("value", "double", "numeric value in the tag's canonical unit; null for text"),
            Column("value_str", "string", "text value (states, ids); the number as text otherwise"),
            Column("unit", "string", "unit of value"),
            Column("quality", "string", "good, uncertain or bad"),
            Column("source", "string", "uns, sparkplug or opcua: the source kept after dedup"),
            Column("ingested_at", "timestamp", "when the chosen bronze row was committed (UTC)"),
            EVENT_DATE,
        ),
        primary_key=("equipment_id", "tag", "event_time"),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="silver",
        name="equipment_states",
        build=Build(
            "orchestration.builders:equipment_states",
            reads=(
                Read("silver.readings", before=1, after=2, tags=STATE_TAGS),
                Read("silver.downtime_events", whole=True),
            ),
            days=True,
            day_before=True,
        ),
        description="Machine state intervals (running, idle, planned_stop, unplanned_stop, "
        "changeover) with reason code, from the state tags, reasons filled from MES downtime events.",
        grain="one state interval of one equipment",
        columns=(
            EQUIPMENT_ID,
            Column("start_time", "timestamp", "interval start (UTC)", nullable=False),
            Column("end_time", "timestamp", "interval end (UTC); null while it lasts"),
            Column("duration_s", "double", "end − start in seconds; null while it lasts"),
            Column(
                "state",
                "string",
                "running, idle, planned_stop, unplanned_stop, changeover",
                nullable=False,
            ),
            Column("reason_code", "string", "why the machine is not running; empty when running"),
            Column("product_id", "string", "product in work at the start"),
            Column("work_order_id", "string", "work order in work at the start"),
            Column("reason_source", "string", "tag or mes: where the reason code came from"),
            EVENT_DATE,
        ),
        primary_key=("equipment_id", "start_time"),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="silver",
        name="production_counts",
        build=Build(
            "transforms.silver.counts:production_counts",
            reads=(
                Read("silver.readings", before=COUNTER_LOOKBACK_DAYS, tags=COUNT_TAGS),
                Read("silver.equipment", whole=True),
                Read("silver.routings", whole=True),
                Read("silver.work_orders", whole=True),
                Read("silver.ideal_cycle_times", whole=True),
            ),
            days=True,
        ),
        description="Parts produced, good, scrap and rework per equipment, minute and product, "
        "from the machine counters (resets handled), with the ideal cycle time of the product.",
        grain="one equipment × minute × product × work order",
        columns=(
            EQUIPMENT_ID,
            Column("interval_start", "timestamp", "start of the minute (UTC)", nullable=False),
            Column("product_id", "string", "product made"),
            Column("work_order_id", "string", "work order run"),
            Column("produced", "bigint", "parts completed (count)", nullable=False),
            Column("good", "bigint", "good parts at first pass (count)", nullable=False),
            Column("scrap", "bigint", "scrapped parts (count)", nullable=False),
            Column("rework", "bigint", "parts sent to rework (count)", nullable=False),
            Column("ideal_cycle_s", "double", "planned run time per unit (s) from the routing"),
            Column("ideal_time_s", "double", "ideal_cycle_s × produced (s)"),
            Column("good_ideal_time_s", "double", "ideal_cycle_s × good (s)"),
            EVENT_DATE,
        ),
        primary_key=("equipment_id", "interval_start", "product_id", "work_order_id"),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="silver",
        name="work_orders",
        build=master_data(),
        description="Work orders in their latest version (MES).",
        grain="one work order",
        columns=(
            Column("work_order_id", "string", "MES work order id", nullable=False),
            Column("product_id", "string", "product ordered"),
            EQUIPMENT_ID,
            Column("qty_planned", "bigint", "quantity ordered (count)"),
            Column("status", "string", "released, running or completed"),
            Column("released_at", "timestamp", "UTC"),
            Column("started_at", "timestamp", "UTC"),
            Column("completed_at", "timestamp", "UTC"),
            Column("qty_done", "bigint", "quantity reported at completion (count)"),
            Column("ideal_cycle_s", "double", "planned run time per unit of its operation (s)"),
            Column("updated_at", "timestamp", "last change in the MES (UTC)"),
        ),
        primary_key=("work_order_id",),
    ),
    TableSpec(
        layer="silver",
        name="downtime_events",
        build=master_data(),
        description="Downtime events as the MES records them (latest version), with operator comment.",
        grain="one downtime event",
        columns=(
            Column("event_id", "string", "MES event id", nullable=False),
            EQUIPMENT_ID,
            Column("start_time", "timestamp", "UTC", nullable=False),
            Column("end_time", "timestamp", "UTC; null while open"),
            Column("duration_s", "double", "seconds; null while open"),
            Column("state", "string", "unplanned_stop or changeover"),
            Column("reason_code", "string", "reason code"),
            Column("operator_comment", "string", "what the operator wrote"),
            Column("work_order_id", "string", "work order at the time"),
            Column("updated_at", "timestamp", "last change in the MES (UTC)"),
            EVENT_DATE,
        ),
        primary_key=("event_id",),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="silver",
        name="quality_inspections",
        build=master_data("silver.work_orders"),
        description="Measured characteristics of inspected parts (MES), with limits and verdict.",
        grain="one inspection of one characteristic",
        columns=(
            Column("inspection_id", "string", "MES inspection id", nullable=False),
            EQUIPMENT_ID,
            Column("work_order_id", "string", "work order of the part"),
            Column("product_id", "string", "product of the work order"),
            Column("material_lot", "string", "material lot of the part"),
            Column(
                "characteristic",
                "string",
                "what was measured, with unit, e.g. bore_diameter_mm",
                nullable=False,
            ),
            Column("nominal", "double", "target value"),
            Column("lower_limit", "double", "lower specification limit"),
            Column("upper_limit", "double", "upper specification limit"),
            Column("measured", "double", "measured value", nullable=False),
            Column("passed", "boolean", "within limits by the inspector's verdict"),
            Column("inspected_at", "timestamp", "UTC", nullable=False),
            EVENT_DATE,
        ),
        primary_key=("inspection_id",),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="silver",
        name="products",
        build=master_data(),
        description="Products with their material (ERP).",
        grain="one product",
        columns=(
            Column("product_id", "string", "ERP product id", nullable=False),
            Column("name", "string", "product name"),
            Column("material_id", "string", "main material (bill of materials)"),
            Column("updated_at", "timestamp", "last change in the ERP (UTC)"),
        ),
        primary_key=("product_id",),
    ),
    TableSpec(
        layer="silver",
        name="routings",
        build=master_data(),
        description="Planned run time per unit of each product on each kind of equipment (ERP).",
        grain="one product × equipment kind",
        columns=(
            Column("product_id", "string", "ERP product id", nullable=False),
            Column("equipment_kind", "string", "equipment kind", nullable=False),
            Column("ideal_cycle_s", "double", "planned run time per unit (s)", nullable=False),
            Column("updated_at", "timestamp", "last change in the ERP (UTC)"),
        ),
        primary_key=("product_id", "equipment_kind"),
    ),
    TableSpec(
        layer="silver",
        name="shift_calendar",
        build=calendar(),
        description="Every planned shift of every site, in UTC and in the site's local time; a "
        "daylight-saving night lasts 7 or 9 hours.",
        grain="one shift of one site",
        columns=(
            Column("shift_id", "string", "<site>-<local date>-<shift name>", nullable=False),
            Column("site", "string", "ISA-95 site", nullable=False),
            Column("shift_name", "string", "early, late, night, …", nullable=False),
            Column(
                "local_date",
                "date",
                "the site's calendar date the shift belongs to",
                nullable=False,
            ),
            Column("timezone", "string", "IANA time zone of the site"),
            Column("start_time", "timestamp", "UTC", nullable=False),
            Column("end_time", "timestamp", "UTC", nullable=False),
            Column("local_start", "string", "local wall-clock start with UTC offset"),
            Column("local_end", "string", "local wall-clock end with UTC offset"),
            Column(
                "planned_s",
                "double",
                "end − start in seconds (planned operation time)",
                nullable=False,
            ),
            Column("break_start", "timestamp", "UTC"),
            Column("break_end", "timestamp", "UTC"),
            Column("maintenance_end", "timestamp", "end of planned maintenance (= start: none)"),
            Column("calendar_planned_downtime_s", "double", "break + maintenance in seconds"),
        ),
        primary_key=("shift_id",),
    ),
    TableSpec(
        layer="silver",
        name="planned_downtime",
        build=calendar("silver.shift_calendar"),
        description="Planned downtime of the calendar inside each shift: breaks and planned "
        "maintenance windows, from the plant model's site calendars and the MES shifts.",
        grain="one planned window of one shift (of one equipment, or of the whole site)",
        columns=(
            Column(
                "window_id",
                "string",
                "<shift id>/<kind>/<equipment id or *>/<UTC start>",
                nullable=False,
            ),
            Column("shift_id", "string", "the shift it falls in", nullable=False),
            Column("site", "string", "ISA-95 site", nullable=False),
            Column("equipment_id", "string", "the equipment it stops; null: every one of the site"),
            Column("kind", "string", "break or planned_maintenance", nullable=False),
            Column("name", "string", "lunch, coffee, press maintenance, …"),
            Column("start_time", "timestamp", "UTC", nullable=False),
            Column("end_time", "timestamp", "UTC", nullable=False),
            Column("duration_s", "double", "end − start in seconds", nullable=False),
            Column("source", "string", "plant_model or mes.shift_calendar", nullable=False),
        ),
        primary_key=("window_id",),
    ),
    TableSpec(
        layer="silver",
        name="ideal_cycle_times",
        build=master_data(PLANT_MODEL),
        description="Planned run time per unit that the plant model declares per equipment (and "
        "product); work orders and ERP routings take precedence where they give one.",
        grain="one equipment × product ('*': any product)",
        columns=(
            EQUIPMENT_ID,
            Column("product_id", "string", "product id, or * for every product", nullable=False),
            Column("ideal_cycle_s", "double", "planned run time per unit (s)", nullable=False),
        ),
        primary_key=("equipment_id", "product_id"),
    ),
    TableSpec(
        layer="silver",
        name="unmapped_addresses",
        build=READINGS_BUILD,
        description="Source values that the plant model maps to no equipment or tag, counted by "
        "address and reason: bronze values = silver readings + duplicates + these.",
        grain="one source address × reason × day",
        columns=(
            Column("event_date", "date", "UTC date of the values (the partition)", nullable=False),
            Column("source", "string", "uns, sparkplug or opcua", nullable=False),
            Column(
                "address",
                "string",
                "topic (#field for one of several payload fields), group/edge/device/metric, "
                "or nsu=…;node id @ browse path",
                nullable=False,
            ),
            Column("reason", "string", "why it maps to nothing", nullable=False),
            Column("value_count", "bigint", "values of that day (count)", nullable=False),
            Column("first_seen", "timestamp", "earliest source time (UTC)"),
            Column("last_seen", "timestamp", "latest source time (UTC)"),
            Column("example_value", "string", "the last value received, as text"),
            Column("last_ingested_at", "timestamp", "when the latest of them reached bronze"),
        ),
        primary_key=("event_date", "source", "address", "reason"),
        partition_by=("event_date",),
    ),
)
