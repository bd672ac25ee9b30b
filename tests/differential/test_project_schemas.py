"""The project's schemas on their own (no ../shared needed).

They accept the responses the service produces, and PingForConfiguration, which has no official
file to compare with, accepts and rejects what the published contract says.
"""

from __future__ import annotations

import pytest
from lxml import etree

from intygstjanst.tests.differential.compare import PROJECT_XSD_DIR, compile_schema, first_error
from intygstjanst.tests.differential.seeds import RESULTS, result_response

# Contracts whose response is a bare ResultType: (name, major, responder schema).
RESULT_CONTRACTS = [
    ("RegisterCertificate", 3, "interactions/RegisterCertificateResponder_3.1.xsd"),
    ("RevokeCertificate", 2, "interactions/RevokeCertificateResponder_2.1.xsd"),
    ("SendCertificateToRecipient", 2, "interactions/SendCertificateToRecipientResponder_2.1.xsd"),
    ("SetCertificateStatus", 2, "interactions/SetCertificateStatusResponder_2.0.xsd"),
    ("SendMessageToCare", 2, "interactions/SendMessageToCareResponder_2.0.xsd"),
    ("SendMessageToRecipient", 2, "interactions/SendMessageToRecipientResponder_2.1.xsd"),
]


@pytest.mark.parametrize(("contract", "major", "xsd"), RESULT_CONTRACTS, ids=[c[0] for c in RESULT_CONTRACTS])
@pytest.mark.parametrize("shape", sorted(RESULTS))
def test_service_result_responses_are_valid(contract: str, major: int, xsd: str, shape: str) -> None:
    response = result_response(contract, major, RESULTS[shape])
    assert first_error(compile_schema(PROJECT_XSD_DIR / xsd), response) == ""


@pytest.mark.parametrize(
    "result",
    [
        "<core:resultCode>WARNING</core:resultCode>",
        "<core:resultText>no code</core:resultText>",
        "<core:resultCode>ERROR</core:resultCode><core:errorId>VALIDATION_ERROR</core:errorId><core:resultText>x</core:resultText>",
        "<core:resultCode>ERROR</core:resultCode><core:errorId>RETRY_LATER</core:errorId>",
    ],
    ids=["unknown code", "missing code", "text after errorId", "unknown errorId"],
)
def test_malformed_results_are_rejected(result: str) -> None:
    response = result_response("RegisterCertificate", 3, result)
    schema = compile_schema(PROJECT_XSD_DIR / "interactions/RegisterCertificateResponder_3.1.xsd")
    assert first_error(schema, response) != ""


PING_NS = "urn:riv:itintegration:monitoring:PingForConfigurationResponder:1"
MONITORING_NS = "urn:riv:itintegration:monitoring:1"


def ping(local: str, body: str) -> etree._Element:
    return etree.fromstring(f'<p:{local} xmlns:p="{PING_NS}" xmlns:m="{MONITORING_NS}">{body}</p:{local}>')


PING_REQUEST = (
    "<p:serviceContractNamespace>urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
    "</p:serviceContractNamespace><p:logicalAddress>SE165565594230-1000</p:logicalAddress>"
)
# name and value belong to the monitoring core namespace, where ConfigurationType is declared.
CONFIGURATION = "<p:configuration><m:name>database</m:name><m:value>ok</m:value></p:configuration>"


@pytest.mark.parametrize(
    ("message", "valid"),
    [
        (ping("PingForConfiguration", PING_REQUEST), True),
        (ping("PingForConfiguration", PING_REQUEST + '<x:trace xmlns:x="urn:example:x">1</x:trace>'), True),
        (ping("PingForConfiguration", "<p:logicalAddress>SE1</p:logicalAddress>"), False),
        (ping("PingForConfigurationResponse", "<p:version>1.4.0</p:version><p:pingDateTime>20210615101112</p:pingDateTime>"), True),
        (
            ping(
                "PingForConfigurationResponse",
                "<p:version>1.4.0</p:version><p:pingDateTime>20210615101112</p:pingDateTime>" + CONFIGURATION * 2,
            ),
            True,
        ),
        (ping("PingForConfigurationResponse", "<p:version>1</p:version><p:pingDateTime>2021-06-15T10:11:12</p:pingDateTime>"), False),
        (ping("PingForConfigurationResponse", "<p:version>1</p:version><p:pingDateTime>20211315101112</p:pingDateTime>"), False),
        (ping("PingForConfigurationResponse", "<p:pingDateTime>20210615101112</p:pingDateTime>"), False),
        (
            ping(
                "PingForConfigurationResponse",
                "<p:version>1</p:version><p:pingDateTime>20210615101112</p:pingDateTime>"
                "<p:configuration><p:name>database</p:name><p:value>ok</p:value></p:configuration>",
            ),
            False,
        ),
        (
            ping(
                "PingForConfigurationResponse",
                "<p:version>1</p:version><p:pingDateTime>20210615101112</p:pingDateTime>"
                "<p:configuration><m:name>database</m:name></p:configuration>",
            ),
            False,
        ),
    ],
    ids=[
        "request",
        "request with extension",
        "request without contract namespace",
        "response",
        "response with configuration",
        "response with ISO timestamp",
        "response with month 13",
        "response without version",
        "configuration items in the responder namespace",
        "configuration without value",
    ],
)
def test_ping_for_configuration_schema(message: etree._Element, valid: bool) -> None:
    schema = compile_schema(PROJECT_XSD_DIR / "interactions/PingForConfigurationResponder_1.0.xsd")
    assert (first_error(schema, message) == "") is valid, first_error(schema, message)
