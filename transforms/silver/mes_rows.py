"""The current version of MES/ERP rows: bronze keeps every version as JSON, silver reads the latest."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.contracts.mes import SourceTable


def row_versions(mes_rows: DataFrame, table: SourceTable) -> DataFrame:
    """Every version of the rows of one source table, parsed with its columns, plus `_version_at`.

    >>> row_versions(bronze_mes_rows, mes_table("mes.work_orders"))
    """
    parsed = mes_rows.where(F.col("source_table") == table.name).select(
        F.from_json("row_json", table.schema).alias("r"),
        F.col("primary_key").alias("_key"),
        F.coalesce("updated_at", "received_at").alias("_version_at"),
        F.col("ingested_at").alias("_ingested_at"),
    )
    return parsed.select("r.*", "_key", "_version_at", "_ingested_at")


def current_rows(mes_rows: DataFrame, table: SourceTable) -> DataFrame:
    """One row per source key (the table's key columns, read from the parsed row): the version
    with the latest updated_at, then the latest load.

    Re-extracted identical versions collapse; a row updated twice keeps its last state. The key
    is read from the row itself, not from the key text, which differs between extractors.
    """
    versions = row_versions(mes_rows, table)
    latest = Window.partitionBy(*table.key).orderBy(
        F.col("_version_at").desc(), F.col("_ingested_at").desc()
    )
    return (
        versions.withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
        .drop("_rank", "_ingested_at")
    )
