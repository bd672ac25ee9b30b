"""The doctor's signature: the profile's transform chain verified (the official signed samples, and
certificates the development PKI signs with python-xmlsec), every tampered variant failing with its
reason, and the signer judged against the trusted CAs at the signing time."""

from __future__ import annotations

import base64
import copy
import datetime as dt
from pathlib import Path

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from intygstjanst.certificates import xmldsig
from intygstjanst.certificates.signature import (
    ENFORCE,
    INVALID,
    NOT_CHECKED,
    OFF,
    REPORT,
    SWEDISH_TIME,
    UNSIGNED,
    VALID,
    SignatureChecker,
    SignatureResult,
    Signed,
)
from intygstjanst.certificates.signer_trust import SignerTrust
from intygstjanst.contracts.xml import CORE, TYPES, XMLDSIG
from intygstjanst.settings import SettingsError
from intygstjanst.tls.pki import DevCa

from intygstjanst.tests.signing_support import (
    DOCTOR,
    OTHER_DOCTOR,
    SAMPLE_ID,
    SIGNED_SAMPLES,
    SigningPki,
    intyg_of,
    lisjp,
    signed,
)
from intygstjanst.tests.soap import sample
from intygstjanst.tests.support import require_shared

DS = f"{{{XMLDSIG}}}"


def now() -> dt.datetime:
    """Read afresh in each test: a module-level time would lag the session CA under a slow run."""
    return dt.datetime.now(dt.UTC)


def xmlsec_verifies(intyg: etree._Element) -> bool:
    """python-xmlsec's own verdict on a bare (unwrapped) signature, running the whole chain itself."""
    own = copy.deepcopy(intyg)
    etree.ElementTree(own)
    signature = own.find(f"{DS}Signature")
    assert signature is not None
    der = base64.b64decode("".join((signature.findtext(f".//{DS}X509Certificate") or "").split()))
    context = xmlsec.SignatureContext()
    for transform in (
        xmlsec.constants.TransformEnveloped,
        xmlsec.constants.TransformXslt,
        xmlsec.constants.TransformXPath2,
        xmlsec.constants.TransformExclC14N,
        xmlsec.constants.TransformSha256,
    ):
        context.enable_reference_transform(transform)
    context.key = xmlsec.Key.from_memory(der, xmlsec.constants.KeyDataFormatCertDer)
    try:
        context.verify(signature)
    except xmlsec.Error:
        return False
    return True


def problem(intyg: etree._Element, certificate_id: str) -> xmldsig.SignatureProblem:
    with pytest.raises(xmldsig.SignatureProblem) as caught:
        xmldsig.verify(intyg, certificate_id)
    return caught.value


# --- the official signed samples ------------------------------------------------------------------


@pytest.mark.parametrize("name", SIGNED_SAMPLES)
def test_the_official_signed_samples_verify(name: str) -> None:
    require_shared()
    intyg = intyg_of(sample(name))
    intact = xmldsig.verify(intyg, SAMPLE_ID)
    assert intact.signer.subject.rfc4514_string() == "O=Callista,L=Gothenburg,ST=VG,C=SE"
    assert xmlsec_verifies(intyg)  # and libxmlsec1, running the chain itself, agrees


@pytest.mark.parametrize("name", SIGNED_SAMPLES)
def test_an_official_sample_changed_after_signing_fails(name: str) -> None:
    require_shared()
    intyg = intyg_of(sample(name))
    delsvar = intyg.find(f"{{{CORE}}}svar/{{{CORE}}}delsvar[@id='1.2']")
    assert delsvar is not None
    delsvar.text = "2016-08-09"
    assert problem(intyg, SAMPLE_ID).code == "digest"
    assert not xmlsec_verifies(intyg)


def test_the_official_samples_signer_is_an_untrusted_issuer_not_valid_at_signing_time(signing_pki: SigningPki) -> None:
    """Their signer is a self-signed test certificate (O=Callista) issued two days after the
    certificate's signeringstidpunkt: intact, but neither trusted nor valid when it signed."""
    require_shared()
    checker = SignatureChecker(REPORT, SignerTrust.load(signing_pki.bundle, None))
    intyg = intyg_of(sample(SIGNED_SAMPLES[0]))
    result = checker.check(intyg, Signed(SAMPLE_ID, "TSTNMT2321000156-1079", dt.datetime(2018, 3, 8, 11, 54, 22)), now())
    assert (result.status, result.reason_code) == (INVALID, "untrusted_issuer")
    assert "untrusted issuer: O=Callista,L=Gothenburg,ST=VG,C=SE" in result.reason
    assert "was not valid at the signing time 2018-03-08 10:54:22 UTC (valid 2018-03-10 20:06:40 UTC" in result.reason
    assert result.signer_subject == "O=Callista,L=Gothenburg,ST=VG,C=SE"
    assert "no HSA-id" in result.remark
    assert checker.refusal(result, "LISJP") is None  # report mode never refuses


# --- certificates signed by the development PKI ---------------------------------------------------


@pytest.mark.parametrize("wrapped", [True, False], ids=["in underskrift", "bare"])
def test_a_certificate_signed_by_the_development_pki_verifies(signing_pki: SigningPki, wrapped: bool) -> None:
    intyg = intyg_of(signed(lisjp(), signing_pki.signer(), wrapped=wrapped))
    intact = xmldsig.verify(intyg, "signed-lisjp-1")
    assert intact.signer.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value == DOCTOR
    if not wrapped:
        assert xmlsec_verifies(intyg)


def test_the_parts_that_change_after_signing_are_not_signed(signing_pki: SigningPki) -> None:
    """skickatTidpunkt, relations and statuses are added or changed after signing."""
    intyg = intyg_of(signed(lisjp(), signing_pki.signer()))
    sent = intyg.find(f"{{{CORE}}}skickatTidpunkt")
    assert sent is not None
    sent.text = "2027-01-01T00:00:00"
    relation = etree.Element(f"{{{CORE}}}relation")
    etree.SubElement(etree.SubElement(relation, f"{{{CORE}}}typ"), f"{{{TYPES}}}code").text = "ERSATT"
    sent.addnext(relation)
    xmldsig.verify(intyg, "signed-lisjp-1")


def _answer(intyg: etree._Element) -> None:
    delsvar = next(d for d in intyg.iter(f"{{{CORE}}}delsvar") if (d.text or "").strip())
    delsvar.text = (delsvar.text or "") + " (changed)"


def _patient(intyg: etree._Element) -> None:
    _set(intyg, f"{{{CORE}}}patient/{{{CORE}}}person-id/{{{TYPES}}}extension", "197710112348")


def _issuer(intyg: etree._Element) -> None:
    _set(intyg, f"{{{CORE}}}skapadAv/{{{CORE}}}personal-id/{{{TYPES}}}extension", OTHER_DOCTOR)


def _care_unit(intyg: etree._Element) -> None:
    _set(intyg, f"{{{CORE}}}skapadAv/{{{CORE}}}enhet/{{{CORE}}}enhetsnamn", "Another unit")


def _signing_time(intyg: etree._Element) -> None:
    _set(intyg, f"{{{CORE}}}signeringstidpunkt", "2020-01-01T00:00:00")


def _signature_value(intyg: etree._Element) -> None:
    element = _signature(intyg).find(f"{DS}SignatureValue")
    assert element is not None
    value = bytearray(base64.b64decode("".join((element.text or "").split())))
    value[5] ^= 0x01
    element.text = base64.b64encode(bytes(value)).decode()


def _digest(intyg: etree._Element) -> None:
    element = _signature(intyg).find(f"{DS}SignedInfo/{DS}Reference/{DS}DigestValue")
    assert element is not None
    element.text = base64.b64encode(b"\x00" * 32).decode()


def _set(intyg: etree._Element, path: str, value: str) -> None:
    element = intyg.find(path)
    assert element is not None, path
    element.text = value


def _signature(intyg: etree._Element) -> etree._Element:
    located = xmldsig.locate(intyg)
    assert located is not None
    return located.signature


TAMPERING = {
    "answer changed": (_answer, "digest"),
    "patient changed": (_patient, "digest"),
    "signing doctor changed": (_issuer, "digest"),
    "care unit changed": (_care_unit, "digest"),
    "signing time changed": (_signing_time, "digest"),
    "signature value changed": (_signature_value, "signature"),
    "digest changed": (_digest, "signed_info"),
}


@pytest.mark.parametrize("change", TAMPERING, ids=list(TAMPERING))
def test_a_change_after_signing_fails_with_its_reason(signing_pki: SigningPki, change: str) -> None:
    tamper, code = TAMPERING[change]
    intyg = intyg_of(signed(lisjp(), signing_pki.signer(), wrapped=False))
    tamper(intyg)
    assert problem(intyg, "signed-lisjp-1").code == code
    assert not xmlsec_verifies(intyg)


def test_a_swapped_certificate_fails_as_a_signature_that_does_not_verify(signing_pki: SigningPki) -> None:
    intyg = intyg_of(signed(lisjp(), signing_pki.signer()))
    other = x509.load_pem_x509_certificate(signing_pki.signer(OTHER_DOCTOR).cert.read_bytes())
    element = _signature(intyg).find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    assert element is not None
    element.text = base64.b64encode(other.public_bytes(serialization.Encoding.DER)).decode()
    found = problem(intyg, "signed-lisjp-1")
    assert found.code == "signature"
    assert "the certificate is not the signer's" in found.detail


def test_a_signature_for_another_certificate_id_fails_the_profile(signing_pki: SigningPki) -> None:
    """The intersect filter names the id it was signed for: moving the signature to another
    certificate (or changing the id) leaves the profile."""
    intyg = intyg_of(signed(lisjp(), signing_pki.signer()))
    found = problem(intyg, "another-id")
    assert found.code == "profile"
    assert "//extension[text()='another-id']/../.." in found.detail


def _drop_xslt(signature: etree._Element) -> None:
    transforms = signature.findall(f"{DS}SignedInfo/{DS}Reference/{DS}Transforms/{DS}Transform")
    transforms[1].getparent().remove(transforms[1])  # type: ignore[union-attr]


def _widen_stylesheet(signature: etree._Element) -> None:
    param = next(signature.iter("{http://www.w3.org/1999/XSL/Transform}param"))
    param.set("select", "'|skickatTidpunkt|relation|status|valideringsunderlag|svar|'")


def _subtract_answers(signature: etree._Element) -> None:
    xpath = list(signature.iter(f"{{{xmldsig.FILTER2}}}XPath"))[1]
    xpath.text = f"{xpath.text}|//*[local-name() = 'svar']"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_drop_xslt, "the reference's transforms are enveloped-signature, XPath Filter 2.0, XPath Filter 2.0, exclusive c14n"),
        (_widen_stylesheet, "the XSLT transform is not the profile's stylesheet"),
        (_subtract_answers, "the XPath Filter 2.0 subtract transform is not"),
    ],
    ids=["a transform left out", "the stylesheet drops the answers", "the subtract filter drops the answers"],
)
def test_a_transform_chain_that_signs_less_than_the_certificate_fails_the_profile(signing_pki: SigningPki, change, words: str) -> None:  # type: ignore[no-untyped-def]
    intyg = intyg_of(signed(lisjp(), signing_pki.signer()))
    change(_signature(intyg))
    found = problem(intyg, "signed-lisjp-1")
    assert (found.code, words in found.detail) == ("profile", True), found.detail


def test_a_stylesheet_written_differently_is_still_the_profiles() -> None:
    """Attribute order, extra namespace declarations and indentation do not matter (the samples
    differ in all three)."""
    written = etree.fromstring(
        xmldsig.STYLESHEET.replace('<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">',
                                   '<xsl:stylesheet version="1.0" xmlns:ns3="urn:x" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">')
    )
    assert xmldsig._normalized_stylesheet(written) == xmldsig._PROFILE_FORM


# --- the signer: trusted CAs at the signing time, revocation, identity ----------------------------


def check(signing_pki: SigningPki, payload: etree._Element, *, mode: str = REPORT, crl: Path | None = None, signed_at: dt.datetime | None = None) -> SignatureResult:
    checker = SignatureChecker(mode, SignerTrust.load(signing_pki.bundle, crl))
    intyg = intyg_of(payload)
    signing_time = intyg.findtext(f"{{{CORE}}}signeringstidpunkt")
    facts = Signed(
        intyg.findtext(f"{{{CORE}}}intygs-id/{{{TYPES}}}extension") or "",
        intyg.findtext(f"{{{CORE}}}skapadAv/{{{CORE}}}personal-id/{{{TYPES}}}extension") or "",
        signed_at or (dt.datetime.fromisoformat(signing_time) if signing_time else None),
    )
    return checker.check(intyg, facts, now().replace(tzinfo=None))


def test_a_signature_by_the_named_doctor_with_a_trusted_certificate_is_valid(signing_pki: SigningPki) -> None:
    result = check(signing_pki, signed(lisjp(), signing_pki.signer()))
    assert result == SignatureResult(VALID, signer_subject=result.signer_subject, signer_hsa_id=DOCTOR)
    assert f"2.5.4.5={DOCTOR}" in result.signer_subject


def test_a_signer_from_another_ca_is_an_untrusted_issuer(signing_pki: SigningPki, other_signing_pki: SigningPki) -> None:
    result = check(signing_pki, signed(lisjp(), other_signing_pki.signer()))
    assert (result.status, result.reason_code) == (INVALID, "untrusted_issuer")
    assert f"the trust bundle {signing_pki.bundle}" in result.reason
    refusal = SignatureChecker(ENFORCE, SignerTrust.load(signing_pki.bundle, None)).refusal(result, "LISJP")
    assert refusal is not None and refusal.startswith("underskrift: the signature does not hold (untrusted_issuer): untrusted issuer: ")


def test_a_signer_certificate_expired_at_the_signing_time_is_invalid(signing_pki: SigningPki) -> None:
    start = signing_pki.ca.cert.not_valid_before_utc + dt.timedelta(seconds=1)
    issued = signing_pki.signer_valid("expired", start, start + dt.timedelta(minutes=1))
    result = check(signing_pki, signed(lisjp(), issued))
    assert (result.status, result.reason_code) == (INVALID, "not_valid_at_signing_time")
    assert "was not valid at the signing time" in result.reason


def test_the_signing_time_decides_not_the_time_of_receipt(signing_pki: SigningPki) -> None:
    """A certificate signed while the signer's certificate was valid stays valid after it expires."""
    start = signing_pki.ca.cert.not_valid_before_utc + dt.timedelta(seconds=1)
    issued = signing_pki.signer_valid("expired-since", start, start + dt.timedelta(minutes=2))
    payload = signed(lisjp(signed_at=start + dt.timedelta(minutes=1)), issued)
    assert check(signing_pki, payload).status == VALID


def test_a_signer_revoked_before_signing_is_invalid_and_after_signing_is_reported(signing_pki: SigningPki, tmp_path: Path) -> None:
    issued = signing_pki.ca.issue_signing_cert(DOCTOR, tmp_path / "revoked")
    crl = signing_pki.ca.write_crl([issued.cert], tmp_path / "crl.pem")
    payload = signed(lisjp(), issued)
    signed_after_revocation = check(signing_pki, copy.deepcopy(payload), crl=crl, signed_at=(now() + dt.timedelta(hours=1)).astimezone(dt.UTC))
    assert (signed_after_revocation.status, signed_after_revocation.reason_code) == (INVALID, "revoked")
    signed_before_revocation = check(signing_pki, payload, crl=crl, signed_at=now() - dt.timedelta(minutes=4))
    assert signed_before_revocation.status == VALID
    assert "was revoked on" in signed_before_revocation.remark and "after the signing time" in signed_before_revocation.remark


def test_a_signer_other_than_the_signing_doctor_is_reported_not_refused(signing_pki: SigningPki) -> None:
    result = check(signing_pki, signed(lisjp(), signing_pki.signer(OTHER_DOCTOR)), mode=ENFORCE)
    assert result.status == VALID
    assert result.remark == f"the signer {OTHER_DOCTOR} is not the signing doctor (skapadAv) {DOCTOR}"


# --- modes -----------------------------------------------------------------------------------------


def test_off_checks_nothing_and_an_unsigned_certificate_is_unsigned(signing_pki: SigningPki) -> None:
    assert check(signing_pki, signed(lisjp(), signing_pki.signer()), mode=OFF).status == NOT_CHECKED
    assert check(signing_pki, lisjp()) == SignatureResult(UNSIGNED, reason="no underskrift")


def test_enforce_refuses_an_unsigned_certificate_only_of_a_required_type(signing_pki: SigningPki) -> None:
    trust = SignerTrust.load(signing_pki.bundle, None)
    unsigned = SignatureResult(UNSIGNED, reason="no underskrift")
    assert SignatureChecker(ENFORCE, trust).refusal(unsigned, "LISJP") is None
    required = SignatureChecker(ENFORCE, trust, frozenset({"lisjp"}))
    assert required.refusal(unsigned, "LISJP") == "underskrift: a certificate of type LISJP must be signed, and this one is not (no underskrift)"
    assert required.refusal(unsigned, "LUSE") is None
    assert SignatureChecker(ENFORCE, trust, frozenset({"*"})).refusal(unsigned, "LUSE") is not None
    assert SignatureChecker(REPORT, trust, frozenset({"*"})).refusal(unsigned, "LUSE") is None


def test_settings_that_cannot_work_stop_the_start(signing_pki: SigningPki, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="signature_mode enforce needs signature_trust_bundle"):
        SignatureChecker(ENFORCE)
    with pytest.raises(SettingsError, match="signature_mode must be one of off, report, enforce"):
        SignatureChecker("strict")
    leaf = signing_pki.signer().cert
    with pytest.raises(SettingsError, match=f"signature_trust_bundle: {leaf}: certificate #1 .* is not a CA certificate"):
        SignerTrust.load(leaf, None)
    foreign = DevCa.create(tmp_path / "foreign")
    crl = foreign.write_crl([], tmp_path / "foreign-crl.pem")
    with pytest.raises(SettingsError, match="signature_crl: .* is not signed by a CA in signature_trust_bundle"):
        SignerTrust.load(signing_pki.bundle, crl)
    with pytest.raises(SettingsError, match="signature_crl needs signature_trust_bundle"):
        SignerTrust.load(None, crl)


def test_a_server_on_the_development_pki_trusts_its_doctors_signatures(tmp_path: Path, signing_pki: SigningPki) -> None:
    from intygstjanst.settings import Settings
    from intygstjanst.tls.security import prepare

    settings, _ = prepare(Settings(data_dir=tmp_path))
    assert settings.signature_trust_bundle == (tmp_path / "tls" / "ca.pem").resolve()
    doctor = DevCa.load(tmp_path / "tls").issue_signing_cert(DOCTOR, tmp_path / "tls" / "signers")
    checker = SignatureChecker.from_settings(settings)
    intyg = intyg_of(signed(lisjp(), doctor))
    facts = Signed("signed-lisjp-1", DOCTOR, dt.datetime.fromisoformat(intyg.findtext(f"{{{CORE}}}signeringstidpunkt") or ""))
    assert checker.check(intyg, facts, now().replace(tzinfo=None)).status == VALID
    configured, _ = prepare(Settings(data_dir=tmp_path, signature_trust_bundle=signing_pki.bundle))
    assert configured.signature_trust_bundle == signing_pki.bundle


def test_the_sign_command_signs_as_the_named_doctor_of_the_development_pki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from intygstjanst import cli

    from intygstjanst.tests.signing_support import EXAMPLE

    out = tmp_path / "signed.xml"
    assert cli.main(["sign", str(EXAMPLE), "--out", str(out), "--data-dir", str(tmp_path)]) == 1
    assert "no development CA in" in capsys.readouterr().err
    DevCa.create(tmp_path / "tls")
    assert cli.main(["sign", str(EXAMPLE), "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    assert f"issued a signing certificate for {DOCTOR}" in capsys.readouterr().err
    intyg = etree.parse(str(out)).getroot().find(".//{*}intyg")
    assert intyg is not None
    assert xmldsig.locate(intyg) is not None and xmldsig.locate(intyg).wrapper is not None  # type: ignore[union-attr]
    intact = xmldsig.verify(intyg, "example-lisjp-1")
    assert intact.signer.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value == DOCTOR
    signed_at = dt.datetime.fromisoformat(intyg.findtext(f"{{{CORE}}}signeringstidpunkt") or "")
    assert abs(signed_at.replace(tzinfo=SWEDISH_TIME) - now()) < dt.timedelta(minutes=5)  # stamped now


def test_a_key_info_stuffed_with_certificates_is_refused_before_reading_them(signing_pki: SigningPki) -> None:
    intyg = intyg_of(signed(lisjp(), signing_pki.signer()))
    x509_data = _signature(intyg).find(f"{DS}KeyInfo/{DS}X509Data")
    assert x509_data is not None
    for _ in range(20):
        etree.SubElement(x509_data, f"{DS}X509Certificate").text = "not even base64"
    found = problem(intyg, "signed-lisjp-1")
    assert (found.code, found.detail) == ("certificate", "KeyInfo holds 21 certificates, more than 10")


def test_a_stylesheet_that_reads_files_is_never_run(signing_pki: SigningPki) -> None:
    """The sender's stylesheet is compared, not run: one that would read a file is just not the profile."""
    intyg = intyg_of(signed(lisjp(), signing_pki.signer()))
    template = next(_signature(intyg).iter("{http://www.w3.org/1999/XSL/Transform}template"))
    etree.SubElement(template, "{http://www.w3.org/1999/XSL/Transform}copy-of", select="document('/etc/passwd')")
    found = problem(intyg, "signed-lisjp-1")
    assert (found.code, found.detail) == ("profile", "the XSLT transform is not the profile's stylesheet")
