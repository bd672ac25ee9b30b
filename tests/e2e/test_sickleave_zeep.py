"""The three rehab contracts called by zeep, built from each contract's served WSDL URL, against the
real server in a second process (real clock, no care-unit register file)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import zeep

from intygstjanst.handlers.sickleave import HSA_ROOT, SWEDEN
from intygstjanst.registers.persons import PERSONNUMMER_ROOT

from intygstjanst.tests.sickleave_support import ACTIVE, CARE, CARE_GIVER, DOCTOR, PERSON, lisjp
from intygstjanst.tests.soap import REGISTER, TEST_PERSON, envelope, result
from intygstjanst.tests.support import require_shared

UNIT = "SE2321000016-ZEEP"


@pytest.fixture(scope="module")
def registered(live_server) -> None:  # type: ignore[no-untyped-def]
    """Two chained certificates around today (in Sweden), registered over HTTP."""
    require_shared()
    now = dt.datetime.now(SWEDEN).replace(tzinfo=None, microsecond=0)
    signed = now - dt.timedelta(hours=1)
    for payload in (
        lisjp("zeep-sl-1", [(-20, -3, 100)], unit=UNIT, around=now.date(), signed=signed - dt.timedelta(days=20)),
        lisjp("zeep-sl-2", [(-2, 12, 50)], unit=UNIT, around=now.date(), signed=signed),
    ):
        response = httpx.post(
            f"{live_server.base_url}{REGISTER}", content=envelope(payload), headers={"content-type": "text/xml; charset=utf-8"}
        )
        assert result(response.content)[0] == "OK", response.text[:800]


def _client(live_server, path: str) -> zeep.Client:  # type: ignore[no-untyped-def]
    return zeep.Client(f"{live_server.base_url}{path}?wsdl")


def _hsa(extension: str) -> dict[str, str]:
    return {"root": HSA_ROOT, "extension": extension}


PATIENT = {"root": PERSONNUMMER_ROOT, "extension": TEST_PERSON}
HEADERS = {"LogicalAddress": CARE_GIVER}


def test_list_active_sick_leaves_for_care_unit(live_server, registered) -> None:  # type: ignore[no-untyped-def]
    answer = _client(live_server, ACTIVE).service.ListActiveSickLeavesForCareUnit(
        _soapheaders=HEADERS, **{"enhets-id": _hsa(UNIT)}
    )
    assert answer.resultCode == "OK"
    assert answer.vardgivare.vardgivarId.extension == CARE_GIVER
    data = answer.intygsLista.intygsData
    assert [d.intygsId for d in data] == ["zeep-sl-1", "zeep-sl-2"]
    assert [f.nedsattning for f in data[1].arbetsformaga.formaga] == [50]
    assert data[1].skapadAv.personalId.extension == DOCTOR


def test_list_sick_leaves_for_person(live_server, registered) -> None:  # type: ignore[no-untyped-def]
    answer = _client(live_server, PERSON).service.ListSickLeavesForPerson(_soapheaders=HEADERS, **{"person-id": PATIENT})
    assert answer.result.resultCode == "OK"
    assert [d.intygsId for d in answer.intygsLista.intygsData] == ["zeep-sl-1", "zeep-sl-2"]


def test_list_sick_leaves_for_care(live_server, registered) -> None:  # type: ignore[no-untyped-def]
    answer = _client(live_server, CARE).service.ListSickLeavesForCare(
        _soapheaders=HEADERS, **{"enhets-id": _hsa(UNIT), "maxDagarMellanIntyg": 5, "personal-id": [_hsa(DOCTOR)]}
    )
    (case,) = answer.sjukfallLista.sjukfall
    assert (case["person-id"].extension, case.antalIntyg, case.sjukskrivningslangd) == (TEST_PERSON, 2, 33)
    assert (case.sjukskrivningsgrad.aktivGrad, case.sjukskrivningsgrad.grader.grad) == (50, [100, 50])
