"""SOAP 1.1 Faults: the answer to anything that is not a logical (ResultType) outcome."""

from __future__ import annotations

from xml.sax.saxutils import escape

from intygstjanst.contracts.xml import SOAP11


class SoapFault(Exception):
    """Raised anywhere in request handling; rendered as a SOAP 1.1 Fault with HTTP status 500.

    ``code`` is the SOAP 1.1 faultcode local name: ``Client`` when the request is at fault (bad
    XML, schema violation, refused caller), ``Server`` when we are, ``VersionMismatch`` for a
    non-1.1 envelope.
    """

    def __init__(self, message: str, code: str = "Client", status: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def render_fault(fault: SoapFault) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>'
        f"<soap:Fault><faultcode>soap:{fault.code}</faultcode>"
        f"<faultstring>{escape(fault.message)}</faultstring></soap:Fault>"
        "</soap:Body></soap:Envelope>"
    ).encode("utf-8")
