"""Bronze suites, warn only (silver dedupes and quarantines). The catalog checks already hold what
every bronze table shares: `record_id` unique and filled, `received_at` filled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from expectations.suite import WARN, Context, Suite
from ingestion.mqtt.sparkplug import MESSAGE_TYPES as SPARKPLUG_MESSAGE_TYPES

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

# GX is imported inside the suite functions: it takes ~10 s to import, and listing the suites
# (Dagster loading its definitions) should not pay for it.


def mqtt_messages(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="qos", value_set=[0, 1, 2], description="MQTT QoS is 0, 1 or 2"
        )
    ]


def sparkplug_messages(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="message_type",
            value_set=list(SPARKPLUG_MESSAGE_TYPES),
            description="message_type is a Sparkplug B message type (NBIRTH, DDATA, …)",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="seq",
            min_value=0,
            max_value=255,
            description="Sparkplug sequence number seq lies in 0–255",
        ),
    ]


def opcua_values(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="status_code",
            min_value=0,
            max_value=0xFFFFFFFF,
            description="status_code is an OPC UA status code (unsigned 32-bit)",
        )
    ]


def mes_rows(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="extract_mode",
            value_set=["incremental", "full"],
            description="extract_mode is incremental or full",
        )
    ]


def quarantine(context: Context) -> list[Expectation]:
    return []


SUITES: dict[str, Suite] = {
    "bronze.mqtt_messages": Suite(mqtt_messages, severity=WARN),
    "bronze.sparkplug_messages": Suite(sparkplug_messages, severity=WARN),
    "bronze.opcua_values": Suite(opcua_values, severity=WARN),
    "bronze.mes_rows": Suite(mes_rows, severity=WARN),
    "bronze.quarantine": Suite(quarantine, severity=WARN),
}
