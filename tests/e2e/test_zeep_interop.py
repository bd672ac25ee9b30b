"""The reference client: zeep builds itself from the served WSDL URL alone and talks to the real server."""

from __future__ import annotations

import httpx
import pytest
import zeep
from lxml import etree

from intygstjanst.tests.soap import GET, REGISTER, certificate
from intygstjanst.tests.support import require_shared


@pytest.fixture(scope="module")
def shared() -> None:
    require_shared()


def _client(live_server, path: str) -> zeep.Client:  # type: ignore[no-untyped-def]
    return zeep.Client(f"{live_server.base_url}{path}?wsdl")


class RawIntyg(zeep.Plugin):
    """Puts the certificate into the outgoing message as the exact XML it was signed as.

    A certificate's answers (``delsvar``) are mixed ``xs:any`` content that zeep's object model
    cannot express (it drops the text), so the typed request carries the certificate's skeleton
    and this plugin swaps in the original element. The same recipe is in the README.
    """

    def __init__(self, intyg: etree._Element) -> None:
        self.intyg = intyg

    def egress(self, envelope, http_headers, operation, binding_options):  # type: ignore[no-untyped-def]
        placeholder = envelope.find(".//{*}RegisterCertificate/{*}intyg")
        placeholder.getparent().replace(placeholder, self.intyg)
        return envelope, http_headers


def test_register_twice_and_read_back_with_zeep(live_server, shared) -> None:
    intyg = certificate("zeep-1").find("{*}intyg")
    register = zeep.Client(f"{live_server.base_url}{REGISTER}?wsdl", plugins=[RawIntyg(intyg)])
    request_type = register.get_element(
        "{urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3}RegisterCertificate"
    )
    stripped = etree.fromstring(etree.tostring(intyg.getparent()))
    for svar in stripped.findall("{*}intyg/{*}svar"):
        svar.getparent().remove(svar)
    skeleton = request_type.parse(stripped, register.wsdl.types).intyg
    answer = register.service.RegisterCertificate(_soapheaders=_logical_address("5565594230"), intyg=skeleton)
    assert answer.result.resultCode == "OK"
    again = register.service.RegisterCertificate(_soapheaders=_logical_address("5565594230"), intyg=skeleton)
    assert (again.result.resultCode, again.result.resultText) == ("INFO", "Certificate already exists")

    get = zeep.Client(f"{live_server.base_url}{GET}?wsdl")
    part = {"code": "HSVARD", "codeSystem": "769bb12b-bd9f-4203-a5cd-fd14f2eb3b80"}
    got = get.service.GetCertificate(
        _soapheaders=_logical_address("5565594230"),
        **{"intygs-id": {"root": "SE5565594230-B31", "extension": "zeep-1"}, "part": part},
    )
    assert got.intyg["intygs-id"].extension == "zeep-1"
    assert got.intyg.typ.code == "LISJP"
    assert [s.status.code for s in got.intyg.status] == ["RECEIV"]


def test_wsdl_schemas_resolve_over_http(live_server) -> None:
    wsdl = httpx.get(f"{live_server.base_url}{REGISTER}?wsdl")
    assert wsdl.status_code == 200
    tree = etree.fromstring(wsdl.content)
    locations = [node.get("schemaLocation") for node in tree.iter("{http://www.w3.org/2001/XMLSchema}import")]
    assert locations and all(loc.startswith(live_server.base_url + "/xsd/") for loc in locations)
    for location in locations:
        assert httpx.get(location).status_code == 200
    address = tree.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == live_server.base_url + REGISTER
    assert httpx.get(f"{live_server.base_url}/xsd/../settings.py").status_code == 404


def _logical_address(value: str) -> dict[str, str]:
    # The WSDL declares LogicalAddress as a soap:header part; zeep takes header parts by name.
    return {"LogicalAddress": value}
