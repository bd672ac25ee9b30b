"""The rehabilitation contracts ListActiveSickLeavesForCareUnit 1.0 and ListSickLeavesForPerson 1.0.

There are no official sample messages for them, so the corpus grows from
hand-written requests and responses that use every optional part. Our schemas
must give the same verdict as the official ones on all of it; our WSDLs must
load in zeep and describe the rivtabp21 binding.
"""

from __future__ import annotations

from intygstjanst.tests.differential.legacy_mutations import (
    FOREIGN_NS,
    LOGICAL_ADDRESS,
    Case,
    family_tests,
)
from intygstjanst.tests.support import require_shared

require_shared()
OFFICIAL = "intyg/clinicalprocess-healthcond-rehabilitation/schemas/interactions"
RH = "urn:riv:clinicalprocess:healthcond:rehabilitation:1"
T2 = "urn:riv:clinicalprocess:healthcond:certificate:types:2"
ACTIVE_NS = "urn:riv:clinicalprocess:healthcond:rehabilitation:ListActiveSickLeavesForCareUnitResponder:1"
PERSON_NS = "urn:riv:clinicalprocess:healthcond:rehabilitation:ListSickLeavesForPersonResponder:1"
HSA = "1.2.752.129.2.1.4.1"


def _hsa(tag: str, extension: str) -> str:
    return f"<{tag}><t:root>{HSA}</t:root><t:extension>{extension}</t:extension></{tag}>"


def _person(tag: str) -> str:
    return f"<{tag}><t:root>1.2.752.129.2.1.3.1</t:root><t:extension>191212121212</t:extension></{tag}>"


_VARDGIVARE = _hsa("r:vardgivarId", "SE2321000016-VG01") + "<r:vardgivarnamn>Region Norr</r:vardgivarnamn>"

_INTYG_FULL = f"""
<r:intygsData>
  <r:intygsId>5f0c1b1e-0000-4c55-9f00-0123456789ab</r:intygsId>
  <r:patient>{_person("r:personId")}<r:fullstandigtNamn>Tolvan Tolvansson</r:fullstandigtNamn></r:patient>
  <r:skapadAv>
    {_hsa("r:personalId", "SE2321000016-1234")}
    <r:fullstandigtNamn>Ajla Doktor</r:fullstandigtNamn>
    <r:befattningar>
      <r:befattning><t:code>201010</t:code><t:codeSystem>1.2.752.129.2.2.1.4</t:codeSystem>
        <t:displayName>Överläkare</t:displayName></r:befattning>
      <r:befattning><t:code>203090</t:code><t:codeSystem>1.2.752.129.2.2.1.4</t:codeSystem></r:befattning>
    </r:befattningar>
    <r:enhet>
      {_hsa("r:enhetsId", "SE2321000016-ABCD")}
      <r:enhetsnamn>Vårdcentralen Norr</r:enhetsnamn>
      <r:vardgivare>{_VARDGIVARE}</r:vardgivare>
    </r:enhet>
  </r:skapadAv>
  <r:diagnoskod>M54.5</r:diagnoskod>
  <r:bidiagnoser>F32.1</r:bidiagnoser>
  <r:bidiagnoser>J45</r:bidiagnoser>
  <r:arbetsformaga>
    <r:formaga><r:startdatum>2016-02-01</r:startdatum><r:slutdatum>2016-02-14</r:slutdatum>
      <r:nedsattning>100</r:nedsattning></r:formaga>
    <r:formaga><r:startdatum>2016-02-15</r:startdatum><r:slutdatum>2016-03-01</r:slutdatum>
      <r:nedsattning>50</r:nedsattning></r:formaga>
  </r:arbetsformaga>
  <r:enkeltIntyg>false</r:enkeltIntyg>
  <r:signeringsTidpunkt>2016-02-01T10:11:12</r:signeringsTidpunkt>
  <r:sysselsattning>NUVARANDE_ARBETE</r:sysselsattning>
  <r:sysselsattning>ARBETSSOKANDE</r:sysselsattning>
  <r:sysselsattning>FORALDRALEDIG</r:sysselsattning>
  <r:sysselsattning>STUDIER</r:sysselsattning>
</r:intygsData>"""

_INTYG_MINIMAL = f"""
<r:intygsData>
  <r:intygsId>intyg-2</r:intygsId>
  <r:patient>{_person("r:personId")}<r:fullstandigtNamn>Tolvan Tolvansson</r:fullstandigtNamn></r:patient>
  <r:skapadAv>
    {_hsa("r:personalId", "SE2321000016-5678")}
    <r:befattningar/>
    <r:enhet>{_hsa("r:enhetsId", "SE2321000016-ABCD")}<r:enhetsnamn>Vårdcentralen Norr</r:enhetsnamn></r:enhet>
  </r:skapadAv>
  <r:diagnoskod>M54.5</r:diagnoskod>
  <r:arbetsformaga>
    <r:formaga><r:startdatum>2016-03-02</r:startdatum><r:slutdatum>2016-03-31</r:slutdatum>
      <r:nedsattning>25</r:nedsattning></r:formaga>
  </r:arbetsformaga>
  <r:enkeltIntyg>true</r:enkeltIntyg>
  <r:signeringsTidpunkt>2016-03-02T08:00:00.123+01:00</r:signeringsTidpunkt>
</r:intygsData>"""

_NS = f'xmlns:r="{RH}" xmlns:t="{T2}"'

ACTIVE_REQUEST = f"""
<ListActiveSickLeavesForCareUnit xmlns="{ACTIVE_NS}" {_NS}>
  {_hsa("enhets-id", "SE2321000016-ABCD")}
  {_person("person-id")}
  <max-dagar-sedan-avslut>5</max-dagar-sedan-avslut>
</ListActiveSickLeavesForCareUnit>"""

ACTIVE_RESPONSE = f"""
<ListActiveSickLeavesForCareUnitResponse xmlns="{ACTIVE_NS}" {_NS}>
  <vardgivare>{_VARDGIVARE}</vardgivare>
  <intygsLista>{_INTYG_FULL}{_INTYG_MINIMAL}</intygsLista>
  <resultCode>OK</resultCode>
  <comment>2 intyg</comment>
</ListActiveSickLeavesForCareUnitResponse>"""

PERSON_REQUEST = f'<ListSickLeavesForPerson xmlns="{PERSON_NS}" {_NS}>{_person("person-id")}</ListSickLeavesForPerson>'

PERSON_RESPONSE = f"""
<ListSickLeavesForPersonResponse xmlns="{PERSON_NS}" {_NS}>
  <vardgivare>{_VARDGIVARE}</vardgivare>
  <intygsLista>{_INTYG_FULL}{_INTYG_MINIMAL}</intygsLista>
  <result><resultCode>INFO</resultCode><resultMessage>Sekretessmarkerad patient</resultMessage></result>
</ListSickLeavesForPersonResponse>"""

# The types:2 vocabulary the messages never use: stand-alone elements (lax
# wildcards validate them by name) and xsi:typed foreign elements.
_T = f'xmlns:t="{T2}"'
_TYPED = f'xmlns:f="{FOREIGN_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" {_T}'


def _code(type_name: str, code_system: str) -> str:
    return (
        f'<f:code {_TYPED} xsi:type="t:{type_name}"><t:code>K1</t:code>'
        f"<t:codeSystem>{code_system}</t:codeSystem><t:displayName>Kod</t:displayName></f:code>"
    )


EMBEDDED = (
    f"<t:ii {_T}><t:root>1.2.3</t:root><t:extension>x</t:extension></t:ii>",
    f"<t:cv {_T}><t:code>A01</t:code><t:codeSystem>1.2.752.116.1.1.1.1.3</t:codeSystem>"
    "<t:codeSystemName>ICD-10-SE</t:codeSystemName><t:codeSystemVersion>2016</t:codeSystemVersion>"
    "<t:displayName>Tyfoidfeber</t:displayName><t:originalText>tyfus</t:originalText></t:cv>",
    f"<t:pq {_T}><t:value>1.5</t:value><t:unit>mg</t:unit></t:pq>",
    f"<t:pqInterval {_T}><t:low>1</t:low><t:high>2.5</t:high><t:unit>mmol/l</t:unit></t:pqInterval>",
    f"<t:date {_T}>2016-02-01</t:date>",
    f"<t:timestamp {_T}>2016-02-01T10:11:12</t:timestamp>",
    f"<t:datePeriod {_T}><t:start>2016-02-01</t:start><t:end>2016-02-14</t:end></t:datePeriod>",
    f"<t:timePeriod {_T}><t:start>2016-02-01T10:11:12</t:start><t:end>2016-02-01T11:00:00</t:end></t:timePeriod>",
    f"<t:partialDate {_T}><t:format>YYYY-MM</t:format><t:value>2016-02</t:value></t:partialDate>",
    f'<f:id {_TYPED} xsi:type="t:IntygId"><t:root>1.2.3</t:root><t:extension>intyg-1</t:extension></f:id>',
    f'<f:id {_TYPED} xsi:type="t:ArbetsplatsKod"><t:root>1.2.752.29.4.71</t:root><t:extension>123</t:extension></f:id>',
    f'<f:code {_TYPED} xsi:type="t:Specialistkompetens"><t:code>32</t:code><t:displayName>Allmänmedicin</t:displayName></f:code>',
    _code("TypAvIntyg", "f6fb361a-e31d-48b8-8657-99b63912dd9b"),
    _code("Handelsekod", "dfd7bbad-dbe5-4a2f-ba25-f7b9b2cc6b14"),
    _code("Statuskod", "9871cd17-8755-4ed9-b894-ff3729e775a4"),
    _code("Part", "769bb12b-bd9f-4203-a5cd-fd14f2eb3b80"),
    _code("TypAvRelation", "c2362fcd-eda0-4f9a-bd13-b3bbaf7f2146"),
    _code("Amneskod", "ffa59d8f-8d7e-46ae-ac9e-31804e8e8499"),
    f'<f:time {_TYPED} xsi:type="t:TimeStampMedMillisekunder">2016-02-01T10:11:12.345</f:time>',
)


def _case(name: str, namespace: str, request: str, response: str) -> Case:
    return Case(
        name=name,
        schema_version="1.0",
        wsdl_version="1.0",
        profile="RIVTABP21",
        official_dir=f"{OFFICIAL}/{name}Interaction",
        namespace=namespace,
        request=name,
        response=f"{name}Response",
        hand_written=(request, response),
        embedded=EMBEDDED,
    )


CASES = (
    _case("ListActiveSickLeavesForCareUnit", ACTIVE_NS, ACTIVE_REQUEST, ACTIVE_RESPONSE),
    _case("ListSickLeavesForPerson", PERSON_NS, PERSON_REQUEST, PERSON_RESPONSE),
)

# Deliberate mistakes in a copy of our schemas; each must change some verdict.
PLANTED_FAULTS = (
    ("ListActiveSickLeavesForCareUnit", "interactions/ListActiveSickLeavesForCareUnitResponder_1.0.xsd",
     '<xs:maxInclusive value="14"/>', '<xs:maxInclusive value="15"/>'),
    ("ListActiveSickLeavesForCareUnit", "legacy/rehabilitation/rehabilitation_1.xsd",
     '<xs:element name="sysselsattning" type="xs:string" minOccurs="0" maxOccurs="4"/>',
     '<xs:element name="sysselsattning" type="xs:string" minOccurs="0" maxOccurs="3"/>'),
    ("ListSickLeavesForPerson", "legacy/rehabilitation/rehabilitation_1.xsd",
     '<xs:minInclusive value="1"/>', '<xs:minInclusive value="0"/>'),
    ("ListSickLeavesForPerson", "legacy/rehabilitation/certificate_types_2.xsd",
     '<xs:pattern value="\\d{12}"/>', '<xs:pattern value="[0-9]{12}"/>'),
    ("ListSickLeavesForPerson", "legacy/rehabilitation/certificate_types_2.xsd",
     '<xs:element name="root" type="xs:string" fixed="1.2.752.129.2.1.4.1"/>',
     '<xs:element name="root" type="xs:string"/>'),
    # Parts of types:2 that no message uses.
    ("ListSickLeavesForPerson", "legacy/rehabilitation/certificate_types_2.xsd",
     '<xs:element name="codeSystem" type="xs:string" fixed="769bb12b-bd9f-4203-a5cd-fd14f2eb3b80"/>',
     '<xs:element name="codeSystem" type="xs:string"/>'),
    ("ListActiveSickLeavesForCareUnit", "legacy/rehabilitation/certificate_types_2.xsd",
     '<xs:element name="low" type="xs:double" minOccurs="0"/>', '<xs:element name="low" type="xs:double"/>'),
    ("ListActiveSickLeavesForCareUnit", "legacy/rehabilitation/certificate_types_2.xsd",
     '<xs:pattern value="\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d.\\d{3}"/>',
     '<xs:pattern value="\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d.\\d{2,3}"/>'),
)


(
    test_same_global_declarations,
    test_same_verdict_on_mutations,
    test_corpus_detects_planted_fault,
    test_wsdl_binds_like_official_with_logical_address_header,
) = family_tests(CASES, PLANTED_FAULTS, lambda _case: LOGICAL_ADDRESS)
