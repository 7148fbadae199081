"""Master data to silver: equipment (slowly changing), tags, products, routings, shift calendar."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.contracts.mes import mes_table
from lakehouse.plant_model.roles import COUNTER_TAGS  # tags that count up (a drop is a reset)
from transforms.columns import conform
from transforms.silver.mes_rows import current_rows, row_versions


def equipment(
    mes_rows: DataFrame, seen: DataFrame | None = None, declared: DataFrame | None = None
) -> DataFrame:
    """silver.equipment: one row per version of each equipment of mes.equipment (SCD type 2).

    A version holds from its updated_at until the next version's. Equipment that appears in the
    data (`seen`: equipment_id, first_seen) but not in the MES gets a row of its own, its path
    read from the id, kind unknown, so readings are never orphaned. `declared` (the plant
    model's equipment, silver.equipment rows) adds the equipment the MES does not know.

    >>> equipment(bronze_mes_rows, seen=readings.groupBy("equipment_id").agg(F.min("event_time")))
    """
    versions = (
        row_versions(mes_rows, mes_table("mes.equipment"))
        .drop("_key", "_ingested_at")
        .dropDuplicates(["equipment_id", "_version_at"])
    )
    history = Window.partitionBy("equipment_id").orderBy("_version_at")
    # A re-sent row with nothing changed is not a new version.
    attributes = F.hash(
        *[F.col(c) for c, _ in mes_table("mes.equipment").columns if c != "updated_at"]
    )
    versions = (
        versions.withColumn("_attrs", attributes)
        .withColumn("_prev", F.lag("_attrs").over(history))
        .where(F.col("_prev").isNull() | (F.col("_prev") != F.col("_attrs")))
        .drop("_attrs", "_prev")
    )
    mes = versions.select(
        "*",
        F.col("_version_at").alias("valid_from"),
        F.lead("_version_at").over(history).alias("valid_to"),
        F.lit("mes.equipment").alias("source"),
    )
    mes = mes.withColumn("is_current", F.col("valid_to").isNull())
    if declared is not None:
        only_model = declared.join(
            mes.select("equipment_id").distinct(), "equipment_id", "left_anti"
        )
        mes = mes.unionByName(only_model, allowMissingColumns=True)
    if seen is not None:
        parts = F.split("equipment_id", r"\.")
        unknown = seen.join(mes.select("equipment_id").distinct(), "equipment_id", "left_anti")
        from_data = unknown.select(
            "equipment_id",
            parts[0].alias("enterprise"),
            parts[1].alias("site"),
            parts[2].alias("area"),
            parts[3].alias("line"),
            parts[4].alias("cell"),
            F.coalesce(parts[5], F.col("equipment_id")).alias("name"),
            F.lit(None).cast("string").alias("kind"),
            F.lit(None).cast("string").alias("timezone"),
            F.col("first_seen").alias("valid_from"),
            F.lit(None).cast("timestamp").alias("valid_to"),
            F.lit(True).alias("is_current"),
            F.lit("readings").alias("source"),
        )
        mes = mes.unionByName(from_data, allowMissingColumns=True)
    return conform(mes, "silver.equipment")


def tags(mes_rows: DataFrame) -> DataFrame:
    """silver.tags: each equipment's tags with datatype, unit and plausible range (MES)."""
    rows = current_rows(mes_rows, mes_table("mes.equipment_tags"))
    rows = rows.withColumn("is_counter", F.col("tag").isin(*COUNTER_TAGS)).withColumn(
        "enum_values", F.split("enum_values", ",")
    )
    return conform(rows, "silver.tags")


def products(mes_rows: DataFrame) -> DataFrame:
    """silver.products: ERP products with the material of their bill of materials."""
    bom = current_rows(mes_rows, mes_table("erp.bill_of_materials"))
    main_material = bom.groupBy("product_id").agg(
        F.max_by("material_id", "qty_per_unit").alias("material_id")
    )
    rows = current_rows(mes_rows, mes_table("erp.products"))
    return conform(rows.join(main_material, "product_id", "left"), "silver.products")


def routings(mes_rows: DataFrame) -> DataFrame:
    """silver.routings: planned run time per unit of product × equipment kind (ERP)."""
    return conform(
        current_rows(mes_rows, mes_table("erp.routings")),
        "silver.routings",
    )


def shift_calendar(
    mes_rows: DataFrame,
    equipment: DataFrame,
    model_shifts: DataFrame | None = None,
    model_windows: DataFrame | None = None,
) -> DataFrame:
    """silver.shift_calendar: MES shifts and the plant model's (`model_shifts`, with their
    planned windows `model_windows`), with the site's time zone and local wall-clock times.

    Start and end are instants (UTC); the local text shows the offset in force at each end, so a
    night across a daylight-saving change reads e.g. 22:00+01:00 → 06:00+02:00 (7 hours).
    """
    shifts = current_rows(mes_rows, mes_table("mes.shift_calendar"))
    if model_shifts is not None:
        # a site's calendar comes from the MES or from the model: a site the MES plans keeps
        # the MES's shifts only (two calendars of one site would overlap and count twice)
        extra = model_shifts.join(shifts.select("site").distinct(), "site", "left_anti")
        shifts = shifts.unionByName(extra, allowMissingColumns=True)
    zones = (
        equipment.where("is_current AND timezone IS NOT NULL")
        .groupBy("site")
        .agg(F.first("timezone").alias("timezone"))
    )

    def local(ts: str) -> F.Column:
        wall = F.from_utc_timestamp(F.col(ts), F.col("timezone"))
        offset_min = (F.unix_timestamp(wall) - F.unix_timestamp(F.col(ts))) / 60
        sign = F.when(offset_min >= 0, "+").otherwise("-")
        hh = F.lpad((F.abs(offset_min) / 60).cast("int").cast("string"), 2, "0")
        mm = F.lpad((F.abs(offset_min) % 60).cast("int").cast("string"), 2, "0")
        return F.concat(F.date_format(wall, "yyyy-MM-dd'T'HH:mm"), sign, hh, F.lit(":"), mm)

    seconds = lambda a, b: (F.unix_timestamp(b) - F.unix_timestamp(a)).cast("double")  # noqa: E731
    out = shifts.join(zones, "site", "left").select(
        "*",
        local("start_time").alias("local_start"),
        local("end_time").alias("local_end"),
        seconds("start_time", "end_time").alias("planned_s"),
        (
            F.coalesce(seconds("break_start", "break_end"), F.lit(0.0))
            + F.coalesce(seconds("start_time", "maintenance_end"), F.lit(0.0))
        ).alias("_mes_downtime_s"),
    )
    if model_windows is not None:
        site_wide = (
            model_windows.where(F.col("equipment_id").isNull())
            .groupBy("shift_id")
            .agg(F.sum("duration_s").alias("_model_downtime_s"))
        )
        out = out.join(site_wide, "shift_id", "left")
    else:
        out = out.withColumn("_model_downtime_s", F.lit(None).cast("double"))
    out = out.withColumn(
        "calendar_planned_downtime_s", F.coalesce("_model_downtime_s", "_mes_downtime_s")
    )
    return conform(out, "silver.shift_calendar")


def planned_downtime(
    shift_calendar: DataFrame, model_windows: DataFrame | None = None
) -> DataFrame:
    """silver.planned_downtime: the MES shifts' break and maintenance window, and the plant
    model's breaks and maintenance windows (`model_windows`), one row per window.

    >>> planned_downtime(spark.table("silver.shift_calendar"), model_windows)
    """
    mes = shift_calendar.where(F.col("local_start").isNotNull())
    breaks = mes.where(F.col("break_end") > F.col("break_start")).select(
        "shift_id",
        "site",
        F.lit(None).cast("string").alias("equipment_id"),
        F.lit("break").alias("kind"),
        F.lit("break").alias("name"),
        F.col("break_start").alias("start_time"),
        F.col("break_end").alias("end_time"),
    )
    maintenance = mes.where(F.col("maintenance_end") > F.col("start_time")).select(
        "shift_id",
        "site",
        F.lit(None).cast("string").alias("equipment_id"),
        F.lit("planned_maintenance").alias("kind"),
        F.lit("planned_maintenance").alias("name"),
        F.col("start_time"),
        F.col("maintenance_end").alias("end_time"),
    )
    out = breaks.unionByName(maintenance).select(
        "*",
        (F.unix_micros("end_time") - F.unix_micros("start_time")).cast("double").alias("_us"),
        F.lit("mes.shift_calendar").alias("source"),
    )
    out = out.withColumn("duration_s", F.col("_us") / 1e6)
    if model_windows is not None:
        # the model's windows of the model's shifts (those the calendar kept: no MES times)
        model_shifts = shift_calendar.where(
            F.col("break_start").isNull() & F.col("maintenance_end").isNull()
        ).select("shift_id")
        out = out.unionByName(
            model_windows.join(model_shifts, "shift_id", "left_semi"), allowMissingColumns=True
        )
    window_id = F.concat_ws(
        "/",
        "shift_id",
        "kind",
        F.coalesce("equipment_id", F.lit("*")),
        F.date_format("start_time", "yyyy-MM-dd'T'HH:mm:ss"),
    )
    return conform(out.withColumn("window_id", window_id), "silver.planned_downtime")
