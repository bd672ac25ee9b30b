"""The Transportstyrelsen legacy contracts RegisterTSBas 1.0 and RegisterTSDiabetes 1.0.

Our responder schemas must give the same verdict as the official ones on every
sample message and on a generated mutation corpus; our WSDLs must load in zeep
and describe the rivtabp21 binding (LogicalAddress header, official soapAction).
"""

from __future__ import annotations

import pytest

from intygstjanst.tests.differential.legacy_mutations import (
    FOREIGN_NS,
    LOGICAL_ADDRESS,
    Case,
    Variant,
    compare,
    family_tests,
    sample_payloads,
    schemas,
)
from intygstjanst.tests.support import require_shared

require_shared()
OFFICIAL = "intyg/transportstyrelsen/schemas/interactions"
TS = "urn:local:se:intygstjanster:services:1"
TT = "urn:local:se:intygstjanster:services:types:1"

# Types no message of these contracts uses, embedded as xsi:typed foreign
# elements so that their content models are compared too.
_TYPED = f'xmlns:f="{FOREIGN_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
_EMBEDDED = (
    f'<f:meta {_TYPED} xmlns:ts="{TS}" xsi:type="ts:IntygMeta">'
    "<ts:status><ts:target>TRANSP</ts:target><ts:type>SENT</ts:type>"
    "<ts:timestamp>2013-08-12T15:57:00</ts:timestamp></ts:status>"
    "<ts:status><ts:target>HSVARD</ts:target><ts:type>RECEIVED</ts:type>"
    "<ts:timestamp>2013-08-12T15:58:00</ts:timestamp></ts:status>"
    "<ts:additionalInfo>C1, D</ts:additionalInfo><ts:available>true</ts:available></f:meta>",
    f'<f:period {_TYPED} xmlns:tt="{TT}" xsi:type="tt:DatumPeriod">'
    "<tt:start>2013-08-12</tt:start><tt:slut>2014-08-12</tt:slut></f:period>",
)


def _response(name: str, result: str) -> str:
    return (
        f'<{name}Response xmlns="urn:local:se:intygstjanster:services:{name}Responder:1" xmlns:ts="{TS}">'
        f"<resultat>{result}</resultat></{name}Response>"
    )


_RESULT_ERROR = (
    "<ts:resultCode>ERROR</ts:resultCode><ts:resultText>intygsId saknas</ts:resultText>"
    "<ts:errorId>VALIDATION_ERROR</ts:errorId>"
)
_RESULT_OK = "<ts:resultCode>OK</ts:resultCode>"


def _case(name: str, samples_valid: int, samples_invalid: int) -> tuple[Case, int, int]:
    case = Case(
        name=name,
        schema_version="1.0",
        wsdl_version="1.0",
        profile="RIVTABP21",
        official_dir=f"{OFFICIAL}/{name}Interaction",
        namespace=f"urn:local:se:intygstjanster:services:{name}Responder:1",
        request=name,
        response=f"{name}Response",
        hand_written=(_response(name, _RESULT_ERROR), _response(name, _RESULT_OK)),
        embedded=_EMBEDDED,
        samples=name,
        minimum_mutations=200,
    )
    return case, samples_valid, samples_invalid


# With the official verdicts on the samples (see samples/INDEX.md).
SAMPLE_SPLITS = (_case("RegisterTSBas", 11, 2), _case("RegisterTSDiabetes", 12, 3))
CASES = tuple(case for case, _, _ in SAMPLE_SPLITS)
IDS = [case.name for case in CASES]

# Deliberate mistakes in a copy of our schemas; each must change some verdict.
PLANTED_FAULTS = (
    ("RegisterTSBas", "legacy/transportstyrelsen/services_types_1.xsd",
     "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]", "T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"),
    ("RegisterTSBas", "legacy/transportstyrelsen/services_1.xsd",
     '<xs:element name="korkortstyp" type="ts:KorkortsbehorighetTsBas" maxOccurs="unbounded"/>',
     '<xs:element name="korkortstyp" type="ts:Korkortsbehorighet" maxOccurs="unbounded"/>'),
    ("RegisterTSBas", "legacy/transportstyrelsen/services_1.xsd",
     '<xs:element name="intygsTyp" type="xs:string" fixed="ts-bas"/>', '<xs:element name="intygsTyp" type="xs:string"/>'),
    ("RegisterTSDiabetes", "legacy/transportstyrelsen/services_1.xsd",
     '<xs:element name="diabetesTyp" type="ts:DiabetesTypVarden" maxOccurs="2"/>',
     '<xs:element name="diabetesTyp" type="ts:DiabetesTypVarden" maxOccurs="unbounded"/>'),
    ("RegisterTSDiabetes", "legacy/transportstyrelsen/services_1.xsd",
     '<xs:element name="allvarligForekomstVakenTidAr" type="tt:Datum" minOccurs="0"/>',
     '<xs:element name="allvarligForekomstVakenTidAr" type="xs:date" minOccurs="0"/>'),
    ("RegisterTSDiabetes", "legacy/transportstyrelsen/services_types_1.xsd",
     '<xs:pattern value="[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"/>',
     '<xs:pattern value="[12]\\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"/>'),
    # Types the contracts never use still count: instances can name them in xsi:type.
    ("RegisterTSDiabetes", "legacy/transportstyrelsen/services_1.xsd",
     '<xs:element name="available" type="tt:nonEmptyString"/>', '<xs:element name="available" type="xs:string"/>'),
    ("RegisterTSBas", "legacy/transportstyrelsen/services_1.xsd", '<xs:enumeration value="KANINTETEASTALLNING"/>', ""),
)


(
    test_same_global_declarations,
    test_same_verdict_on_mutations,
    test_corpus_detects_planted_fault,
    test_wsdl_binds_like_official_with_logical_address_header,
) = family_tests(CASES, PLANTED_FAULTS, lambda _case: LOGICAL_ADDRESS)


@pytest.mark.parametrize(("case", "valid", "invalid"), SAMPLE_SPLITS, ids=IDS)
def test_same_verdict_on_samples(case: Case, valid: int, invalid: int) -> None:
    official, ours = schemas(case)
    result = compare(official, ours, (Variant(label, doc) for label, doc in sample_payloads(case)))
    assert not result.disagreements, "\n".join(result.disagreements)
    assert (result.valid, result.invalid) == (valid, invalid)
