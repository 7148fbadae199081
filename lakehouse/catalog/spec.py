"""The shape of a table declaration: layer, name, columns with comments, key, partitioning,
and how the table is built: the function and the tables it reads."""

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


PLANT_MODEL = "plant_model"  # a build input that is the lake's plant model file, not a table


@dataclass(frozen=True)
class Read:
    """One input of a build: a catalog table (or `plant_model`) and which of its rows.

    A daily build reads the days it rebuilds, `before` days earlier and `after` days later;
    `whole` reads the whole table (a lookup: its changes alone do not rebuild any day).
    `tags` keeps those tags of silver.readings. `arg` passes the frame as that keyword
    argument instead of positionally, in declaration order.
    """

    table: str
    arg: str | None = None
    before: int = 0
    after: int = 0
    tags: tuple[str, ...] = ()
    whole: bool = False


@dataclass(frozen=True)
class Build:
    """How a table is built: `function` ("module:name") and the inputs it reads.

    The function is pure (frames in, a frame out) and takes `day_from`/`day_to` if it has
    them. One whose first parameter is `lake` reads for itself (an adapter in
    `orchestration.builders`); `writes_itself` ones also write and return what they wrote
    (incremental merges). Tables with the same function are one step: one asset builds them.
    `days=True`: only the event_date partitions whose inputs changed are rebuilt, with the day
    before each when `day_before` (intervals and shifts that cross midnight).
    """

    function: str
    reads: tuple[Read, ...] = ()
    days: bool = False
    day_before: bool = False
    writes_itself: bool = False

    def __post_init__(self) -> None:
        module, _, name = self.function.partition(":")
        if not module or not name.isidentifier():
            raise CatalogError(
                f"build function {self.function!r}: give it as 'package.module:function'"
            )

    @property
    def tables_read(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.table for r in self.reads if r.table != PLANT_MODEL))


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
    # How silver and gold tables are built (None: bronze, ops, and what the ML assets write).
    build: Build | None = None

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
        if self.build is not None and self.build.days and "event_date" not in self.partition_by:
            raise CatalogError(
                f"table {self.full_name}: a build by days needs partition_by=('event_date',)"
            )

    @property
    def full_name(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def schema(self) -> T.StructType:
        return T.StructType([c.field for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def mismatches(
        self, schema: T.StructType
    ) -> tuple[list[str], list[str], list[tuple[str, str, str]]]:
        """How `schema` differs from the declaration: (missing, unexpected, wrong types).

        Wrong types are (column, given, declared) as Spark type names. Types must match exactly;
        nullability and column order do not count.
        """
        declared = {f.name: f.dataType for f in self.schema.fields}
        given = {f.name: f.dataType for f in schema.fields}
        missing = [name for name in declared if name not in given]
        unexpected = [name for name in given if name not in declared]
        wrong = [
            (name, given[name].simpleString(), declared[name].simpleString())
            for name in declared
            if name in given and given[name].simpleString() != declared[name].simpleString()
        ]
        return missing, unexpected, wrong
