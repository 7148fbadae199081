"""OPC UA connector: browse, subscribe, and land every data change with its timestamps and status.

Works against any compliant server (asyncua client). The connection is supervised by asyncua's
auto-reconnect with exponential backoff, which re-creates the subscriptions after a server
restart; the outage itself is landed as one bad-quality record per monitored node, so a gap in
the data is visible in bronze rather than silent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from asyncua import Client, Node, ua
from asyncua.crypto import security_policies
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import BaseModel, Field

from ingestion.landing import LandingRecord, LandingZone

log = logging.getLogger(__name__)

GAP_STATUS = ua.StatusCodes.BadNoCommunication


class OpcUaSourceConfig(BaseModel):
    """One OPC UA server to ingest from (an entry of the ingestion YAML)."""

    name: str = Field(description="source name, used in bronze and the landing zone")
    endpoint: str = Field(description="opc.tcp://host:port/path")
    root: list[str] = Field(
        default_factory=lambda: ["0:Objects"],
        description="browse path of the node to browse from, e.g. ['0:Objects', '2:acme']",
    )
    include: list[str] = Field(
        default_factory=lambda: ["*"], description="glob patterns on the browse path"
    )
    exclude: list[str] = Field(default_factory=list, description="glob patterns on the browse path")
    nodes: list[str] = Field(
        default_factory=list, description="explicit NodeIds instead of browsing"
    )
    sampling_interval_ms: float = 1000.0
    publishing_interval_ms: float = 1000.0
    queue_size: int = 10
    deadband_abs: float | None = Field(None, description="absolute deadband on numeric values")
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the password")
    certificate_dir: Path | None = Field(
        None, description="client certificate folder (generated if empty)"
    )
    flush_interval_s: float = 0.5
    reconnect_max_delay_s: float = 10.0


@dataclass(frozen=True)
class MonitoredVariable:
    node: Node
    node_id: str
    browse_path: str


def value_text(value: Any) -> str:
    """The value as text for bronze: JSON for numbers, strings, booleans, arrays and null."""

    def encode(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(UTC).isoformat() if v.tzinfo else v.isoformat() + "Z"
        if isinstance(v, bytes):
            return base64.b64encode(v).decode()
        if isinstance(v, Enum):
            return v.value
        if isinstance(v, list | tuple):
            return [encode(x) for x in v]
        if hasattr(v, "Text") and hasattr(v, "Locale"):  # LocalizedText
            return v.Text
        if isinstance(v, ua.NodeId | ua.QualifiedName):
            return v.to_string()
        if v is None or isinstance(v, bool | int | float | str):
            return v
        return str(v)

    return json.dumps(encode(value), allow_nan=True)


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _status_name(code: int) -> str:
    try:
        return ua.StatusCode(code).name
    except Exception:  # an unknown code from a foreign server still lands, by number
        return f"0x{code:08X}"


def _matches(path: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in include) and not any(
        fnmatch.fnmatchcase(path, p) for p in exclude
    )


async def browse_variables(
    root: Node, include: list[str], exclude: list[str], *, concurrency: int = 32
) -> list[MonitoredVariable]:
    """Every Variable below `root` whose browse path (`a/b/c`, names without namespace) matches.

    One Browse call per node (its references carry browse name, node class and type definition),
    issued level by level with up to `concurrency` requests in flight: an address space of a few
    thousand nodes is browsed in about a second rather than one round trip per attribute.
    """
    client_server = root.session
    found: list[MonitoredVariable] = []
    seen: set[str] = {root.nodeid.to_string()}
    gate = asyncio.Semaphore(concurrency)
    property_type = ua.NodeId(ua.ObjectIds.PropertyType)

    async def children(node: Node) -> list[ua.ReferenceDescription]:
        async with gate:
            return await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)

    level: list[tuple[Node, str]] = [(root, "")]
    while level:
        results = await asyncio.gather(*(children(node) for node, _ in level))
        following: list[tuple[Node, str]] = []
        for (_, path), refs in zip(level, results, strict=True):
            for ref in refs:
                plain = ua.NodeId(
                    ref.NodeId.Identifier, ref.NodeId.NamespaceIndex, ref.NodeId.NodeIdType
                )
                node_id = plain.to_string()
                if node_id in seen:
                    continue
                seen.add(node_id)
                child = Node(client_server, plain)
                child_path = f"{path}/{ref.BrowseName.Name}" if path else ref.BrowseName.Name
                if ref.NodeClass == ua.NodeClass.Variable:
                    # Properties (EngineeringUnits, EURange, …) describe a variable; they are not data.
                    if ref.TypeDefinition == property_type:
                        continue
                    if _matches(child_path, include, exclude):
                        found.append(MonitoredVariable(child, node_id, child_path))
                if ref.NodeClass in (ua.NodeClass.Object, ua.NodeClass.Variable):
                    following.append((child, child_path))
        level = following
    found.sort(key=lambda v: v.browse_path)
    return found


@dataclass
class ConnectorStats:
    """Counts for `plantlake ingest status` and the tests' reconciliation."""

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    received: int = 0
    landed: int = 0
    gaps: int = 0
    batches: int = 0
    reconnects: int = 0
    last_message_at: datetime | None = None
    monitored: int = 0
    subscribed: int = 0
    errors: list[str] = field(default_factory=list)


class OpcUaConnector:
    """Subscribes to one server and lands its data changes until `stop` is set."""

    def __init__(self, config: OpcUaSourceConfig, zone: LandingZone):
        self.config = config
        self.zone = zone
        self.stats = ConnectorStats()
        self._buffer: list[LandingRecord] = []
        self._variables: dict[str, MonitoredVariable] = {}
        self._client: Client | None = None
        self._namespaces: list[str] = []

    # -- records -------------------------------------------------------------------------------
    def record(
        self,
        variable: MonitoredVariable,
        value: Any,
        status_code: int,
        source_ts: datetime | None,
        server_ts: datetime | None,
        received_at: datetime,
        variant_type: str,
    ) -> LandingRecord:
        text = value_text(value)
        identity = "\0".join(
            [
                self.config.endpoint,
                variable.node_id,
                source_ts.isoformat() if source_ts else "",
                server_ts.isoformat() if source_ts is None and server_ts else "",
                str(status_code),
                text,
            ]
        )
        attributes = {
            "endpoint": self.config.endpoint,
            "browse_path": variable.browse_path,
            "namespace_uri": self._namespace_uri(variable.node_id),
            "variant_type": variant_type,
            "status_code": str(status_code),
            "status_name": _status_name(status_code),
        }
        if server_ts is not None:
            attributes["server_timestamp"] = server_ts.isoformat()
        return LandingRecord(
            kind="opcua",
            source=self.config.name,
            address=variable.node_id,
            payload=text.encode(),
            received_at=received_at,
            source_timestamp=source_ts,
            attributes=attributes,
            record_id=hashlib.sha256(identity.encode()).hexdigest(),
        )

    def _namespace_uri(self, node_id: str) -> str:
        """The URI of a node id's namespace: plant models name namespaces by URI, since a
        server may number them differently after a restart or an upgrade."""
        index = ua.NodeId.from_string(node_id).NamespaceIndex
        return self._namespaces[index] if index < len(self._namespaces) else ""

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        """asyncua subscription callback: one data change."""
        now = datetime.now(UTC)
        variable = self._variables.get(node.nodeid.to_string())
        if variable is None:
            return
        dv: ua.DataValue = data.monitored_item.Value
        status = dv.StatusCode.value if dv.StatusCode is not None else 0
        variant_type = dv.Value.VariantType.name if dv.Value is not None else "Null"
        self._buffer.append(
            self.record(
                variable,
                val,
                status,
                _utc(dv.SourceTimestamp),
                _utc(dv.ServerTimestamp),
                now,
                variant_type,
            )
        )
        self.stats.received += 1
        self.stats.last_message_at = now

    def status_change_notification(self, status: Any) -> None:
        log.warning("%s: subscription status change %s", self.config.name, status)

    async def _on_connection_lost(self, exc: Exception) -> None:
        """Land the outage as a bad-quality value per node: a gap is data, not silence."""
        now = datetime.now(UTC)
        log.warning("%s: connection lost (%r); reconnecting", self.config.name, exc)
        self.stats.reconnects += 1
        for variable in self._variables.values():
            self._buffer.append(self.record(variable, None, GAP_STATUS, now, None, now, "Null"))
            self.stats.gaps += 1

    # -- running -------------------------------------------------------------------------------
    async def _secure(self, client: Client) -> None:
        cfg = self.config
        if cfg.username:
            client.set_user(cfg.username)
            password = os.environ.get(cfg.password_env or "", "")
            if cfg.password_env and not password:
                raise ValueError(
                    f"source {cfg.name!r}: environment variable {cfg.password_env} (password_env) is not set"
                )
            client.set_password(password)
        if cfg.security_policy == "None":
            return
        cert_dir = cfg.certificate_dir or (self.zone.root / "_pki" / cfg.name)
        cert_dir.mkdir(parents=True, exist_ok=True)
        key, cert = cert_dir / "client-key.pem", cert_dir / "client-cert.der"
        app_uri = f"urn:plantlake:ingest:{cfg.name}"
        await setup_self_signed_certificate(
            key,
            cert,
            app_uri,
            "localhost",
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": f"plantlake {cfg.name}"},
        )
        client.application_uri = app_uri
        mode = getattr(ua.MessageSecurityMode, cfg.security_mode)
        await client.set_security(
            security_policies.SecurityPolicyBasic256Sha256, str(cert), str(key), mode=mode
        )

    async def _resolve_variables(self, client: Client) -> list[MonitoredVariable]:
        cfg = self.config
        if cfg.nodes:
            out = []
            for node_id in cfg.nodes:
                node = client.get_node(node_id)
                out.append(
                    MonitoredVariable(
                        node, node.nodeid.to_string(), (await node.read_browse_name()).Name
                    )
                )
            return out
        root = (
            client.nodes.root
            if cfg.root == ["0:Root"]
            else await client.nodes.root.get_child(cfg.root)
        )
        return await browse_variables(root, cfg.include, cfg.exclude)

    async def _flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        path = await asyncio.to_thread(self.zone.write_batch, self.config.name, batch)
        if path is not None:
            self.stats.landed += len(batch)
            self.stats.batches += 1

    async def run(self, stop: asyncio.Event) -> ConnectorStats:
        """Connect, subscribe and land until `stop` is set; flushes what is buffered on the way out."""
        cfg = self.config
        client = Client(cfg.endpoint, timeout=10)
        self._client = client
        await self._secure(client)
        client.connection_lost_callback = self._on_connection_lost
        await client.connect(auto_reconnect=True, reconnect_max_delay=cfg.reconnect_max_delay_s)
        try:
            self._namespaces = list(await client.get_namespace_array())
            variables = await self._resolve_variables(client)
            self._variables = {v.node_id: v for v in variables}
            self.stats.monitored = len(variables)
            self.stats.subscribed = 0
            log.info("%s: monitoring %d variables", cfg.name, len(variables))
            subscription = await client.create_subscription(cfg.publishing_interval_ms, self)
            nodes = [v.node for v in variables]
            for chunk_start in range(0, len(nodes), 500):
                chunk = nodes[chunk_start : chunk_start + 500]
                if cfg.deadband_abs is not None:
                    await subscription.deadband_monitor(
                        chunk, cfg.deadband_abs, queuesize=cfg.queue_size
                    )
                else:
                    await subscription.subscribe_data_change(
                        chunk, queuesize=cfg.queue_size, sampling_interval=cfg.sampling_interval_ms
                    )
                self.stats.subscribed += len(chunk)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=cfg.flush_interval_s)
                await self._flush()
        finally:
            try:
                await client.disconnect()
            except Exception as exc:  # the server may already be gone; what we hold still lands
                log.info("%s: disconnect: %r", cfg.name, exc)
            await self._flush()
        return self.stats
