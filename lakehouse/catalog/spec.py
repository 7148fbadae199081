"""The shape of a table declaration: layer, name, columns with comments, key, partitioning."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import types as T

LAYERS = ("bronze", "silver", "gold", "ops")

_PRIMITIVES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "binary": T.BinaryType(),
    "boolean": T.BooleanType(),
    "int": T.IntegerType(),
    "bigint": T.LongType(),
    "double": T.DoubleType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
    "map<string,string>": T.MapType(T.StringType(), T.StringType()),
    "array<string>": T.ArrayType(T.StringType()),
}


class CatalogError(ValueError):
    """A table declaration is wrong, or a table name is not in the catalog."""


@dataclass(frozen=True)
class Column:
    """One column: name, Spark type (a DDL name such as `timestamp` or a DataType), meaning."""

    name: str
    type: str | T.DataType
    comment: str
    nullable: bool = True

    @property
    def data_type(self) -> T.DataType:
        if isinstance(self.type, T.DataType):
            return self.type
        try:
            return _PRIMITIVES[self.type]
        except KeyError:
            raise CatalogError(
                f"column {self.name!r}: unknown type {self.type!r}; use one of "
                f"{sorted(_PRIMITIVES)} or a pyspark DataType"
            ) from None

    @property
    def field(self) -> T.StructField:
        return T.StructField(self.name, self.data_type, self.nullable, {"comment": self.comment})


@dataclass(frozen=True)
class TableSpec:
    """A Delta table of the lake, declared once; everything else reads this declaration."""

    layer: str
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    grain: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    # SQL an analyst would run on the table (docs/tables.md shows them; tests run them).
    examples: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise CatalogError(f"table {self.name!r}: layer {self.layer!r} is not one of {LAYERS}")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise CatalogError(f"table {self.full_name}: duplicate column names in {names}")
        for role, cols in (("primary key", self.primary_key), ("partition", self.partition_by)):
            unknown = [c for c in cols if c not in names]
            if unknown:
                raise CatalogError(
                    f"table {self.full_name}: {role} column(s) {unknown} not declared"
                )
        for c in self.columns:
            c.data_type  # noqa: B018 - fail at declaration time on an unknown type

    @property
    def full_name(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def schema(self) -> T.StructType:
        return T.StructType([c.field for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]
