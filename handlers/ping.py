"""PingForConfiguration v1: the national platform's "is this producer up" probe.

It answers for any logical address: the platform pings one address per producer, and this service
produces every contract for every address it is called with. The configuration items are chosen to
help an operator triage (which build, which database kind, is the database reachable, is the asked
contract served here) and never include anything secret: no URLs, paths, keys or person data.
"""

from __future__ import annotations

import datetime as dt
import time
from importlib import metadata

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.result import OK
from intygstjanst.contracts.xml import sub, text_of
from intygstjanst.services import Services

MONITORING = "urn:riv:itintegration:monitoring:1"

# Taken when the handler module is imported, i.e. when the contract registry is loaded at start-up.
_STARTED = time.monotonic()

try:
    VERSION = metadata.version("intygstjanst")
except metadata.PackageNotFoundError:  # running from a bare checkout that was never installed
    VERSION = "unknown"


def ping_for_configuration(call: Call[Services]) -> Answer:
    services = call.services
    ns = call.contract.namespace
    asked = text_of(call.request, f"{{{ns}}}serviceContractNamespace") or ""
    try:
        services.db.ping()
        database = "ok"
    except Exception:  # the probe reports the failure instead of turning it into a Fault
        database = "unavailable"

    response = call.contract.response_element()
    sub(response, f"{{{ns}}}version", VERSION)
    sub(response, f"{{{ns}}}pingDateTime", _local_timestamp(services.clock()))
    served = any(contract.namespace == asked for contract in services.contracts)
    items = [
        ("applicationName", "intygstjanst"),
        ("database", database),
        ("databaseDialect", services.db.engine.dialect.name),
        ("servedContracts", str(len(services.contracts))),
        ("serviceContract", f"{asked} is {'served' if served else 'not served'} here"),
        ("uptimeSeconds", str(int(time.monotonic() - _STARTED))),
    ]
    for name, value in items:
        item = sub(response, f"{{{ns}}}configuration")
        sub(item, f"{{{MONITORING}}}name", name)
        sub(item, f"{{{MONITORING}}}value", value)
    return Answer(response, OK)


def _local_timestamp(now_utc: dt.datetime) -> str:
    """The RIV-TA monitoring format (YYYYMMDDhhmmss, local time) from the service clock's naive UTC."""
    return now_utc.replace(tzinfo=dt.UTC).astimezone().strftime("%Y%m%d%H%M%S")
