"""ResultType (certificate:3): how RIV-TA contracts answer logical outcomes.

Only TECHNICAL_ERROR invites the caller to retry; VALIDATION_ERROR and APPLICATION_ERROR mean that
the same request will fail again.
"""

from __future__ import annotations

import enum

from lxml import etree

from intygstjanst.contracts.xml import CORE, sub


class ResultCode(str, enum.Enum):
    OK = "OK"
    INFO = "INFO"
    ERROR = "ERROR"


class ErrorId(str, enum.Enum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    APPLICATION_ERROR = "APPLICATION_ERROR"
    TECHNICAL_ERROR = "TECHNICAL_ERROR"
    REVOKED = "REVOKED"


class LogicalError(Exception):
    """A handler's logical refusal, answered as ``ERROR`` with the given errorId and text."""

    def __init__(self, error_id: ErrorId, text: str) -> None:
        super().__init__(text)
        self.error_id = error_id
        self.text = text


def result_element(
    parent_namespace: str,
    code: ResultCode,
    text: str | None = None,
    error_id: ErrorId | None = None,
    tag: str = "result",
) -> etree._Element:
    """A ``<result>`` element in the responder namespace holding a core (certificate:3) ResultType."""
    element = etree.Element(f"{{{parent_namespace}}}{tag}")
    sub(element, f"{{{CORE}}}resultCode", code.value)
    if text:
        sub(element, f"{{{CORE}}}resultText", text)
    if error_id is not None:
        sub(element, f"{{{CORE}}}errorId", error_id.value)
    return element


def result_response(
    namespace: str,
    response: str,
    code: ResultCode,
    text: str | None = None,
    error_id: ErrorId | None = None,
) -> etree._Element:
    """The common response shape ``<XResponse><result>...</result></XResponse>``."""
    nsmap: dict[str | None, str] = {None: namespace, "core": CORE}
    root = etree.Element(f"{{{namespace}}}{response}", nsmap=nsmap)  # type: ignore[arg-type]
    root.append(result_element(namespace, code, text, error_id))
    return root
