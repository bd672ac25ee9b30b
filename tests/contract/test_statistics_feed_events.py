"""The statistics events each contract writes to the outbox (statistics/feed.py), through the
in-process app: the legacy and Transportstyrelsen registrations, every revoke path once, the legacy
send, and nothing with the feed off. The broker side is tests/e2e/test_statistics_feed.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from intygstjanst.delivery.statistics import StatisticsPublisher
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import OutboxItem
from intygstjanst.persistence.outbox import Claimed
from intygstjanst.settings import Settings, SettingsError
from intygstjanst.statistics import amqp, feed
from intygstjanst.statistics.events import EventError, StatisticsEvent
from intygstjanst.transform import carrier
from intygstjanst.transform.formats import Format, inbound, outbound

from intygstjanst.tests.conftest import free_port
from intygstjanst.tests.recipient_calls import (
    FK7263_SAMPLE,
    REGISTER_MEDICAL,
    REGISTER_TS_BAS,
    REVOKE,
    REVOKE_MEDICAL,
    SEND_MEDICAL,
    SET_STATUS,
    TS_BAS_SAMPLE,
    FakeDeliverer,
    call,
    contract_at,
    legacy_person,
    legacy_revoke_request,
    legacy_sample,
    legacy_send_request,
    revoke_request,
    set_status_request,
)
from intygstjanst.tests.soap import REGISTER, certificate, envelope, post, result


pytestmark = pytest.mark.usefixtures("shared")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, statistics_feed=True)


@pytest.fixture
def deliverer(services: Any) -> FakeDeliverer:
    fake = FakeDeliverer()
    services.deliverer = fake
    return fake


def events(db: Database) -> list[StatisticsEvent]:
    with db.read() as conn:
        rows = conn.execute(select(OutboxItem.payload).where(OutboxItem.recipient == feed.CHANNEL).order_by(OutboxItem.id))
        return [feed.decode(payload) for payload, in rows]


def test_a_legacy_fk7263_is_created_revoked_and_sent_in_its_v3_form(client: Any, db: Database, deliverer: FakeDeliverer) -> None:
    original = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "feed-fk")
    patient = legacy_person(original)
    assert call(client, REGISTER_MEDICAL, copy.deepcopy(original)).code == "OK"
    assert call(client, SEND_MEDICAL, legacy_send_request("feed-fk", patient)).code == "OK"
    assert call(client, REVOKE_MEDICAL, legacy_revoke_request("feed-fk", patient)).code == "OK"
    created, sent, revoked = events(db)
    assert (created.action, created.certificate_id, created.certificate_type) == ("created", "feed-fk", "FK7263")
    assert (sent.action, sent.recipient, sent.body) == ("sent", "FKASSA", None)
    assert revoked.action == "revoked"
    schema = contract_at(REGISTER).schema
    expected = carrier.canonical(outbound(inbound(original), Format.REGISTER_CERTIFICATE_3))
    for event in (created, revoked):
        assert event.body is not None
        body = etree.fromstring(event.body)
        assert schema.validate(body), schema.error_log
        # The transform's own v3 form, without the carrier of what only the legacy format says.
        assert carrier.canonical(body) == expected
        assert not list(body.iter(f"{{{carrier.CARRIER}}}*"))


def test_a_transportstyrelsen_registration_is_created(client: Any, db: Database) -> None:
    original = legacy_sample("RegisterTSBas", TS_BAS_SAMPLE, "feed-ts")
    assert call(client, REGISTER_TS_BAS, copy.deepcopy(original)).code == "OK"
    [created] = events(db)
    assert (created.action, created.certificate_id) == ("created", "feed-ts")
    assert created.body is not None and contract_at(REGISTER).schema.validate(etree.fromstring(created.body))


def test_a_certificate_is_revoked_once_whichever_contract_revokes_it(client: Any, db: Database) -> None:
    assert result(post(client, REGISTER, envelope(certificate("feed-rv"))).content)[0] == "OK"
    assert call(client, SET_STATUS, set_status_request("feed-rv", "HSVARD", "CANCEL")).code == "OK"
    assert call(client, REVOKE, revoke_request("feed-rv")).code == "INFO"
    assert call(client, SET_STATUS, set_status_request("feed-rv", "HSVARD", "CANCEL")).code == "OK"
    assert [event.action for event in events(db)] == ["created", "revoked"]


def test_a_sent_status_recorded_by_another_system_is_no_sent_event(client: Any, db: Database) -> None:
    assert result(post(client, REGISTER, envelope(certificate("feed-st"))).content)[0] == "OK"
    assert call(client, SET_STATUS, set_status_request("feed-st", "FKASSA", "SENTTO")).code == "OK"
    assert [event.action for event in events(db)] == ["created"]


def test_nothing_is_queued_with_the_feed_off(client: Any, db: Database, services: Any) -> None:
    services.settings = services.settings.replace(statistics_feed=False)
    assert result(post(client, REGISTER, envelope(certificate("feed-off"))).content)[0] == "OK"
    assert call(client, REVOKE, revoke_request("feed-off")).code == "OK"
    assert events(db) == []


def test_an_event_survives_the_outbox_payload() -> None:
    event = StatisticsEvent("message-sent", "c-1", "LISJP", "FKASSA", "m-1", "<x>å\n</x>".encode())
    assert feed.decode(feed.encode(event)) == event
    assert feed.decode(feed.encode(StatisticsEvent("sent", "c-1", "LISJP", "FKASSA"))).body is None
    for broken in (b"", b"not json\n<x/>", b'["a list"]\n', b'{"action": "created"}'):
        with pytest.raises(EventError):
            feed.decode(broken)


def _claimed(payload: bytes) -> Claimed:
    return Claimed(1, "d-1", feed.CHANNEL, "statistics:created", None, "c-1", payload, 1, "t")


def test_the_publisher_retries_while_the_broker_cannot_be_reached_and_dead_letters_what_is_no_event() -> None:
    nobody = amqp.Destination(f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", "", "certificate.queue")
    publisher = StatisticsPublisher(nobody, timeout=5)
    try:
        unreachable = publisher.send(_claimed(feed.encode(StatisticsEvent("created", "c-1", "LISJP", body=b"<x/>"))))
        assert unreachable.verdict == "retry"
        assert "AMQPConnectionError" in unreachable.detail
        unreadable = publisher.send(_claimed(b"garbage"))
        assert unreadable.verdict == "permanent"
    finally:
        publisher.close()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"statistics_amqp_url": "http://broker/"}, "statistics_amqp_url"),
        ({"statistics_amqp_url": "amqp://guest@127.0.0.1:port/"}, "statistics_amqp_url"),
        ({"statistics_amqp_url": "garbage"}, "statistics_amqp_url"),
        ({"statistics_queue": ""}, "statistics_queue"),
    ],
)
def test_a_broker_setting_that_cannot_work_is_a_settings_error(tmp_path: Path, changes: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        amqp.Destination.from_settings(Settings(data_dir=tmp_path, **changes))  # type: ignore[arg-type]
    assert amqp.Destination.from_settings(Settings(data_dir=tmp_path)).where == "amqp://127.0.0.1:5672/ exchange (default) queue certificate.queue"
