"""Readings of every source (UNS JSON, Sparkplug B, OPC UA) as one narrow, typed, deduplicated series.

Each `*_readings` function maps one bronze table to the same long format (equipment_id, tag,
event_time, value_text, quality, source, unit_in, ingested_at); `conform_readings` types the
values with the tag metadata, converts units and keeps one row per (equipment, tag, event time).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns import conform

# When several sources deliver the same reading, keep the most precise: OPC UA sends the
# server's double, Sparkplug B a typed metric, the UNS JSON a rounded text.
SOURCE_PRIORITY = {"opcua": 1, "sparkplug": 2, "uns": 3}
TEXT_TYPES = ("String", "Enum")
# (from unit, to unit) -> conversion of a column
UNIT_CONVERSIONS = {
    ("degF", "degC"): lambda v: (v - 32) * 5 / 9,
    ("K", "degC"): lambda v: v - 273.15,
    ("psi", "bar"): lambda v: v * 0.0689476,
    ("kPa", "bar"): lambda v: v / 100,
    ("W", "kW"): lambda v: v / 1000,
    ("Wh", "kWh"): lambda v: v / 1000,
    ("MWh", "kWh"): lambda v: v * 1000,
    ("in/s", "mm/s"): lambda v: v * 25.4,
    ("N", "kN"): lambda v: v / 1000,
}
_LONG = (
    "equipment_id",
    "tag",
    "event_time",
    "value_text",
    "quality",
    "source",
    "unit_in",
    "ingested_at",
)


def uns_readings(mqtt_messages: DataFrame) -> DataFrame:
    """bronze.mqtt_messages → long readings. Topic `<enterprise>/…/<equipment>/<tag>` gives the key.

    >>> uns_readings(spark.table("bronze.mqtt_messages"))
    """
    parts = F.split("topic", "/")
    payload = F.col("payload").cast("string")
    ts = F.coalesce(
        F.col("source_timestamp"), F.to_timestamp(F.get_json_object(payload, "$.timestamp"))
    )
    out = mqtt_messages.where(F.size(parts) == 7).select(
        F.concat_ws(".", *[parts[i] for i in range(6)]).alias("equipment_id"),
        parts[6].alias("tag"),
        ts.alias("event_time"),
        F.get_json_object(payload, "$.value").alias("value_text"),
        F.lower(F.coalesce(F.get_json_object(payload, "$.quality"), F.lit("good"))).alias(
            "quality"
        ),
        F.lit("uns").alias("source"),
        F.get_json_object(payload, "$.unit").alias("unit_in"),
        F.col("ingested_at"),
    )
    return out.where(F.col("event_time").isNotNull())


def sparkplug_readings(sparkplug_messages: DataFrame, equipment: DataFrame) -> DataFrame:
    """bronze.sparkplug_messages → long readings.

    Group = site, edge node = `<area>-<line>`, device = equipment name; node metrics belong to
    the line's energy meter. Births and data both carry values; aliases were resolved at landing.
    """
    metric = (
        "struct<name:string,alias:bigint,timestamp:bigint,datatype:string,value:string,"
        "is_null:boolean>"
    )
    decoded = F.from_json(
        "decoded_json", f"struct<seq:bigint,timestamp:bigint,metrics:array<{metric}>>"
    )
    messages = sparkplug_messages.where(
        F.col("message_type").isin("NBIRTH", "DBIRTH", "NDATA", "DDATA")
    ).select(
        "group_id",
        "edge_node_id",
        "device_id",
        "ingested_at",
        decoded["timestamp"].alias("msg_ts"),
        F.explode(decoded["metrics"]).alias("m"),
    )
    current = equipment.where("is_current")
    devices = current.select(
        "equipment_id",
        F.col("site").alias("group_id"),
        F.concat_ws("-", "area", "line").alias("edge_node_id"),
        F.col("name").alias("device_id"),
    )
    meters = current.where("kind = 'energy_meter'").select(
        F.col("equipment_id").alias("meter_id"),
        F.col("site").alias("group_id"),
        F.concat_ws("-", "area", "line").alias("edge_node_id"),
    )
    joined = (
        messages.join(devices, ["group_id", "edge_node_id", "device_id"], "left")
        .join(meters, ["group_id", "edge_node_id"], "left")
        .select(
            F.when(F.col("device_id").isNull(), F.col("meter_id"))
            .otherwise(F.col("equipment_id"))
            .alias("equipment_id"),
            F.col("m.name").alias("tag"),
            F.timestamp_millis(F.coalesce("m.timestamp", "msg_ts")).alias("event_time"),
            F.when(F.col("m.is_null"), F.lit(None)).otherwise(F.col("m.value")).alias("value_text"),
            F.lit("good").alias("quality"),
            F.lit("sparkplug").alias("source"),
            F.lit(None).cast("string").alias("unit_in"),
            "ingested_at",
        )
    )
    control = F.col("tag").startswith("Node Control/") | (F.col("tag") == "bdSeq")
    return joined.where(F.col("equipment_id").isNotNull() & ~control)


def opcua_readings(opcua_values: DataFrame) -> DataFrame:
    """bronze.opcua_values → long readings. String node ids `<equipment id>.<tag>` give the key.

    Status codes map to quality by their severity bits: Good, Uncertain (0x4…), Bad (0x8…).
    """
    ident = F.regexp_extract("node_id", r"(?:^|;)s=(.+)$", 1)
    status = F.coalesce(F.col("status_code"), F.lit(0))
    quality = (
        F.when(status >= F.lit(0x80000000), "bad")
        .when(status >= F.lit(0x40000000), "uncertain")
        .otherwise("good")
    )
    out = opcua_values.select(
        F.regexp_extract(ident, r"^(.+)\.([^.]+)$", 1).alias("equipment_id"),
        F.regexp_extract(ident, r"^(.+)\.([^.]+)$", 2).alias("tag"),
        F.coalesce("source_timestamp", "server_timestamp", "received_at").alias("event_time"),
        F.when(quality == "bad", F.lit(None)).otherwise(F.col("value")).alias("value_text"),
        quality.alias("quality"),
        F.lit("opcua").alias("source"),
        F.lit(None).cast("string").alias("unit_in"),
        "ingested_at",
    )
    return out.where((F.col("equipment_id") != "") & F.col("event_time").isNotNull())


def _convert(value: Column, unit_in: Column, unit: Column) -> Column:
    expr = value
    for (a, b), fn in UNIT_CONVERSIONS.items():
        expr = F.when((unit_in == a) & (unit == b), fn(value)).otherwise(expr)
    return expr


def conform_readings(long: DataFrame, tags: DataFrame) -> DataFrame:
    """Long readings of any sources → silver.readings rows: typed, units normalised, deduplicated.

    Text tags (String/Enum) keep `value_str` only; numbers get `value` (booleans 1/0) and their
    text. A unit the source states is converted to the tag's unit when the conversion is known;
    otherwise the source's unit is kept, never silently relabelled. One row per (equipment, tag,
    event time): the most precise source, a good value before a bad one.

    >>> conform_readings(uns_readings(bronze).unionByName(opcua_readings(opc)), tags)
    """
    meta = tags.select(
        "equipment_id", "tag", "datatype", F.col("unit").alias("unit_tag"), "enum_values"
    )
    text = F.col("value_text")
    is_text = F.col("datatype").isin(*TEXT_TYPES)
    number = (
        F.when(F.lower(text) == "true", F.lit(1.0))
        .when(F.lower(text) == "false", F.lit(0.0))
        .otherwise(F.expr("try_cast(value_text AS double)"))
    )
    unit_in = F.coalesce("unit_in", "unit_tag")
    convertible = F.lit(False)
    for a, b in UNIT_CONVERSIONS:
        convertible = convertible | ((unit_in == a) & (F.col("unit_tag") == b))
    typed = long.join(meta, ["equipment_id", "tag"], "left").select(
        "equipment_id",
        "tag",
        "event_time",
        F.when(is_text, F.lit(None))
        .otherwise(_convert(number, unit_in, F.col("unit_tag")))
        .alias("value"),
        F.when(
            (F.col("datatype") == "Enum")
            & F.expr("try_cast(value_text AS int)").isNotNull()
            & (F.size("enum_values") > F.expr("try_cast(value_text AS int)")),
            # an OPC UA Enum arrives as its code: named as the UNS and Sparkplug sources name it
            F.element_at("enum_values", F.expr("try_cast(value_text AS int)") + 1),
        )
        .when(
            F.col("value_text").startswith('"'),
            F.expr("substr(value_text, 2, length(value_text) - 2)"),
        )
        .otherwise(text)
        .alias("value_str"),
        F.when(convertible, F.col("unit_tag")).otherwise(unit_in).alias("unit"),
        F.when(F.col("quality").isin("good", "uncertain", "bad"), F.col("quality"))
        .otherwise("uncertain")
        .alias("quality"),
        "source",
        "ingested_at",
        F.to_date("event_time").alias("event_date"),
    )
    priority = F.create_map(
        *[x for kv in SOURCE_PRIORITY.items() for x in (F.lit(kv[0]), F.lit(kv[1]))]
    )
    best = Window.partitionBy("equipment_id", "tag", "event_time").orderBy(
        F.when(F.col("quality") == "good", 0).when(F.col("quality") == "uncertain", 1).otherwise(2),
        priority[F.col("source")],
        F.col("ingested_at").asc(),
    )
    deduped = typed.withColumn("_rank", F.row_number().over(best)).where("_rank = 1")
    return conform(deduped, "silver.readings")


def long_readings(
    mqtt_messages: DataFrame | None,
    sparkplug_messages: DataFrame | None,
    opcua_values: DataFrame | None,
    equipment: DataFrame,
) -> DataFrame:
    """The union of every given bronze source in the long format."""
    frames = []
    if mqtt_messages is not None:
        frames.append(uns_readings(mqtt_messages))
    if sparkplug_messages is not None:
        frames.append(sparkplug_readings(sparkplug_messages, equipment))
    if opcua_values is not None:
        frames.append(opcua_readings(opcua_values))
    if not frames:
        raise ValueError("long_readings needs at least one bronze source")
    out = frames[0].select(*_LONG)
    for frame in frames[1:]:
        out = out.unionByName(frame.select(*_LONG))
    return out
