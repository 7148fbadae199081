"""Bronze: the sources' own words, append-only, one row per message or extracted row version."""

from __future__ import annotations

from lakehouse.catalog.spec import Column, TableSpec

# Every bronze row says where and when it came from, so any silver table can be rebuilt from it.
_LINEAGE = (
    Column("source", "string", "name of the source in the ingestion config", nullable=False),
    Column("received_at", "timestamp", "when the connector received it (UTC)", nullable=False),
    Column("ingested_at", "timestamp", "when the bronze loader committed it (UTC)", nullable=False),
    Column("landing_file", "string", "landing-zone file the row was loaded from"),
    Column("batch_id", "string", "connector batch that landed it"),
    Column("event_date", "date", "date of the source timestamp (UTC), else of received_at"),
)
_RECORD_ID = Column(
    "record_id",
    "string",
    "deterministic id of the message (hash of source, address and payload): replays dedupe on it",
    nullable=False,
)

TABLES = (
    TableSpec(
        layer="bronze",
        name="mqtt_messages",
        description="Unified-namespace MQTT messages (JSON payloads) as received from the broker.",
        grain="one MQTT message",
        columns=(
            _RECORD_ID,
            Column(
                "topic",
                "string",
                "MQTT topic, <enterprise>/<site>/<area>/<line>/<cell>/<equipment>/<tag>",
                nullable=False,
            ),
            Column("payload", "binary", "raw payload bytes, unparsed", nullable=False),
            Column("qos", "int", "MQTT QoS of the delivery"),
            Column(
                "source_timestamp", "timestamp", "timestamp the payload carries (UTC), if readable"
            ),
            *_LINEAGE,
        ),
        primary_key=("record_id",),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="bronze",
        name="sparkplug_messages",
        description="Sparkplug B messages (births, data, deaths, commands, host STATE) with their raw payload.",
        grain="one Sparkplug B message",
        columns=(
            _RECORD_ID,
            Column(
                "topic",
                "string",
                "spBv1.0/<group>/<type>/<edge node>[/<device>]; a host STATE: spBv1.0/STATE/<host id>, or STATE/<host id> as Sparkplug 2.x had it",
                nullable=False,
            ),
            Column(
                "message_type",
                "string",
                "NBIRTH, DBIRTH, NDATA, DDATA, NDEATH, DDEATH, NCMD, DCMD, or STATE (a host application online/offline)",
            ),
            Column("group_id", "string", "Sparkplug group id (null for STATE)"),
            Column(
                "edge_node_id",
                "string",
                "Sparkplug edge node id; for STATE the host application id",
            ),
            Column("device_id", "string", "Sparkplug device id (null for node messages)"),
            Column(
                "seq",
                "bigint",
                "Sparkplug sequence number 0-255 (null for NDEATH, commands, STATE)",
            ),
            Column(
                "payload",
                "binary",
                "raw payload bytes: a Sparkplug B protobuf; for STATE the host's JSON, or ONLINE/OFFLINE on a 2.x STATE topic",
                nullable=False,
            ),
            Column(
                "decoded_json",
                "string",
                "payload as strict JSON {seq, timestamp, metrics: [{name, alias, timestamp, datatype, "
                "value, is_null[, properties, metadata, is_historical, is_transient]}]}: aliases and "
                "missing datatypes resolved from the births; datatype as DOUBLE, INT8_ARRAY, …; "
                "integers signed as their datatype says; Float/Double NaN and infinities as the "
                "strings NaN, Infinity, -Infinity; DateTime as ISO-8601 UTC text; bytes as hex; "
                "arrays as JSON arrays; DataSet {columns, types, rows}; Template {template_ref, "
                "version, is_definition, parameters, metrics}, its instance members also as metrics "
                "named <metric>/<member>; STATE adds online (true/false)",
            ),
            Column(
                "source_timestamp", "timestamp", "payload timestamp (UTC; STATE: its timestamp)"
            ),
            *_LINEAGE,
        ),
        primary_key=("record_id",),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="bronze",
        name="opcua_values",
        description="OPC UA data-change notifications: one value of one node with its timestamps and status.",
        grain="one data change of one node",
        columns=(
            _RECORD_ID,
            Column("endpoint", "string", "OPC UA server endpoint URL", nullable=False),
            Column(
                "node_id", "string", "NodeId as a string, e.g. ns=2;s=acme.berlin…", nullable=False
            ),
            Column(
                "namespace_uri",
                "string",
                "URI of the node id's namespace (plant models name namespaces by URI, not index)",
            ),
            Column(
                "browse_path",
                "string",
                "browse names below the connector's root joined by '/', each escaped as in OPC UA "
                "Part 4 Annex A ('&' before / . < > : # ! &): Presse 7; Halle 2&/Nord/Zustand",
            ),
            Column(
                "value",
                "string",
                "the value as strict JSON: numbers, strings, booleans, null, arrays (matrices "
                'nested); NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity"; '
                "DateTime as ISO 8601 UTC text; ByteString as base64; NodeId as nsu=<uri>;…; "
                'LocalizedText as {"Text", "Locale"}; StatusCode as {"Code", "Symbol"}; a '
                "structure as an object of its fields, one the client cannot decode as "
                '{"TypeId", "Encoding", "Body" (base64)}',
            ),
            Column("variant_type", "string", "OPC UA variant type of the value (Double, Int64, …)"),
            Column("status_code", "bigint", "OPC UA status code (0 = Good)"),
            Column("status_name", "string", "symbolic status, e.g. Good, BadNoCommunication"),
            Column("source_timestamp", "timestamp", "SourceTimestamp (UTC)"),
            Column("server_timestamp", "timestamp", "ServerTimestamp (UTC)"),
            *_LINEAGE,
        ),
        primary_key=("record_id",),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="bronze",
        name="mes_rows",
        description="Row versions extracted from the MES/ERP database; silver picks the current one.",
        grain="one version of one source row",
        columns=(
            _RECORD_ID,
            Column("source_table", "string", "schema.table in the source database", nullable=False),
            Column("primary_key", "string", "the row's key as JSON", nullable=False),
            Column(
                "row_json",
                "string",
                "the whole row as JSON, as the database returned it",
                nullable=False,
            ),
            Column("updated_at", "timestamp", "the row's updated_at in the source (UTC)"),
            Column("extract_mode", "string", "incremental or full"),
            *_LINEAGE,
        ),
        primary_key=("record_id",),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="bronze",
        name="quarantine",
        description="Input that could not be accepted, with the reason; nothing is dropped silently.",
        grain="one rejected message or row",
        columns=(
            _RECORD_ID,
            Column("address", "string", "topic, node id or source table of the rejected input"),
            Column("raw", "binary", "the rejected bytes, unchanged"),
            Column(
                "reason_code",
                "string",
                "machine-readable reason, e.g. invalid_json, sequence_gap",
                nullable=False,
            ),
            Column("detail", "string", "what exactly was wrong, for a person"),
            *_LINEAGE,
        ),
        primary_key=("record_id",),
        partition_by=("event_date",),
    ),
)
