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
        description="Sparkplug B messages (births, data, deaths) with their raw protobuf payload.",
        grain="one Sparkplug B message",
        columns=(
            _RECORD_ID,
            Column(
                "topic", "string", "spBv1.0/<group>/<type>/<edge node>[/<device>]", nullable=False
            ),
            Column(
                "message_type", "string", "NBIRTH, DBIRTH, NDATA, DDATA, NDEATH, DDEATH, NCMD, DCMD"
            ),
            Column("group_id", "string", "Sparkplug group id"),
            Column("edge_node_id", "string", "Sparkplug edge node id"),
            Column("device_id", "string", "Sparkplug device id (null for node messages)"),
            Column("seq", "bigint", "Sparkplug sequence number 0-255"),
            Column("payload", "binary", "raw protobuf payload bytes", nullable=False),
            Column(
                "decoded_json",
                "string",
                "payload decoded to JSON with aliases resolved from the births",
            ),
            Column("source_timestamp", "timestamp", "payload timestamp (UTC)"),
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
            Column("browse_path", "string", "browse path from the subscription root"),
            Column(
                "value",
                "string",
                "the value as the server sent it, rendered as text (JSON for arrays)",
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
