"""The authorization file: what it grants, when, and how it says what is wrong with it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from intygstjanst.contracts.dispatch import Caller
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.contracts.registry import Contract, ContractRegistry
from intygstjanst.tls.authorization import SWEDEN, AuthorizationTable, CallAuthorizer
from intygstjanst.tls.errors import AuthorizationFileError

from intygstjanst.tests.soap import GET_NS, REGISTER_NS

NAMESPACES = {REGISTER_NS, GET_NS}
CONSUMER = "SE2321000016-A001"


def grant(
    consumer: str = CONSUMER,
    address: str = "*",
    contract: str = "*",
    valid_from: str = "2025-01-01",
    valid_to: str = "2025-12-31",
    extra: str = "",
) -> str:
    return (
        f'[[grant]]\nconsumer = "{consumer}"\nlogical_address = "{address}"\ncontract = "{contract}"\n'
        f"valid_from = {valid_from}\nvalid_to = {valid_to}\n{extra}\n"
    )


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def write_file(text: str) -> Path:
        path = tmp_path / "authorization.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write_file


def load(write: Callable[[str], Path], text: str) -> AuthorizationTable:
    return AuthorizationTable.load(write(text), NAMESPACES)


def swedish(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SWEDEN)


MIDYEAR = swedish(2025, 6, 1, 12)


def test_exact_grant_covers_only_its_contract_and_address(write: Callable[[str], Path]) -> None:
    table = load(write, grant(address="5565594230", contract=REGISTER_NS))
    assert table.permits(CONSUMER, REGISTER_NS, "5565594230", MIDYEAR)
    assert not table.permits(CONSUMER, GET_NS, "5565594230", MIDYEAR)
    assert not table.permits(CONSUMER, REGISTER_NS, "SE2321000016-OTHER", MIDYEAR)
    assert not table.permits("SE2321000016-B002", REGISTER_NS, "5565594230", MIDYEAR)


def test_wildcards_cover_every_contract_and_address(write: Callable[[str], Path]) -> None:
    table = load(write, grant())
    assert table.permits(CONSUMER, GET_NS, "anything", MIDYEAR)
    assert table.permits(CONSUMER, REGISTER_NS, "5565594230", MIDYEAR)


def test_dates_are_whole_swedish_days_and_valid_to_is_inclusive(write: Callable[[str], Path]) -> None:
    table = load(write, grant())
    assert not table.permits(CONSUMER, GET_NS, "a", swedish(2024, 12, 31, 23, 59, 59))
    assert table.permits(CONSUMER, GET_NS, "a", swedish(2025, 1, 1, 0, 0, 0))
    assert table.permits(CONSUMER, GET_NS, "a", swedish(2025, 12, 31, 23, 59, 59))
    assert not table.permits(CONSUMER, GET_NS, "a", swedish(2026, 1, 1, 0, 0, 0))
    # 23:30 UTC on 31 December is already 1 January in Sweden.
    assert not table.permits(CONSUMER, GET_NS, "a", dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC))


def test_date_times_with_offset_are_exact(write: Callable[[str], Path]) -> None:
    table = load(write, grant(valid_from="2025-03-01T08:00:00Z", valid_to="2025-03-01T09:00:00Z"))
    assert not table.permits(CONSUMER, GET_NS, "a", dt.datetime(2025, 3, 1, 7, 59, 59, tzinfo=dt.UTC))
    assert table.permits(CONSUMER, GET_NS, "a", dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC))
    assert not table.permits(CONSUMER, GET_NS, "a", dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC))


def test_any_of_several_grants_suffices(write: Callable[[str], Path]) -> None:
    table = load(
        write,
        grant(contract=GET_NS, valid_to="2025-01-31") + grant(contract=REGISTER_NS, valid_from="2025-06-01"),
    )
    assert len(table) == 2
    assert table.permits(CONSUMER, GET_NS, "a", swedish(2025, 1, 15))
    assert not table.permits(CONSUMER, REGISTER_NS, "a", swedish(2025, 1, 15))
    assert table.permits(CONSUMER, REGISTER_NS, "a", swedish(2025, 7, 1))


def test_empty_file_grants_nothing(write: Callable[[str], Path]) -> None:
    table = load(write, "# nobody yet\n")
    assert len(table) == 0
    assert not table.permits(CONSUMER, GET_NS, "a", MIDYEAR)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[grant]\n", "not valid TOML"),
        ("[[rule]]\nconsumer = 'x'\n", "unknown top-level key 'rule'"),
        ("grant = 3\n", "'grant' must be an array of tables"),
        (grant(extra='note = "x"'), "grant #1: unknown key 'note'"),
        ('[[grant]]\nconsumer = "SE1"\n', "grant #1: missing logical_address, contract, valid_from, valid_to"),
        (grant(consumer="*"), "'*' is not allowed for the consumer"),
        (grant(consumer="SE 1"), "consumer 'SE 1' is not an HSA-id"),
        (grant(address=""), "logical_address must be a non-empty string"),
        (grant(address=" 5565594230"), "without surrounding spaces"),
        (grant(contract="urn:riv:clinicalprocess:healthcond:certificate:GetCertificateResponder:9"), "did you mean 'urn:riv:clinicalprocess:healthcond:certificate:GetCertificateResponder:2'"),
        (grant(contract="RegisterCertificate"), "is not the namespace of a contract this service serves"),
        (grant(valid_from='"2025-01-01"'), "valid_from must be a TOML date such as 2025-01-01 (unquoted)"),
        (grant(valid_to="12:00:00"), "valid_to must be a TOML date"),
        (grant(valid_from="2025-02-01", valid_to="2025-01-01"), "valid_to 2025-01-01 is not after valid_from 2025-02-01"),
    ],
)
def test_mistakes_are_reported_with_file_entry_and_rule(write: Callable[[str], Path], text: str, message: str) -> None:
    path = write(text)
    with pytest.raises(AuthorizationFileError) as raised:
        AuthorizationTable.load(path, NAMESPACES)
    assert str(raised.value).startswith(f"authorization file {path}: ")
    assert message in str(raised.value)


def test_a_later_entry_is_named_by_its_position(write: Callable[[str], Path]) -> None:
    path = write(grant() + grant(consumer="*"))
    with pytest.raises(AuthorizationFileError, match="grant #2: consumer must be one HSA-id"):
        AuthorizationTable.load(path, NAMESPACES)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(AuthorizationFileError, match=f"authorization file {missing}: cannot read it"):
        AuthorizationTable.load(missing, NAMESPACES)


@pytest.fixture(scope="module")
def contracts() -> ContractRegistry:
    return ContractRegistry.load()


def contract(registry: ContractRegistry, namespace: str) -> Contract:
    return next(c for c in registry if c.namespace == namespace)


def test_authorizer_authorizes_the_original_consumer_when_a_platform_passed_one(
    write: Callable[[str], Path], contracts: ContractRegistry
) -> None:
    authorizer = CallAuthorizer(write(grant(consumer="SE2321000016-ORIG")), NAMESPACES, clock=lambda: MIDYEAR)
    register = contract(contracts, REGISTER_NS)
    assert authorizer(Caller("SE2321000016-PLAT", "SE2321000016-ORIG"), register, "x") == "SE2321000016-ORIG"
    # The platform itself holds no grant: calling on its own behalf is refused.
    with pytest.raises(SoapFault) as refused:
        authorizer(Caller("SE2321000016-PLAT"), register, "x")
    assert refused.value.code == "Client"


def test_refusal_names_consumer_contract_and_address_and_is_logged(
    write: Callable[[str], Path], contracts: ContractRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    authorizer = CallAuthorizer(write(grant(contract=GET_NS, valid_to="2025-03-01")), NAMESPACES, clock=lambda: MIDYEAR)
    register = contract(contracts, REGISTER_NS)
    with caplog.at_level(logging.WARNING, "intygstjanst.authorization"), pytest.raises(SoapFault) as refused:
        authorizer(Caller("SE2321000016-PLAT", CONSUMER), register, "5565594230")
    assert refused.value.message == (
        f"consumer {CONSUMER} (original consumer, passed by platform SE2321000016-PLAT) is not authorized to call "
        f"RegisterCertificate ({REGISTER_NS}) for logical address 5565594230"
    )
    assert "none for this contract and logical address" in caplog.text
    with caplog.at_level(logging.WARNING, "intygstjanst.authorization"), pytest.raises(SoapFault):
        authorizer(Caller(CONSUMER), contract(contracts, GET_NS), "5565594230")
    assert "not in force now: grant #1" in caplog.text


def test_a_caller_without_identity_is_refused(write: Callable[[str], Path], contracts: ContractRegistry) -> None:
    authorizer = CallAuthorizer(write(grant()), NAMESPACES, clock=lambda: MIDYEAR)
    with pytest.raises(SoapFault, match="needs an authenticated consumer"):
        authorizer(Caller(), contract(contracts, GET_NS), "a")


def test_reload_swaps_the_table_and_a_broken_file_keeps_the_old_one(
    write: Callable[[str], Path], contracts: ContractRegistry
) -> None:
    path = write(grant(contract=GET_NS))
    authorizer = CallAuthorizer(path, NAMESPACES, clock=lambda: MIDYEAR)
    register = contract(contracts, REGISTER_NS)
    with pytest.raises(SoapFault):
        authorizer(Caller(CONSUMER), register, "a")
    write(grant(contract=REGISTER_NS))
    assert len(authorizer.reload()) == 1
    assert authorizer(Caller(CONSUMER), register, "a") == CONSUMER
    write(grant(consumer="*"))
    with pytest.raises(AuthorizationFileError):
        authorizer.reload()
    assert authorizer(Caller(CONSUMER), register, "a") == CONSUMER


def test_may_grant_is_false_only_when_no_logical_address_would_be_granted(
    write: Callable[[str], Path], contracts: ContractRegistry
) -> None:
    """What the dispatcher refuses before parsing a body: no grant in force for the contract."""
    authorizer = CallAuthorizer(
        write(grant(contract=GET_NS, address="one") + grant(contract=REGISTER_NS, valid_to="2025-03-01")),
        NAMESPACES,
        clock=lambda: MIDYEAR,
    )
    assert authorizer.may_grant(Caller(CONSUMER), contract(contracts, GET_NS))  # for address "one"
    assert not authorizer.may_grant(Caller(CONSUMER), contract(contracts, REGISTER_NS))  # ended
    assert not authorizer.may_grant(Caller("SE2321000016-NONE"), contract(contracts, GET_NS))
    assert not authorizer.may_grant(Caller(), contract(contracts, GET_NS))
    assert authorizer.may_grant(Caller("SE2321000016-PLAT", CONSUMER), contract(contracts, GET_NS))
