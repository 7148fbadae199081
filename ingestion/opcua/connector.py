"""OPC UA connector: browse, subscribe, and land every data change with its timestamps and status.

Works against any compliant server (asyncua client). The connection is supervised by asyncua's
auto-reconnect with exponential backoff, which re-creates the subscriptions after a server
restart; the outage itself is landed as one bad-quality record per monitored node, so a gap in
the data is visible in bronze rather than silent. A root or node the server does not have is an
`AddressSpaceError` that names the config key; a value without a JSON form is quarantined.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from asyncua import Client, Node, ua
from asyncua.crypto import security_policies
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import AfterValidator, BaseModel, Field

from ingestion.health import SourceState, SourceStats
from ingestion.landing import LandingRecord, LandingZone
from ingestion.opcua.address_space import (
    AddressSpaceError,
    MonitoredVariable,
    browse_variables,
    resolve_nodes,
    resolve_root,
)
from ingestion.opcua.paths import (
    check_node_id,
    check_pattern,
    parse_name,
)
from ingestion.opcua.values import UnconvertibleValue, value_text
from ingestion.quarantine import Reason, quarantined

log = logging.getLogger(__name__)

GAP_STATUS = ua.StatusCodes.BadNoCommunication
CLIENT_LOGGER = "asyncua"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _root_element(text: str) -> str:
    parse_name(text)
    return text


class OpcUaSourceConfig(BaseModel):
    """One OPC UA server to ingest from (an entry of the ingestion YAML)."""

    name: str = Field(description="source name, used in bronze and the landing zone")
    endpoint: str = Field(description="opc.tcp://host:port/path")
    root: list[Annotated[str, AfterValidator(_root_element)]] = Field(
        default_factory=lambda: ["0:Objects"],
        description="browse names from the Root node to the node to browse from, each with its "
        "namespace by index or URI: ['0:Objects', '2:acme'] or ['0:Objects', 'nsu=urn:acme;acme']",
    )
    include: list[Annotated[str, AfterValidator(check_pattern)]] = Field(
        default_factory=lambda: [".*"],
        description="regular expressions that must match the whole browse path below the root "
        "(names escaped: Halle 2&/Nord/.*), or, starting with nsu=, the node id by namespace URI",
    )
    exclude: list[Annotated[str, AfterValidator(check_pattern)]] = Field(
        default_factory=list, description="regular expressions as include; a match is left out"
    )
    nodes: list[Annotated[str, AfterValidator(check_node_id)]] = Field(
        default_factory=list,
        description="explicit node ids instead of browsing: ns=2;s=… or nsu=<namespace URI>;s=…",
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
    decode_structures: bool = Field(
        True,
        description="read the server's own structure definitions so that their values land as "
        "objects of fields (else as TypeId and base64 body)",
    )
    client_log_level: LogLevel = Field(
        "WARNING", description="level of asyncua's own loggers (INFO logs every publish)"
    )
    summary_interval_s: float = Field(
        60.0, gt=0, description="one INFO line per interval: values, quarantined, gaps, state"
    )


@dataclass
class OpcUaStats(SourceStats):
    """SourceStats plus what an OPC UA subscription adds."""

    monitored: int = 0
    subscribed: int = 0
    gaps: int = 0
    reconnects: int = 0


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _status_name(code: int) -> str:
    try:
        return ua.StatusCode(code).name
    except Exception:  # an unknown code from a foreign server still lands, by number
        return f"0x{code:08X}"


_client_levels: dict[str, int] = {}


def _set_client_log_level(source: str, level: str) -> None:
    """asyncua's loggers at the most verbose level any source asked for (WARNING by default)."""
    _client_levels[source] = logging.getLevelName(level)
    logging.getLogger(CLIENT_LOGGER).setLevel(min(_client_levels.values()))


class OpcUaConnector:
    """Subscribes to one server and lands its data changes until `stop` is set."""

    def __init__(self, config: OpcUaSourceConfig, zone: LandingZone):
        self.config = config
        self.zone = zone
        self.stats = OpcUaStats(source=config.name)
        self._buffer: list[LandingRecord] = []
        self._landing_failed = False  # the last flush failed: the state says so until one works
        self._variables: dict[str, MonitoredVariable] = {}
        self._client: Client | None = None
        self._namespaces: list[str] = []
        self._problems: list[str] = []  # of the config against the server, while running
        self._summary = (time.monotonic(), 0, 0, 0)  # at, received, quarantined, gaps
        _set_client_log_level(config.name, config.client_log_level)

    # -- records -------------------------------------------------------------------------------
    def _identity(
        self,
        variable: MonitoredVariable,
        status: int | None,
        source_ts: datetime | None,
        server_ts: datetime | None,
    ) -> str:
        """What makes a data change itself (never the time it was received)."""
        return "\0".join(
            [
                self.config.endpoint,
                variable.node_id,
                source_ts.isoformat() if source_ts else "",
                server_ts.isoformat() if source_ts is None and server_ts else "",
                str(status),
            ]
        )

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
        """The landing record of one value; raises UnconvertibleValue if it has no JSON form."""
        text = value_text(value, self._namespaces)
        payload = text.encode("utf-8")
        identity = self._identity(variable, status_code, source_ts, server_ts) + "\0" + text
        attributes = {
            "endpoint": self.config.endpoint,
            "browse_path": variable.browse_path,
            "namespace_uri": variable.namespace_uri,
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
            payload=payload,
            received_at=received_at,
            source_timestamp=source_ts,
            attributes=attributes,
            record_id=hashlib.sha256(identity.encode()).hexdigest(),
        )

    def value_record(
        self, variable: MonitoredVariable, dv: ua.DataValue, received_at: datetime
    ) -> LandingRecord:
        """One data change as a value record, or as a quarantine record if it cannot be one;
        never raises."""
        status = source_ts = server_ts = None
        variant_type = "?"
        try:
            status = dv.StatusCode.value if dv.StatusCode is not None else 0
            source_ts, server_ts = _utc(dv.SourceTimestamp), _utc(dv.ServerTimestamp)
            variant = dv.Value
            variant_type = getattr(getattr(variant, "VariantType", None), "name", "Null")
            value = variant if isinstance(variant, ua.Variant) else None
            return self.record(
                variable, value, status, source_ts, server_ts, received_at, variant_type
            )
        except (UnconvertibleValue, UnicodeEncodeError) as exc:
            reason, why = Reason.BAD_DATATYPE, f"{variant_type} value has no JSON form: {exc}"
        except Exception as exc:  # a defect of ours must not cost the data change
            reason, why = Reason.INTERNAL_ERROR, f"{variant_type} value: {exc!r}"
        try:
            raw = repr(dv.Value)
        except Exception as exc:  # even repr may fail on a broken object
            raw = f"<unprintable {type(dv.Value).__name__}: {exc!r}>"
        raw_bytes = raw.encode("utf-8", "backslashreplace")
        identity = "quarantine\0" + self._identity(variable, status, source_ts, server_ts)
        return quarantined(
            self.config.name,
            variable.node_id,
            raw_bytes,
            received_at,
            reason,
            f"{variable.browse_path}: {why}; value {raw[:1000]}",
            record_id=hashlib.sha256(identity.encode() + b"\0" + raw_bytes).hexdigest(),
        )

    def _take(self, record: LandingRecord) -> None:
        """Buffer a record and count it: received == accepted + quarantined."""
        stats = self.stats
        stats.received += 1
        if record.kind == "quarantine":
            stats.quarantined += 1
            stats.count({record.attributes["reason_code"]: 1})
        else:
            stats.accepted += 1
        self._buffer.append(record)

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        """asyncua subscription callback: one data change. Never raises."""
        now = datetime.now(UTC)
        variable = self._variables.get(node.nodeid.to_string())
        if variable is None:  # a late change of a subscription from before a re-browse
            return
        self._take(self.value_record(variable, data.monitored_item.Value, now))
        self.stats.last_message_at = now
        if self.stats.state == SourceState.RECONNECTING:  # data flows again: resubscribed
            # still failing if the config names nodes the server does not have
            self.stats.set_state(SourceState.FAILING if self._problems else SourceState.CONNECTED)
            log.info("%s: data flows again", self.config.name)

    def status_change_notification(self, status: Any) -> None:
        log.warning("%s: subscription status change %s", self.config.name, status)

    async def _on_connection_lost(self, exc: Exception) -> None:
        """Land the outage as a bad-quality value per node: a gap is data, not silence."""
        now = datetime.now(UTC)
        self.stats.error(
            f"connection to {self.config.endpoint} lost ({exc!r}); reconnecting",
            state=SourceState.RECONNECTING,
        )
        log.warning("%s: connection lost (%r); reconnecting", self.config.name, exc)
        self.stats.reconnects += 1
        for variable in self._variables.values():
            self._take(self.record(variable, None, GAP_STATUS, now, None, now, "Null"))
            self.stats.gaps += 1

    # -- connecting and resolving ----------------------------------------------------------------
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

    async def _connect(self, *, auto_reconnect: bool) -> Client:
        cfg = self.config
        client = Client(cfg.endpoint, timeout=10)
        await self._secure(client)
        client.connection_lost_callback = self._on_connection_lost
        try:
            await client.connect(
                auto_reconnect=auto_reconnect, reconnect_max_delay=cfg.reconnect_max_delay_s
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise
        return client

    async def _resolve(self, client: Client) -> tuple[list[MonitoredVariable], list[str]]:
        """The variables to monitor and the problems of the config against this server.

        Raises AddressSpaceError when the root is missing; missing `nodes` are problems.
        """
        cfg = self.config
        self._namespaces = namespaces = list(await client.get_namespace_array())
        if cfg.nodes:
            return await resolve_nodes(client, cfg.nodes, namespaces)
        root = await resolve_root(client, cfg.root, namespaces)
        variables = await browse_variables(root, cfg.include, cfg.exclude, namespaces=namespaces)
        if variables:
            return variables, []
        where = "/".join(cfg.root)
        return [], [
            f"root {where}: no variable below it matches include {cfg.include} "
            f"and exclude {cfg.exclude} (regular expressions on the whole browse path)"
        ]

    async def check(self) -> list[str]:
        """Connect, resolve root and nodes, disconnect: the problems found (empty: all fine)."""
        try:
            client = await self._connect(auto_reconnect=False)
        except Exception as exc:
            return [f"cannot connect to {self.config.endpoint}: {exc!r}"]
        try:
            _, problems = await self._resolve(client)
            return problems
        except AddressSpaceError as exc:
            return list(exc.problems)
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()

    # -- running -------------------------------------------------------------------------------
    async def _flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        try:
            path = await asyncio.to_thread(self.zone.write_batch, self.config.name, batch)
        except Exception as exc:  # disk full, permissions: keep the batch, try again next time
            self._buffer = batch + self._buffer
            self._landing_failed = True
            self.stats.error(
                f"cannot land {len(batch)} records ({type(exc).__name__}: {exc}); held, retrying",
                logger=log,
            )
            return
        if self._landing_failed:  # landing works again: the state is the connection's
            self._landing_failed = False
            self.stats.set_state(SourceState.FAILING if self._problems else SourceState.CONNECTED)
        if path is not None:
            self.stats.landed += len(batch)
            self.stats.batches += 1

    def _log_summary(self, force: bool = False) -> None:
        """One INFO line per `summary_interval_s`: what arrived since the last one."""
        now = time.monotonic()
        at, received, quarantined_, gaps = self._summary
        if not force and now - at < self.config.summary_interval_s:
            return
        s = self.stats
        log.info(
            "%s: %.0f s: %s values, %s quarantined, %s gaps, %s, %s nodes",
            self.config.name,
            now - at,
            f"{s.received - s.gaps - received + gaps:,}",
            f"{s.quarantined - quarantined_:,}",
            f"{s.gaps - gaps:,}",
            s.effective_state().value,
            f"{s.subscribed:,}",
        )
        self._summary = (now, s.received, s.quarantined, s.gaps)

    async def _subscribe(self, client: Client, variables: list[MonitoredVariable]) -> list[str]:
        cfg = self.config
        subscription = await client.create_subscription(cfg.publishing_interval_ms, self)
        problems: list[str] = []
        for start in range(0, len(variables), 500):
            chunk = variables[start : start + 500]
            nodes = [v.node for v in chunk]
            if cfg.deadband_abs is not None:
                handles = await subscription.deadband_monitor(
                    nodes, cfg.deadband_abs, queuesize=cfg.queue_size
                )
            else:
                handles = await subscription.subscribe_data_change(
                    nodes, queuesize=cfg.queue_size, sampling_interval=cfg.sampling_interval_ms
                )
            for variable, handle in zip(chunk, handles, strict=True):
                if isinstance(handle, ua.StatusCode):
                    problems.append(
                        f"{variable.node_id} ({variable.browse_path}): the server refused to "
                        f"monitor it ({handle.name})"
                    )
                else:
                    self.stats.subscribed += 1
        return problems

    async def _start(self, client: Client) -> list[str]:
        """Read structure definitions, resolve, subscribe: the problems of what is monitored.

        Raises AddressSpaceError when nothing can be monitored.
        """
        cfg = self.config
        if cfg.decode_structures:
            try:
                await client.load_data_type_definitions()
            except Exception as exc:  # a server's odd type system: structures land as bodies
                log.warning("%s: cannot read structure definitions (%r)", cfg.name, exc)
        variables, problems = await self._resolve(client)
        self._variables = {v.node_id: v for v in variables}
        self.stats.monitored, self.stats.subscribed = len(variables), 0
        if not variables:
            raise AddressSpaceError(problems)
        return problems + await self._subscribe(client, variables)

    async def run(self, stop: asyncio.Event) -> OpcUaStats:
        """Connect, subscribe and land until `stop` is set; flushes what is buffered on the way out.

        Raises AddressSpaceError when the root or every configured node is missing (after
        recording it in the stats), and the connection's error when the server cannot be reached:
        the service retries both with backoff.
        """
        cfg = self.config
        stats = self.stats
        stats.set_state(SourceState.STARTING)
        try:
            client = await self._connect(auto_reconnect=True)
        except Exception as exc:
            stats.error(
                f"cannot connect to {cfg.endpoint}: {exc!r}", state=SourceState.RECONNECTING
            )
            raise
        self._client = client
        try:
            try:
                problems = await self._start(client)
            except AddressSpaceError as exc:
                stats.error(str(exc), logger=log)
                raise
            except (OSError, TimeoutError, ConnectionError) as exc:  # gone while browsing
                stats.error(
                    f"connection to {cfg.endpoint} lost while browsing: {exc!r}",
                    state=SourceState.RECONNECTING,
                )
                raise
            except Exception as exc:  # a service fault (BadUserAccessDenied, …)
                stats.error(f"browsing {cfg.endpoint} failed: {exc!r}", logger=log)
                raise
            self._problems = problems
            if problems:  # the others are monitored; the source is failing until fixed
                stats.error("; ".join(problems), logger=log)
            else:
                stats.set_state(SourceState.CONNECTED)
            log.info("%s: monitoring %d variables", cfg.name, stats.subscribed)
            self._summary = (time.monotonic(), stats.received, stats.quarantined, stats.gaps)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=cfg.flush_interval_s)
                await self._flush()
                self._log_summary()
        finally:
            try:
                await client.disconnect()
            except Exception as exc:  # the server may already be gone; what we hold still lands
                log.info("%s: disconnect: %r", cfg.name, exc)
            await self._flush()
            if stop.is_set():
                stats.set_state(SourceState.STOPPED)
        return stats
