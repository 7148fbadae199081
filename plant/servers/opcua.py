"""The plant's OPC UA server (asyncua): `Objects/acme/<site>/<area>/<line>/<equipment>/<tag>`.

Variables carry their data type, engineering units (EUInformation, UNECE codes) and EURange;
the machine state is an enumeration data type of its own. Values are written with source and
server timestamps and a status code. Optional security: Basic256Sha256 Sign&Encrypt with a
self-signed certificate made at start, and username/password users.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asyncua import Server, ua
from asyncua.common.structures104 import new_enum
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography.x509.oid import ExtendedKeyUsageOID

from lakehouse.contracts.vocabulary import STATES
from plant.config import PlantConfig
from plant.kinds import STATE_CODE
from plant.simulation import Reading

log = logging.getLogger(__name__)
NAMESPACE = "urn:plantlake:plant"
UNECE = {
    "degC": "CEL",
    "mm/s": "C16",
    "bar": "BAR",
    "kW": "KWT",
    "kWh": "KWH",
    "%": "P1",
    "s": "SEC",
    "rpm": "RPM",
    "A": "AMP",
    "V": "VLT",
    "N": "NEU",
    "kN": "B47",
    "count": "C62",
}
VARIANT = {
    "Double": ua.VariantType.Double,
    "Int64": ua.VariantType.Int64,
    "String": ua.VariantType.String,
    "Boolean": ua.VariantType.Boolean,
}
STATUS = {
    "good": ua.StatusCodes.Good,
    "uncertain": ua.StatusCodes.Uncertain,
    "bad": ua.StatusCodes.Bad,
}


def eu_information(unit: str) -> ua.EUInformation:
    """The OPC UA EUInformation of a unit, with the UNECE common code as UnitId."""
    code = UNECE.get(unit, "")
    unit_id = 0
    for ch in code:
        unit_id = (unit_id << 8) | ord(ch)
    return ua.EUInformation(
        NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
        UnitId=unit_id or -1,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )


class _Users(UserManager):
    def __init__(self, users: dict[str, str]):
        self.users = users

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User)
        return None


@dataclass
class OpcUaSecurity:
    """Sign&Encrypt with Basic256Sha256 and these users (username -> password)."""

    users: dict[str, str]
    pki_dir: Path


class PlantOpcUaServer:
    """The address space of a plant config, kept up to date by `write()`."""

    def __init__(self, config: PlantConfig, port: int, security: OpcUaSecurity | None = None):
        self.config = config
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/plantlake/"
        self.security = security
        self.server = Server(user_manager=_Users(security.users) if security else None)
        self.nodes: dict[tuple[str, str], tuple[ua.NodeId, ua.VariantType | None]] = {}
        self.writes = 0

    async def start(self) -> PlantOpcUaServer:
        server = self.server
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("plantlake simulated plant")
        if self.security:
            pki = self.security.pki_dir
            pki.mkdir(parents=True, exist_ok=True)
            key, cert = pki / "server-key.pem", pki / "server-cert.der"
            await server.set_application_uri("urn:plantlake:plant:server")
            await setup_self_signed_certificate(
                key,
                cert,
                "urn:plantlake:plant:server",
                "localhost",
                [ExtendedKeyUsageOID.SERVER_AUTH],
                {"commonName": "plantlake plant"},
            )
            await server.load_certificate(str(cert))
            await server.load_private_key(str(key))
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            server.set_identity_tokens([ua.UserNameIdentityToken])
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace(NAMESPACE)
        state_type = await new_enum(server, ns, "MachineState", list(STATES))
        folders: dict[tuple[str, ...], object] = {(): server.nodes.objects}
        for eq in self.config.equipment:
            path = (eq.enterprise, eq.site, eq.area, eq.line, eq.name)
            for depth in range(1, len(path) + 1):
                key = path[:depth]
                if key not in folders:
                    node_id = ua.NodeId(".".join(key), ns)
                    folders[key] = await folders[key[:-1]].add_object(
                        node_id, ua.QualifiedName(key[-1], ns)
                    )
            parent = folders[path]
            for tag in eq.tags:
                node_id = ua.NodeId(f"{eq.equipment_id}.{tag.name}", ns)
                name = ua.QualifiedName(tag.name, ns)
                if tag.datatype == "Enum":
                    var = await parent.add_variable(
                        node_id,
                        name,
                        ua.Variant(0, ua.VariantType.Int32),
                        datatype=state_type.nodeid,
                    )
                    await var.add_property(ns, "EnumStrings", [ua.LocalizedText(s) for s in STATES])
                    variant = ua.VariantType.Int32
                else:
                    variant = VARIANT[tag.datatype]
                    initial = "" if variant == ua.VariantType.String else 0
                    var = await parent.add_variable(node_id, name, ua.Variant(initial, variant))
                    if tag.unit:
                        await var.add_property(ns, "EngineeringUnits", eu_information(tag.unit))
                    if tag.low is not None and tag.high is not None:
                        await var.add_property(ns, "EURange", ua.Range(Low=tag.low, High=tag.high))
                await var.write_attribute(
                    ua.AttributeIds.Description,
                    ua.DataValue(
                        ua.Variant(ua.LocalizedText(tag.description), ua.VariantType.LocalizedText)
                    ),
                )
                self.nodes[(eq.equipment_id, tag.name)] = (node_id, variant)
        await server.start()
        log.info("OPC UA server on %s with %d variables", self.endpoint, len(self.nodes))
        return self

    async def write(self, readings: list[Reading]) -> int:
        """Write values with their source timestamps and status; returns how many were written."""
        now = datetime.now(UTC)
        n = 0
        for r in readings:
            entry = self.nodes.get((r.equipment_id, r.tag))
            if entry is None:
                continue
            node_id, variant = entry
            value = STATE_CODE[r.value] if r.tag == "state" else r.value
            if variant == ua.VariantType.Int64:
                value = int(value)
            dv = ua.DataValue(
                ua.Variant(value, variant),
                ua.StatusCode(STATUS[r.quality]),
                SourceTimestamp=r.timestamp,
                ServerTimestamp=now,
            )
            await self.server.write_attribute_value(node_id, dv)
            n += 1
        self.writes += n
        return n

    async def stop(self) -> None:
        await self.server.stop()
