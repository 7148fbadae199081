"""Bronze values of any source → equipment and tags by the plant model's signal rules.

Every value of every bronze row (an MQTT message may carry several, a Sparkplug message many)
gets an address; the first rule of its source whose address template matches maps it to an
equipment (by id, or by attributes that pick exactly one) and a tag with a role. A value that
maps to nothing keeps its address and the reason, for `silver.unmapped_addresses`: nothing
disappears silently.

    >>> addressed = map_signals(compile_rules(model), equipment, mqtt=bronze_mqtt)
    >>> readings, unmapped = mapped_readings(addressed), unmapped_addresses(addressed)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.plant_model.roles import ROLES
from lakehouse.plant_model.schema import PlantModel, SignalRule, TagRole
from lakehouse.plant_model.templates import ANY, BROWSE_NAME, SEGMENT, Template, glob_regex
from transforms.columns import conform, utc_date

SEP = "\x1f"  # joins the parts of a Sparkplug address for matching (no name contains it)
# Sparkplug's own control metrics are not readings (some libraries file them under a folder),
# nor are template definitions (`_types_/<name>` in Ignition's births): only instances carry data
CONTROL_METRIC = r"^bdSeq$|(^|/)(Node|Device) Control/|^_types_/"
ADDRESSED = (
    "source",
    "address",
    "rule",
    "equipment_id",
    "tag",
    "event_time",
    "value_text",
    "quality",
    "unit_in",
    "unit",
    "is_text",
    "low",
    "high",
    "ingested_at",
    "reason",
)


@dataclass(frozen=True)
class CompiledRule:
    index: int
    rule: SignalRule
    address: str  # which address column the regex reads
    regex: str
    names: tuple[str, ...]
    roles: tuple[tuple[str, int], ...]  # (tag glob regex, index into CompiledRules.roles)


@dataclass(frozen=True)
class CompiledRules:
    rules: tuple[CompiledRule, ...]
    roles: tuple[TagRole, ...]

    def of(self, source: str) -> list[CompiledRule]:
        return [r for r in self.rules if r.rule.source == source]


def _sparkplug_regex(rule: SignalRule) -> tuple[str, tuple[str, ...]]:
    sp = rule.sparkplug
    assert sp is not None
    no_sep = f"[^{SEP}]+"
    parts = [sp.group, sp.edge_node, sp.device, sp.metric]
    regex = SEP.join(
        "" if t is None else t.regex(no_sep if t is not sp.metric else ANY)[1:-1] for t in parts
    )
    names = tuple(n for t in parts if t is not None for n in t.names)
    return f"^{regex}$", names


def compile_rules(model: PlantModel) -> CompiledRules:
    """The model's signal rules as regular expressions over each source's address."""
    rules, roles = [], []
    for i, rule in enumerate(model.signals):
        if rule.opcua is not None:
            template = rule.opcua.node or rule.opcua.browse_path
            assert template is not None
            column = "_node" if rule.opcua.node is not None else "_browse"
            regex = template.regex(ANY if column == "_node" else BROWSE_NAME)
            names = template.names
        elif rule.mqtt is not None:
            column, regex, names = "_topic", rule.mqtt.topic.regex(SEGMENT), rule.mqtt.topic.names
        else:
            column = "_spb"
            regex, names = _sparkplug_regex(rule)
        tag_roles = []
        for glob, spec in rule.tags.items():
            assert isinstance(spec, TagRole)
            tag_roles.append((glob_regex(glob), len(roles)))
            roles.append(spec)
        rules.append(CompiledRule(i, rule, column, regex, tuple(names), tuple(tag_roles)))
    return CompiledRules(tuple(rules), tuple(roles))


# -- addresses of each source ---------------------------------------------------------------
def _unquoted(text: Column) -> Column:
    """A JSON string's text without its quotes; other text unchanged."""
    return F.when(
        text.startswith('"') & text.endswith('"') & (F.length(text) >= 2),
        F.substring(text, F.lit(2), F.length(text) - 2),
    ).otherwise(text)


def _field(fields: Column, name: str) -> Column:
    """A top-level field of a payload parsed to a map: strings without their quotes, other
    values as their JSON text (as `get_json_object` gives them); null when absent."""
    return F.try_element_at(fields, F.lit(name))


def mqtt_values(mqtt_messages: DataFrame, rules: CompiledRules) -> DataFrame:
    """bronze.mqtt_messages → one row per value, with the rule whose topic matches."""
    compiled = rules.of("uns")
    # the payload is parsed once, to a map of its top-level fields (strings unquoted, other
    # values as JSON text); text that is not a JSON object gives null, never an error
    df = mqtt_messages.select(
        F.col("topic").alias("_topic"),
        F.from_json(
            F.col("payload").cast("string"),
            "map<string,string>",
            {"allowUnquotedControlChars": "true"},  # as get_json_object reads them
        ).alias("_fields"),
        "source_timestamp",
        "received_at",
        "ingested_at",
    )
    df = _matched(df, compiled, ("_topic",), per_address=True)
    # Per rule: the list of (field, value) it reads from the payload.
    value_sets = None
    for r in compiled:
        m = r.rule.mqtt
        assert m is not None
        if m.fields == "all":
            skip = ", ".join(
                "'" + f.replace("'", "''") + "'" for f in (m.timestamp, m.quality, m.unit) if f
            )
            keep = f"e -> NOT e.key IN ({skip})" if skip else "e -> true"
            # every other field of the object is a tag
            values = F.expr(
                f"transform(filter(map_entries(_fields), {keep}), "
                "e -> named_struct('field', e.key, 'v', e.value))"
            )
        else:
            values = F.array(
                F.struct(
                    F.lit(None).cast("string").alias("field"),
                    _field(F.col("_fields"), m.value).alias("v"),
                )  # type: ignore[arg-type]
            )
        value_sets = (F.when if value_sets is None else value_sets.when)(
            F.col("rule") == r.index, values
        )
    single = F.array(
        F.struct(F.lit(None).cast("string").alias("field"), F.lit(None).cast("string").alias("v"))
    )
    value_sets = single if value_sets is None else value_sets.otherwise(single)
    df = df.withColumn("_fv", F.explode_outer(value_sets))

    def per_rule(pick) -> Column:
        out = None
        for r in compiled:
            expr = pick(r.rule.mqtt)
            out = (F.when if out is None else out.when)(F.col("rule") == r.index, expr)
        return F.lit(None) if out is None else out

    def value_missing(m) -> Column:
        """The rule's value field is absent (a JSON null value is a value)."""
        if m.value is None:
            return F.lit(False)
        return ~F.map_contains_key("_fields", m.value)

    def ts(m) -> Column:
        if m.timestamp is None:
            return F.col("received_at")
        raw = _field(F.col("_fields"), m.timestamp)
        if m.timestamp_format == "epoch_ms":
            return F.timestamp_millis(raw.try_cast("bigint"))
        if m.timestamp_format == "epoch_s":
            return F.timestamp_micros((raw.try_cast("double") * 1e6).cast("bigint"))
        return F.coalesce(F.col("source_timestamp"), F.try_to_timestamp(raw))

    quality = per_rule(
        lambda m: F.lower(_field(F.col("_fields"), m.quality)) if m.quality else F.lit("good")
    )
    unit_in = per_rule(
        lambda m: _field(F.col("_fields"), m.unit) if m.unit else F.lit(None).cast("string")
    )
    return df.select(
        *_group_columns(df),
        F.lit("uns").alias("source"),
        F.when(F.col("_fv.field").isNotNull(), F.concat_ws("#", "_topic", "_fv.field"))
        .otherwise(F.col("_topic"))
        .alias("address"),
        "rule",
        "_topic",
        F.col("_fv.field").alias("_field"),
        # a topic no rule maps is still dated, so that it is counted in its own day
        F.coalesce(
            per_rule(ts),
            F.when(F.col("rule").isNull(), F.coalesce("source_timestamp", "received_at")),
        )
        .cast("timestamp")
        .alias("event_time"),
        F.col("_fv.v").alias("value_text"),
        F.coalesce(per_rule(value_missing), F.lit(False)).alias("_no_value_field"),
        F.coalesce(quality, F.lit("good")).alias("quality"),
        unit_in.cast("string").alias("unit_in"),
        "ingested_at",
    )


def sparkplug_values(sparkplug_messages: DataFrame, rules: CompiledRules) -> DataFrame:
    """bronze.sparkplug_messages → one row per metric value of births and data (control
    metrics such as bdSeq and Node Control/… are not readings and are left out)."""
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
    messages = messages.where(~F.coalesce(F.col("m.name"), F.lit("")).rlike(CONTROL_METRIC))
    spb = F.concat_ws(
        SEP,
        "group_id",
        "edge_node_id",
        F.coalesce("device_id", F.lit("")),
        F.coalesce("m.name", F.lit("")),
    )
    df = messages.select(
        F.lit("sparkplug").alias("source"),
        F.concat_ws(
            "/", "group_id", "edge_node_id", F.coalesce("device_id", F.lit("-")), "m.name"
        ).alias("address"),
        spb.alias("_spb"),
        F.timestamp_millis(F.coalesce("m.timestamp", "msg_ts")).alias("event_time"),
        F.when(F.col("m.is_null"), F.lit(None)).otherwise(F.col("m.value")).alias("value_text"),
        F.lit("good").alias("quality"),
        F.lit(None).cast("string").alias("unit_in"),
        "ingested_at",
        F.lit(False).alias("_no_value_field"),
    )
    # metric addresses are matched row by row: listing them apart would decode every message twice
    return _matched(df, rules.of("sparkplug"), ("_spb",), per_address=False)


def opcua_values(opcua: DataFrame, rules: CompiledRules) -> DataFrame:
    """bronze.opcua_values → one row per value. Node ids are matched with their namespace by
    URI (`nsu=…;s=…`); status codes map to quality by their severity bits.

    The bronze value is JSON text; the value text handed on is a JSON string in quotes (a text
    with its escapes resolved) or the JSON itself. A Float/Double "NaN", "Infinity" or
    "-Infinity" is handed on unquoted, so it is cast to the double NaN / ±Infinity; a
    LocalizedText ({"Text", "Locale"}) as its text.

        value (variant_type)                              value_text
        21.5 (Double)                                     21.5
        "NaN" (Double)                                    NaN
        "Presse \\"7\\"" (String)                         "Presse "7""
        {"Text":"läuft","Locale":"de"} (LocalizedText)    "läuft"
    """
    value, variant = F.col("value"), F.col("variant_type")

    def quoted(text: Column) -> Column:
        return F.concat(F.lit('"'), text, F.lit('"'))

    text = (
        F.when(
            variant.isin("Float", "Double") & value.isin('"NaN"', '"Infinity"', '"-Infinity"'),
            _unquoted(value),
        )
        .when(
            (variant == "LocalizedText") & value.startswith("{"),
            quoted(F.get_json_object(value, "$.Text")),
        )
        .when((variant == "String") & value.startswith('"'), quoted(F.get_json_object(value, "$")))
        .otherwise(value)
    )
    ident = F.regexp_replace("node_id", r"^ns=\d+;", "")
    node = F.when(
        F.col("namespace_uri").isNotNull() & F.col("node_id").rlike(r"^ns=\d+;"),
        F.concat(F.lit("nsu="), F.col("namespace_uri"), F.lit(";"), ident),
    ).otherwise(F.col("node_id"))
    status = F.coalesce(F.col("status_code"), F.lit(0))
    quality = (
        F.when(status >= F.lit(0x80000000), "bad")
        .when(status >= F.lit(0x40000000), "uncertain")
        .otherwise("good")
    )
    df = opcua.select(
        F.lit("opcua").alias("source"),
        node.alias("_node"),
        F.coalesce("browse_path", F.lit("")).alias("_browse"),
        "endpoint",
        F.coalesce("source_timestamp", "server_timestamp", "received_at").alias("event_time"),
        F.when(quality == "bad", F.lit(None)).otherwise(text).alias("value_text"),
        quality.alias("quality"),
        F.lit(None).cast("string").alias("unit_in"),
        "ingested_at",
    )
    df = df.withColumn("address", F.concat_ws(" @ ", "_node", "_browse")).withColumn(
        "_no_value_field", F.lit(False)
    )
    return _matched(df, rules.of("opcua"), ("_node", "_browse", "endpoint"), per_address=True)


def _group_column(name: str) -> str:
    """The column holding what a rule's regex captured for the placeholder `{name}` (hex:
    Spark's column names ignore case, placeholders do not)."""
    return f"_g_{name.encode().hex()}"


def _group_columns(df: DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("_g_")]


def _matched(
    df: DataFrame, compiled: list[CompiledRule], address: tuple[str, ...], *, per_address: bool
) -> DataFrame:
    """`df` with `rule` (the index of the first rule whose address regex matches, else null)
    and a `_group_column(name)` column per placeholder of the rules: what the matching rule's
    regex captured from the address.

    `per_address`: the regexes run once per distinct address (the `address` columns) and the
    result is joined back; a source has thousands of addresses and millions of values.
    """
    names = sorted({n for r in compiled for n in r.names})

    def with_groups(frame: DataFrame) -> DataFrame:
        frame = frame.withColumn("rule", _rule_index(compiled))
        for name in names:
            picked = None
            for r in compiled:
                if name in r.names:
                    part = F.regexp_extract(F.col(r.address), r.regex, r.names.index(name) + 1)
                    picked = (F.when if picked is None else picked.when)(
                        F.col("rule") == r.index, part
                    )
            frame = frame.withColumn(_group_column(name), picked)
        return frame

    if not per_address or not compiled:
        return with_groups(df)
    keys = with_groups(df.select(*address).distinct()).select(
        *[F.col(c).alias(f"_key_{c}") for c in address], "rule", *map(_group_column, names)
    )
    on = reduce(Column.__and__, [F.col(c).eqNullSafe(F.col(f"_key_{c}")) for c in address])
    return df.join(F.broadcast(keys), on, "left").drop(*[f"_key_{c}" for c in address])


def _rule_index(compiled: list[CompiledRule]) -> Column:
    """The index of the first rule whose address regex matches, else null."""
    out = None
    for r in compiled:
        cond = F.col(r.address).rlike(r.regex)
        op = r.rule.opcua
        if op is not None and op.endpoint:
            cond = cond & (F.col("endpoint") == op.endpoint)
        out = (F.when if out is None else out.when)(cond, F.lit(r.index))
    return (F.lit(None) if out is None else out).cast("int")


# -- equipment, tag and role ----------------------------------------------------------------
def _render(template: Template, r: CompiledRule) -> Column:
    parts = []
    for kind, v in template.pieces():
        if kind == "text":
            parts.append(F.lit(v))
        elif v == "field":
            parts.append(F.col("_field"))
        else:
            parts.append(F.col(_group_column(v)))
    return F.concat(*parts) if parts else F.lit("")


def _value_key(text: Column) -> Column:
    """A value as value maps key it (the same rule as the model's: see schema.value_key)."""
    t = F.trim(text)
    return (
        F.when(F.lower(t).isin("true", "false"), F.lower(t))
        .when(t.rlike(r"^-?\d+\.0+$"), F.regexp_extract(t, r"^(-?\d+)", 1))
        .otherwise(t)
    )


def _resolve(
    df: DataFrame, compiled: list[CompiledRule], rules: CompiledRules, equipment: DataFrame
) -> DataFrame:
    key_sets: list[tuple[str, ...]] = []
    for r in compiled:
        keys = tuple(sorted(r.rule.selector()))
        if keys not in key_sets:
            key_sets.append(keys)
    by_rule = lambda pick: reduce(  # noqa: E731
        lambda acc, r: (F.when if acc is None else acc.when)(F.col("rule") == r.index, pick(r)),
        compiled,
        None,
    )
    if not compiled:
        df = df.withColumn("_tag_src", F.lit(None).cast("string")).withColumn(
            "_kset", F.lit(None).cast("int")
        )
    else:
        df = df.withColumn("_tag_src", by_rule(lambda r: _render(r.rule.tag_template(), r)))
        df = df.withColumn(
            "_kset", by_rule(lambda r: F.lit(key_sets.index(tuple(sorted(r.rule.selector())))))
        )
    all_keys = sorted({k for ks in key_sets for k in ks})
    for k in all_keys:
        expr = by_rule(
            lambda r, k=k: (
                _render(r.rule.selector()[k], r) if k in r.rule.selector() else F.lit(None)
            )
        )
        df = df.withColumn(f"_sel_{k}", F.lit(None).cast("string") if expr is None else expr)
    current = equipment.where("is_current")
    found, counts = [], []
    for i, keys in enumerate(key_sets):
        lookup = current.groupBy(*keys).agg(
            F.min("equipment_id").alias(f"_eq{i}"), F.count("*").alias(f"_n{i}")
        )
        lookup = lookup.select(
            F.lit(i).alias(f"_k{i}"),
            *[F.col(k).alias(f"_l{i}_{k}") for k in keys],
            f"_eq{i}",
            f"_n{i}",
        )
        cond = F.col("_kset") == F.col(f"_k{i}")
        for k in keys:
            cond = cond & (F.col(f"_sel_{k}") == F.col(f"_l{i}_{k}"))
        df = df.join(F.broadcast(lookup), cond, "left")
        found.append(F.col(f"_eq{i}"))
        counts.append(F.col(f"_n{i}"))
    eq = F.coalesce(*found) if found else F.lit(None).cast("string")
    n = F.coalesce(*counts, F.lit(0)) if counts else F.lit(0)
    # the role of the tag: the first name or glob of the rule that matches the tag name; the
    # names before the first glob are one map lookup (a rule may name hundreds of tags)
    role_idx = None
    for r in compiled:
        names = list(r.rule.tags)
        lead = 0
        while lead < len(names) and not any(c in names[lead] for c in "*?"):
            lead += 1
        found = None
        if lead:
            exact = F.create_map(
                *[x for k in range(lead) for x in (F.lit(names[k]), F.lit(r.roles[k][1]))]
            )
            found = exact[F.col("_tag_src")]
        chain = None
        for glob, j in r.roles[lead:]:
            chain = (F.when if chain is None else chain.when)(
                F.col("_tag_src").rlike(glob), F.lit(j)
            )
        expr = (
            F.coalesce(*[e for e in (found, chain) if e is not None])
            if (found is not None or chain is not None)
            else F.lit(None)
        )
        role_idx = (F.when if role_idx is None else role_idx.when)(F.col("rule") == r.index, expr)
    df = df.withColumn("_role", (F.lit(None) if role_idx is None else role_idx).cast("int"))
    df = df.withColumn("_eq", eq).withColumn("_n", n)

    # Every role spec's attributes in one array literal, looked up by index: one expression
    # instead of a CASE per attribute (Spark's generated code stays small for many tags).
    specs = F.array(
        *[
            F.struct(
                F.lit(ROLES[s.role].silver_tag or s.name).cast("string").alias("tag"),
                # an analog's text-ness is left to the MES tag list (null), the others fix it
                F.lit(None if s.role == "analog" else ROLES[s.role].text)
                .cast("boolean")
                .alias("is_text"),
                F.lit(s.unit or ROLES[s.role].unit).cast("string").alias("unit"),
                F.lit(s.source_unit).cast("string").alias("source_unit"),
                F.lit(s.role == "state").alias("is_state"),
                F.lit(s.low).cast("double").alias("low"),
                F.lit(s.high).cast("double").alias("high"),
            )
            for s in rules.roles
        ]
        or [
            F.lit(None).cast(
                "struct<tag:string,is_text:boolean,unit:string,source_unit:string,is_state:boolean,low:double,high:double>"
            )
        ]
    )
    # Intermediate values are named columns, each computed once: written inline they would be
    # copied into every expression that uses them, and a generated method too large for the
    # JVM to compile (8 KB of bytecode) runs interpreted, several times slower.
    df = df.withColumn("_spec", F.when(F.col("_role").isNotNull(), specs[F.col("_role")]))
    spec = F.col("_spec")
    silver_tag = spec["tag"]
    is_text = spec["is_text"]
    unit = spec["unit"]
    source_unit = spec["source_unit"]
    df = df.withColumn("_is_state", F.coalesce(spec["is_state"], F.lit(False)))
    is_state = F.col("_is_state")
    df = df.withColumn("_plain", _unquoted(F.col("value_text")))
    plain = F.col("_plain")
    state_maps = {
        j: F.create_map(*[F.lit(x) for kv in r.value_map().items() for x in kv])
        for j, r in enumerate(rules.roles)
        if r.role == "state"
    }
    mapped_state = plain
    if state_maps:
        # state role index -> its value map, as one map of maps
        maps = F.create_map(*[x for j, m in state_maps.items() for x in (F.lit(j), m)])
        df = df.withColumn("_key", F.when(is_state, _value_key(plain)))
        mapped_state = F.when(is_state, maps[F.col("_role")][F.col("_key")]).otherwise(plain)
    # an empty state (a Sparkplug birth before the first value) is no value, not a new name
    df = df.withColumn("_blank", F.coalesce(F.trim(plain), F.lit("")) == "")
    blank = F.col("_blank")
    df = df.withColumn("_value", F.when(blank, F.lit(None)).otherwise(mapped_state))
    value = F.col("_value")
    rule_label = by_rule(lambda r: F.lit(r.rule.label)) if compiled else F.lit(None)
    reason = (
        F.when(F.col("rule").isNull(), F.lit("no signal rule matches the address"))
        .when(F.col("event_time").isNull(), F.lit("no readable timestamp"))
        .when(
            F.col("_no_value_field"),
            F.concat(F.lit("the payload has no value field of rule '"), rule_label, F.lit("'")),
        )
        .when(F.col("_tag_src").isNull(), F.lit("the message carries no tag field"))
        .when(
            F.col("_role").isNull(),
            F.concat(
                F.lit("rule '"),
                rule_label,
                F.lit("' declares no tag matching '"),
                F.col("_tag_src"),
                F.lit("'"),
            ),
        )
        .when(
            F.col("_n") == 0,
            F.concat(
                F.lit("no equipment of the plant model or MES matches rule '"),
                rule_label,
                F.lit("'"),
            ),
        )
        .when(
            F.col("_n") > 1,
            F.concat(
                F.lit("rule '"),
                rule_label,
                F.lit("' matches "),
                F.col("_n").cast("string"),
                F.lit(" equipment"),
            ),
        )
        .when(
            is_state & ~blank & value.isNull(),
            F.concat(
                F.lit("state value '"),
                plain,
                F.lit("' is not in the value map of rule '"),
                rule_label,
                F.lit("'"),
            ),
        )
    )
    return df.select(
        "source",
        "address",
        "rule",
        F.col("_eq").alias("equipment_id"),
        F.coalesce(silver_tag, F.col("_tag_src")).cast("string").alias("tag"),
        "event_time",
        F.when(is_state, value).otherwise(F.col("value_text")).cast("string").alias("value_text"),
        "quality",
        F.coalesce(F.col("unit_in"), source_unit).cast("string").alias("unit_in"),
        unit.cast("string").alias("unit"),
        is_text.cast("boolean").alias("is_text"),
        spec["low"].alias("low"),
        spec["high"].alias("high"),
        "ingested_at",
        reason.alias("reason"),
    )


def map_signals(
    rules: CompiledRules,
    equipment: DataFrame,
    *,
    mqtt: DataFrame | None = None,
    sparkplug: DataFrame | None = None,
    opcua: DataFrame | None = None,
) -> DataFrame:
    """Every value of the given bronze tables with its equipment, tag and role, or the reason
    it maps to nothing (`reason` not null). Columns: ADDRESSED.

    `equipment` is silver.equipment (the model's and the MES's equipment).
    """
    frames = []
    for source, df, values in (
        ("uns", mqtt, mqtt_values),
        ("sparkplug", sparkplug, sparkplug_values),
        ("opcua", opcua, opcua_values),
    ):
        if df is not None:
            frames.append(
                _resolve(values(df, rules), rules.of(source), rules, equipment).select(*ADDRESSED)
            )
    if not frames:
        raise ValueError("map_signals needs at least one bronze source")
    return reduce(DataFrame.unionByName, frames)


def mapped_readings(addressed: DataFrame) -> DataFrame:
    """The values that map to an equipment and tag, in the long format of conform_readings."""
    return addressed.where(F.col("reason").isNull()).drop("reason", "address", "rule")


def unmapped_addresses(addressed: DataFrame) -> DataFrame:
    """silver.unmapped_addresses rows: per day, source, address and reason, how many values."""
    rows = addressed.where(F.col("reason").isNotNull()).withColumn(
        "event_date", F.coalesce(utc_date(F.col("event_time")), utc_date(F.col("ingested_at")))
    )
    out = rows.groupBy("event_date", "source", "address", "reason").agg(
        F.count("*").alias("value_count"),
        F.min("event_time").alias("first_seen"),
        F.max("event_time").alias("last_seen"),
        F.max_by("value_text", "ingested_at").alias("example_value"),
        F.max("ingested_at").alias("last_ingested_at"),
    )
    return conform(out, "silver.unmapped_addresses")
