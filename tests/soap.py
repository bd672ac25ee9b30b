"""Building SOAP requests in tests, and reading answers."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from intygstjanst.contracts.xml import CORE, REGISTRY, SOAP11, TYPES, WSA

from intygstjanst.tests.support import payload_of, shared_dir

REGISTER = "/clinicalprocess/healthcond/certificate/RegisterCertificate/3/rivtabp21"
GET = "/clinicalprocess/healthcond/certificate/GetCertificate/2/rivtabp21"
REGISTER_NS = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
GET_NS = "urn:riv:clinicalprocess:healthcond:certificate:GetCertificateResponder:2"

TEST_PERSON = "191212121212"  # Tolvan Tolvansson, the person in most samples
VALIDATION_PERSON = "195401875769"  # a samordningsnummer listed as a validation person in tests
OTHER_PERSON = "197710112348"  # a valid personnummer that is neither test nor validation person
LISJP_SAMPLE = "common__fk-lisjp-module-bootstrap-certificate-lisjp__2_locked.1.xml"


def envelope(payload: etree._Element | bytes, logical_address: str | None = "5565594230", wsa_to: str | None = None) -> bytes:
    if isinstance(payload, bytes):
        payload = etree.fromstring(payload)
    header = ""
    if logical_address is not None:
        header += f'<reg:LogicalAddress xmlns:reg="{REGISTRY}">{logical_address}</reg:LogicalAddress>'
    if wsa_to is not None:
        header += f'<wsa:To xmlns:wsa="{WSA}">{wsa_to}</wsa:To>'
    return (
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Header>{header}</soap:Header><soap:Body>'.encode()
        + etree.tostring(payload)
        + b"</soap:Body></soap:Envelope>"
    )


def sample(name: str, contract: str = "RegisterCertificate") -> etree._Element:
    return payload_of(shared_dir() / "samples" / contract / name)


def certificate(
    certificate_id: str = "lisjp-1",
    patient: str | None = "191212121212",
    name: str = LISJP_SAMPLE,
) -> etree._Element:
    """A RegisterCertificate payload from a sample, with its id (and patient) replaced."""
    payload = sample(name)
    payload.find(f"{{*}}intyg/{{{CORE}}}intygs-id/{{{TYPES}}}extension").text = certificate_id
    if patient is not None:
        payload.find(f".//{{{CORE}}}patient/{{{CORE}}}person-id/{{{TYPES}}}extension").text = patient
    return payload


def get_request(certificate_id: str, part: str = "HSVARD") -> bytes:
    return (
        f'<get:GetCertificate xmlns:get="{GET_NS}" xmlns:t="{TYPES}">'
        f"<get:intygs-id><t:root>SE5565594230-B31</t:root><t:extension>{certificate_id}</t:extension></get:intygs-id>"
        f"<get:part><t:code>{part}</t:code><t:codeSystem>769bb12b-bd9f-4203-a5cd-fd14f2eb3b80</t:codeSystem></get:part>"
        "</get:GetCertificate>"
    ).encode()


def post(client, path: str, body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(path, content=body, headers={"content-type": "text/xml; charset=utf-8", **headers})


def result(response_body: bytes) -> tuple[str, str | None, str | None]:
    """(resultCode, errorId, resultText) of a ResultType answer."""
    root = etree.fromstring(response_body)
    code = root.findtext(f".//{{{CORE}}}resultCode")
    error_id = root.findtext(f".//{{{CORE}}}errorId")
    text = root.findtext(f".//{{{CORE}}}resultText")
    assert code is not None, response_body[:500]
    return code, error_id, text


def fault(response_body: bytes) -> str:
    root = etree.fromstring(response_body)
    text = root.findtext(f".//{{{SOAP11}}}Fault/faultstring")
    assert text is not None, response_body[:500]
    return text


def sample_path(name: str, contract: str = "RegisterCertificate") -> Path:
    return shared_dir() / "samples" / contract / name
