"""SendMessageToCare v2 and SendMessageToRecipient v2 through the in-process app: every answer each
contract can give, what is stored, and that every answer is valid against the response schema."""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from intygstjanst.handlers import messages as handlers
from intygstjanst.handlers.messages import payload_digest
from intygstjanst.persistence import certificates
from intygstjanst.persistence import messages as repo
from intygstjanst.persistence.messages import Direction
from intygstjanst.persistence.models import Base, Message, OutboxItem
from intygstjanst.persistence.tables import CERTIFICATES
from intygstjanst.registers.persons import SAMORDNINGSNUMMER_ROOT
from intygstjanst.tests.messages_support import (
    CARE_UNIT,
    CERT,
    FK_ADDRESS,
    OTHER_CERT,
    STATE_REJECTIONS,
    STATIC_REJECTIONS,
    TEST_CERT,
    UNSENT_CERT,
    TO_CARE,
    TO_RECIPIENT,
    A,
    V,
    care_refusal,
    recipient_refusal,
    referred_thread,
    to_care,
    to_recipient,
)
from intygstjanst.tests.soap import (
    REGISTER,
    VALIDATION_PERSON,
    certificate,
    envelope,
    post,
    result,
)
from intygstjanst.tests.support import REPO_DIR, SOAP11_ENV_NS, require_shared
from lxml import etree
from sqlalchemy import select


@pytest.fixture
def thread(client, db):  # type: ignore[no-untyped-def]
    """Two LISJP certificates of the same patient, both sent to Försäkringskassan; one sent to nobody;
    a test certificate sent to Försäkringskassan."""
    require_shared()
    for certificate_id in (CERT, OTHER_CERT, UNSENT_CERT):
        response = post(client, REGISTER, envelope(certificate(certificate_id)))
        assert result(response.content)[0] == "OK", response.text
    test = certificate(TEST_CERT, patient=VALIDATION_PERSON)
    test.find(".//{*}patient/{*}person-id/{*}root").text = SAMORDNINGSNUMMER_ROOT
    assert result(post(client, REGISTER, envelope(test)).content)[0] == "OK"
    for certificate_id in (CERT, OTHER_CERT, TEST_CERT):
        mark_sent(db, certificate_id, "FKASSA")
    return client


def mark_sent(db, certificate_id: str, part: str) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as conn:
        certificates.add_state(conn, certificate_id, "SENT", part, dt.datetime(2030, 1, 2, 8, 0))


def send(client, payload: etree._Element, *, body: bytes | None = None) -> tuple[str, str | None, str | None]:  # type: ignore[no-untyped-def]
    """Post the message to its contract's endpoint; check the answer against the response schema."""
    to_care_message = etree.QName(payload).localname == "SendMessageToCare"
    path = TO_CARE if to_care_message else TO_RECIPIENT
    response = post(client, path, body if body is not None else envelope(payload))
    assert response.status_code == 200, response.text
    answer = etree.fromstring(response.content).find(f"{{{SOAP11_ENV_NS}}}Body")[0]
    contract = client.app.state.services.contracts.by_path(path)
    assert contract.schema.validate(answer), contract.schema.error_log
    assert answer.tag == f"{{{contract.namespace}}}{contract.response}"
    return result(response.content)


def queued(db) -> list[tuple[str, str, str | None, str | None, str, bytes]]:  # type: ignore[no-untyped-def]
    """The outbox: (recipient, contract, logical address, reference, dedupe key, payload) in order."""
    with db.read() as conn:
        rows = conn.execute(
            select(
                OutboxItem.recipient,
                OutboxItem.contract,
                OutboxItem.logical_address,
                OutboxItem.reference,
                OutboxItem.dedupe_key,
                OutboxItem.payload,
            ).order_by(OutboxItem.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def stored(db, message_id: str) -> Message | None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.get(Message, message_id)


OK = ("OK", None, None)


# --- the happy thread -------------------------------------------------------------------------------


def test_question_is_stored_with_its_request(thread, db) -> None:
    question = to_care("q-1", CERT)
    body = envelope(question)
    assert send(thread, question, body=body) == OK
    row = stored(db, "q-1")
    assert row is not None
    assert (row.direction, row.certificate_id, row.patient_id, row.subject) == ("TO_CARE", CERT, "191212121212", "KOMPLT")
    assert (row.sender, row.sender_unit, row.recipient_address) == ("FKASSA", None, CARE_UNIT)
    assert (row.reference_id, row.reminder_of, row.answer_to) == ("ref-q-1", None, None)
    assert row.last_answer_date == dt.date(2030, 2, 10)
    assert row.sent_at == dt.datetime(2030, 1, 10, 9, 30)
    assert row.original == body


def test_answer_reminder_and_follow_up_make_one_thread(thread, db) -> None:
    assert send(thread, to_care("q-2", CERT, subject="KONTKT", completions=[])) == OK
    assert send(thread, to_care("r-2", CERT, subject="PAMINN", reminder_of="q-2", last_answer_date="2030-02-20")) == OK
    assert send(thread, to_recipient("a-2", CERT, subject="KONTKT", answer_to="q-2")) == OK
    # Care asks, and Försäkringskassan answers.
    assert send(thread, to_recipient("q-3", CERT, subject="OVRIGT", last_answer_date="2030-03-01")) == OK
    assert send(thread, to_care("a-3", CERT, subject="OVRIGT", answer_to="q-3", last_answer_date=None)) == OK

    with db.read() as conn:
        thread_rows = repo.for_certificate(conn, CERT)
        assert repo.original(conn, "a-2") is not None
    assert [(m.id, m.direction, m.subject, m.reminder_of, m.answer_to) for m in thread_rows] == [
        ("q-2", Direction.TO_CARE, "KONTKT", None, None),
        ("r-2", Direction.TO_CARE, "PAMINN", "q-2", None),
        ("a-2", Direction.TO_RECIPIENT, "KONTKT", None, "q-2"),
        ("q-3", Direction.TO_RECIPIENT, "OVRIGT", None, None),
        ("a-3", Direction.TO_CARE, "OVRIGT", None, "q-3"),
    ]
    answer = stored(db, "a-2")
    assert (answer.sender, answer.sender_unit, answer.recipient_address) == ("TSTNMT2321000156-DR01", CARE_UNIT, FK_ADDRESS)


def test_accepted_messages_are_queued_for_their_addressee(thread, db) -> None:
    question = to_care("fwd-q", CERT)
    answer = to_recipient("fwd-a", CERT, answer_to="fwd-q")
    assert send(thread, question) == OK
    assert send(thread, answer) == OK
    assert send(thread, to_care("fwd-q", CERT))[:2] == ("ERROR", "VALIDATION_ERROR")  # a resend is not forwarded again
    rows = queued(db)
    assert [row[:5] for row in rows] == [
        ("HSVARD", "SendMessageToCare:2", CARE_UNIT, CERT, "message:fwd-q"),
        ("FKASSA", "SendMessageToRecipient:2", FK_ADDRESS, CERT, "message:fwd-a"),
    ]
    # What goes out is the message as it came in.
    assert [payload_digest(etree.fromstring(row[5])) for row in rows] == [payload_digest(question), payload_digest(answer)]


def test_messages_about_test_certificates(client, db) -> None:
    """As nationally: SendMessageToCare refuses them; SendMessageToRecipient stores them and answers
    OK, but never forwards them. Also: a samordningsnummer names the patient as well as a
    personnummer does."""
    require_shared()
    payload = certificate("msg-test-person", patient=VALIDATION_PERSON)
    payload.find(".//{*}patient/{*}person-id/{*}root").text = SAMORDNINGSNUMMER_ROOT
    assert result(post(client, REGISTER, envelope(payload)).content)[0] == "OK"
    mark_sent(db, "msg-test-person", "FKASSA")
    question = to_care("test-q", "msg-test-person", patient=VALIDATION_PERSON)
    from_care = to_recipient("test-c", "msg-test-person", patient=VALIDATION_PERSON, subject="OVRIGT")
    for message in (question, from_care):
        message.find("{*}patientPerson-id/{*}root").text = SAMORDNINGSNUMMER_ROOT
    refused = care_refusal("test-q", "msg-test-person", "TEST_CERTIFICATE The supplied certificate is invalid. Messages cannot be sent for test certificates.")
    assert send(client, question) == ("ERROR", V, refused)
    assert send(client, from_care) == OK
    assert stored(db, "test-q") is None and stored(db, "test-c") is not None
    assert queued(db) == []


def test_every_subject_is_accepted(thread) -> None:
    for index, subject in enumerate(["KOMPLT", "AVSTMN", "KONTKT", "OVRIGT"]):
        assert send(thread, to_care(f"s-{index}", CERT, subject=subject)) == OK
        assert send(thread, to_recipient(f"s-{index}-care", CERT, subject=subject)) == OK


# --- one message id, one message ----------------------------------------------------------------------


def test_a_used_id_is_refused_also_for_an_identical_resend(thread, db) -> None:
    """As nationally: a message id is used once; the first message stays as it was stored."""
    assert send(thread, to_care("dup-1", CERT)) == OK
    refused = ("ERROR", V, care_refusal("dup-1", CERT, "MEDDELANDE_ID_NOT_UNIQUE_ERRORMeddelande-id is not a GUID"))
    assert send(thread, to_care("dup-1", CERT)) == refused
    assert send(thread, to_care("dup-1", CERT, text="Another question.")) == refused
    # An id is unique across both directions: answers and reminders name messages by id alone.
    assert send(thread, to_recipient("dup-1", CERT)) == ("ERROR", V, "[MeddelandeId is not globally unique]")
    with db.read() as conn:
        assert [m.id for m in repo.for_certificate(conn, CERT)] == ["dup-1"]
    assert b"Another question." not in stored(db, "dup-1").original
    assert len(queued(db)) == 1


def erase(db, certificate_id: str) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as conn:
        conn.execute(CERTIFICATES.update().where(CERTIFICATES.c.id == certificate_id).values(deleted_by_care_giver=True))


# --- rejections -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,message,error_id,text", STATIC_REJECTIONS, ids=[r[0] for r in STATIC_REJECTIONS])
def test_static_rejections(thread, db, name, message, error_id, text) -> None:  # type: ignore[no-untyped-def]
    payload = message()
    assert send(thread, payload) == ("ERROR", error_id, text)
    with db.read() as conn:
        assert repo.for_certificate(conn, CERT) == []
    assert queued(db) == []


def test_all_static_problems_are_reported_at_once(thread) -> None:
    payload = to_recipient("bad-many", CERT, subject="OVRIGT", reminder_of="q", answer_to="p", last_answer_date="2030-02-01")
    assert send(thread, payload) == (
        "ERROR",
        V,
        recipient_refusal(
            "SistaDatumForSvar is only valid on Questions",
            "paminnelseMeddelandeId should only be present if amne is PAMINN",
            "Paminnelse Meddelande does not exist",
            "SvarPa Meddelande does not exist",
        ),
    )


@pytest.fixture
def questions(thread):  # type: ignore[no-untyped-def]
    for message in referred_thread():
        assert send(thread, message) == OK
    return thread


@pytest.mark.parametrize("name,message,error_id,text", STATE_REJECTIONS, ids=[r[0] for r in STATE_REJECTIONS])
def test_rejections_against_stored_state(questions, db, name, message, error_id, text) -> None:  # type: ignore[no-untyped-def]
    before = (queued(db), stored_digests(db))
    assert send(questions, message()) == ("ERROR", error_id, text)
    assert (queued(db), stored_digests(db)) == before


def stored_digests(db) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return [tuple(row) for row in session.execute(select(Message.id, Message.digest).order_by(Message.id)).all()]  # type: ignore[misc]


def test_certificate_erased_by_care_giver_is_unknown(thread, db) -> None:
    erase(db, CERT)
    assert send(thread, to_care("gone-1", CERT)) == ("ERROR", V, care_refusal("gone-1", CERT, "CERTIFICATE_NOT_FOUND_ERROR"))
    assert send(thread, to_recipient("gone-2", CERT)) == ("ERROR", A, "Intyg does not exist")


def test_unknown_certificate_is_accepted_once_it_has_arrived(client, db) -> None:
    """Nothing is stored for a refused message: the same message may succeed later."""
    require_shared()
    question = to_care("late-1", "msg-late")
    assert send(client, question)[1] == V
    post(client, REGISTER, envelope(certificate("msg-late")))
    mark_sent(db, "msg-late", "FKASSA")
    assert send(client, question) == OK


def test_messages_are_removed_with_their_certificate(thread, db) -> None:
    assert send(thread, to_care("cascade-1", CERT)) == OK
    with db.transaction() as conn:
        conn.execute(CERTIFICATES.delete().where(CERTIFICATES.c.id == CERT))
    assert stored(db, "cascade-1") is None
    with db.session() as session:
        assert session.execute(select(Message.id)).all() == []


def between_checks_and_insert(monkeypatch, change) -> None:  # type: ignore[no-untyped-def]
    """Run ``change`` once, right after the handler has read what its checks need and before it
    stores the message: a concurrent request or erasure landing in between."""
    read = handlers.Found.read
    pending = [change]

    def read_then_change(services, message):  # type: ignore[no-untyped-def]
        found = read(services, message)
        while pending:
            pending.pop()()
        return found

    monkeypatch.setattr(handlers.Found, "read", staticmethod(read_then_change))


def message_of(certificate_id: str, message_id: str) -> repo.NewMessage:
    return repo.NewMessage(
        message_id, Direction.TO_CARE, certificate_id, "191212121212", "OVRIGT", None, "FKASSA", None, CARE_UNIT,
        None, None, None, dt.datetime(2030, 1, 3), "0" * 64, b"<m/>",
    )


def remove_certificate(db, certificate_id: str) -> None:  # type: ignore[no-untyped-def]
    """What an erasure does to a certificate: its rows go (its messages with it)."""
    with db.transaction() as conn:
        conn.execute(CERTIFICATES.delete().where(CERTIFICATES.c.id == certificate_id))


def test_the_repository_tells_a_used_id_from_an_unknown_certificate(thread, db) -> None:
    """Only the message id's uniqueness means a used id; the certificate's foreign key failing
    means the certificate is not (or no longer) stored."""
    with db.transaction() as conn:
        repo.insert(conn, message_of(CERT, "repo-1"), dt.datetime(2030, 1, 3))
    with pytest.raises(repo.MessageIdTaken), db.transaction() as conn:
        repo.insert(conn, message_of(OTHER_CERT, "repo-1"), dt.datetime(2030, 1, 3))
    with pytest.raises(repo.CertificateUnknown), db.transaction() as conn:
        repo.insert(conn, message_of("msg-never-stored", "repo-2"), dt.datetime(2030, 1, 3))
    # A used id about an unknown certificate is a used id: the message is not stored either way.
    with pytest.raises(repo.MessageIdTaken), db.transaction() as conn:
        repo.insert(conn, message_of("msg-never-stored", "repo-1"), dt.datetime(2030, 1, 3))
    first = stored(db, "repo-1")
    assert stored(db, "repo-2") is None and first is not None and first.certificate_id == CERT


@pytest.mark.parametrize("direction", ["to care", "to recipient"])
def test_a_certificate_erased_while_its_message_is_checked_is_unknown(thread, db, monkeypatch, direction) -> None:  # type: ignore[no-untyped-def]
    """The erasure lands between the checks and the insert: the foreign key fails the insert, and
    the answer is the one for an unknown certificate, not the one for a used message id."""
    between_checks_and_insert(monkeypatch, lambda: remove_certificate(db, CERT))
    if direction == "to care":
        assert send(thread, to_care("erased-1", CERT)) == ("ERROR", V, care_refusal("erased-1", CERT, "CERTIFICATE_NOT_FOUND_ERROR"))
    else:
        assert send(thread, to_recipient("erased-1", CERT)) == ("ERROR", A, "Intyg does not exist")
    assert stored(db, "erased-1") is None and queued(db) == []


def test_a_message_id_used_while_the_message_is_checked_is_a_used_id(thread, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A concurrent message with the same id is stored between the checks and the insert, and is
    gone again (erased with its certificate) before the answer is written: still a used id."""

    read = handlers.Found.read
    calls: list[str] = []

    def read_around_insert(services, message):  # type: ignore[no-untyped-def]
        found = read(services, message)
        calls.append(message.id)
        if len(calls) == 1:
            with db.transaction() as conn:
                repo.insert(conn, message_of(OTHER_CERT, "taken-1"), dt.datetime(2030, 1, 3))
        elif len(calls) == 2:
            remove_certificate(db, OTHER_CERT)
            found = read(services, message)
        return found

    monkeypatch.setattr(handlers.Found, "read", staticmethod(read_around_insert))
    refused = ("ERROR", V, care_refusal("taken-1", CERT, "MEDDELANDE_ID_NOT_UNIQUE_ERRORMeddelande-id is not a GUID"))
    assert send(thread, to_care("taken-1", CERT)) == refused
    assert stored(db, "taken-1") is None and queued(db) == []


def test_concurrent_copies_of_one_message_store_and_forward_it_once(thread, db) -> None:
    body = envelope(to_care("race-1", CERT))
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: result(post(thread, TO_CARE, body).content)[0], range(24)))
    assert sorted(set(answers)) == ["ERROR", "OK"] and answers.count("OK") == 1
    assert [row[4] for row in queued(db)] == ["message:race-1"]


def test_migration_creates_the_message_table_as_modelled(db) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if "message" in repr(d) and "outbox" not in repr(d)]
    assert differences == []


def test_the_documentation_lists_every_rejection_with_its_error_id() -> None:
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Questions and answers between Försäkringskassan and care")
    documented = readme[start : readme.index("\n## ", start + 1)]
    rows = set(re.findall(r"^\| ([a-z][^|]*?) \| (VALIDATION_ERROR|APPLICATION_ERROR) \|", documented, re.MULTILINE))
    cases = {(name, error_id) for name, _, error_id, _ in [*STATIC_REJECTIONS, *STATE_REJECTIONS]}
    assert cases - rows == set(), "rejections missing from the README's message section"
    assert rows - cases == set(), "the README's message section lists rejections the tests do not exercise"
