"""The recipient registry: who certificates can be sent to, in which format, and the parts that are
never send targets (care, the citizen).

The registry is a TOML file (``recipients.toml`` next to this module, or the ``recipients_file``
setting). It is checked completely when loaded, and every problem names the file, the entry and
the field. A running service picks up an edited file by itself (see :meth:`Recipients.current`); a
file that no longer passes the checks is refused and the previous registry stays in use, so an
operator's typo never takes delivery down.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intygstjanst.settings import SettingsError
from intygstjanst.transform.formats import Format, formats_for
from intygstjanst.certificates.certtypes import normalize_code

if TYPE_CHECKING:
    from intygstjanst.certificates.certtypes import CertificateTypes

log = logging.getLogger("intygstjanst.recipients")

SEED_FILE = Path(__file__).resolve().parent / "recipients.toml"

# How often an edited file is noticed: a stat() per lookup would be wasted work on the request path.
RELOAD_CHECK_SECONDS = 2.0

_ID = re.compile(r"^[A-Z0-9_]{2,32}$")


class RecipientsError(SettingsError):
    """The registry file cannot be used; the message names the file, the entry and the field.

    A configuration error like any other: commands report it and exit instead of starting.
    """


class RecipientKind(str, enum.Enum):
    HUVUDMOTTAGARE = "HUVUDMOTTAGARE"  # the main recipient of a certificate type
    MOTTAGARE = "MOTTAGARE"  # may also receive the type when the citizen sends it
    DIREKTMOTTAGARE = "DIREKTMOTTAGARE"  # receives straight from care, not through the citizen


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    kind: RecipientKind
    logical_address: str
    # Normalised (upper case) type codes this recipient takes, aliases included.
    certificate_types: frozenset[str]
    active: bool
    # May receive certificates about people with protected identity (sekretessmarkering).
    trusted: bool
    # Base URL of the recipient's service (the contract path is appended); None = delivery_base_url.
    url: str | None = None
    # Type code -> the format this recipient wants it in; types not listed go as RegisterCertificate v3.
    formats: Mapping[str, Format] = field(default_factory=dict)

    def format_for(self, type_code: str) -> Format:
        return self.formats.get(normalize_code(type_code), Format.REGISTER_CERTIFICATE_3)


@dataclass(frozen=True)
class Part:
    """A party that certificates have a state for but that is never sent a certificate (HSVARD,
    INVANA). Care systems still receive messages (SendMessageToCare), each addressed to a care
    unit, so a part may name the endpoint those go to."""

    id: str
    name: str
    # Base URL for messages to this part; None = delivery_base_url (the national platform, which
    # routes on the care unit's logical address each message carries).
    url: str | None = None

    def as_message_target(self) -> Recipient:
        """This part as a delivery target for the worker; never offered as a send target."""
        return Recipient(
            id=self.id,
            name=self.name,
            kind=RecipientKind.DIREKTMOTTAGARE,
            logical_address="",
            certificate_types=frozenset(),
            active=True,
            trusted=True,
            url=self.url,
        )


@dataclass(frozen=True)
class _Table:
    recipients: Mapping[str, Recipient]
    parts: Mapping[str, Part]


class Recipients:
    """The loaded registry. Lookups see an edited file within :data:`RELOAD_CHECK_SECONDS`."""

    def __init__(
        self,
        recipients: Iterable[Recipient],
        parts: Iterable[Part] = (),
        *,
        path: Path | None = None,
        certificate_types: CertificateTypes | None = None,
    ) -> None:
        self._table = _Table({r.id: r for r in recipients}, {p.id: p for p in parts})
        self.path = path
        self._certificate_types = certificate_types
        self._mtime = _mtime(path) if path is not None else None
        self._checked_at = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None = None, certificate_types: CertificateTypes | None = None) -> Recipients:
        """Read and check ``path`` (None: the seed file shipped with the service).

        With ``certificate_types``, every listed type code must be a known type, and each one then
        also matches that type's aliases (``ts-bas`` for TSTRK1007). Raises :class:`RecipientsError`.
        """
        path = Path(path) if path is not None else SEED_FILE
        recipients, parts = parse_file(path, certificate_types)
        return cls(recipients, parts, path=path, certificate_types=certificate_types)

    # -- lookups ---------------------------------------------------------------------------------

    def get(self, recipient_id: str) -> Recipient | None:
        """The send target with this id; None for unknown ids and for parts (HSVARD, INVANA)."""
        return self._current().recipients.get(recipient_id.strip().upper())

    def delivery_target(self, recipient_id: str) -> Recipient | None:
        """Where an outbox item for ``recipient_id`` goes: a send target, or a part that receives
        messages (care systems, see :meth:`Part.as_message_target`)."""
        found = self.part(recipient_id)
        return found.as_message_target() if isinstance(found, Part) else found

    def part(self, part_id: str) -> Recipient | Part | None:
        """Any party a certificate state may name: a recipient or a part."""
        table = self._current()
        key = part_id.strip().upper()
        return table.recipients.get(key) or table.parts.get(key)

    def accepts(self, recipient: Recipient, type_code: str) -> bool:
        """Whether ``recipient`` is active and takes certificates of ``type_code``."""
        return recipient.active and normalize_code(type_code) in recipient.certificate_types

    def for_type(self, type_code: str) -> list[Recipient]:
        """The active recipients of a type, main recipients first."""
        return [r for r in self.possible_for(type_code) if r.active]

    def possible_for(self, type_code: str) -> list[Recipient]:
        """The possible receivers of a type, as the national service counts them: every recipient
        listing it, inactive ones included (parts never), main recipients first."""
        code = normalize_code(type_code)
        order = list(RecipientKind)
        found = [r for r in self._current().recipients.values() if code in r.certificate_types]
        return sorted(found, key=lambda r: (order.index(r.kind), r.id))

    def all(self) -> list[Recipient]:
        return sorted(self._current().recipients.values(), key=lambda r: r.id)

    def parts(self) -> list[Part]:
        return sorted(self._current().parts.values(), key=lambda p: p.id)

    def without_endpoint(self, base_url: str) -> list[Recipient]:
        """The active recipients nothing can be delivered to: no url of their own and no ``base_url``."""
        return [] if base_url else [r for r in self.all() if r.active and not r.url]

    # -- reloading -------------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the file now; raises :class:`RecipientsError` and keeps the old registry if invalid."""
        if self.path is None:
            return
        with self._lock:
            mtime = _mtime(self.path)
            recipients, parts = parse_file(self.path, self._certificate_types)
            self._table = _Table({r.id: r for r in recipients}, {p.id: p for p in parts})
            self._mtime = mtime
            self._checked_at = time.monotonic()
        log.info("recipient registry reloaded from %s (%d recipients)", self.path, len(recipients))

    def prepare_for_types(self, certificate_types: CertificateTypes) -> Callable[[], None]:
        """Check this registry's file against a new set of certificate types (every listed type must
        still exist); returns the switch to the registry as read with them. Raises
        :class:`RecipientsError`, changing nothing, when the file does not fit the new set."""
        if self.path is None:
            return lambda: None
        recipients, parts = parse_file(self.path, certificate_types)
        table = _Table({r.id: r for r in recipients}, {p.id: p for p in parts})

        def switch() -> None:
            with self._lock:
                self._table = table

        return switch

    def _current(self) -> _Table:
        if self.path is not None and time.monotonic() - self._checked_at >= RELOAD_CHECK_SECONDS:
            self._reload_if_changed()
        return self._table

    def _reload_if_changed(self) -> None:
        assert self.path is not None
        with self._lock:
            self._checked_at = time.monotonic()
            mtime = _mtime(self.path)
            if mtime == self._mtime:
                return
            # Remember the attempt, so a broken file is reported once and not on every lookup.
            self._mtime = mtime
        try:
            self.reload()
        except RecipientsError as exc:
            log.error("recipient registry NOT reloaded, the previous one stays in use: %s", exc)


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime_ns / 1e9
    except OSError:
        return None


# -- parsing and checks --------------------------------------------------------------------------


def parse_file(path: Path, certificate_types: CertificateTypes | None = None) -> tuple[list[Recipient], list[Part]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecipientsError(f"{path}: cannot read the recipient registry: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RecipientsError(f"{path}: not valid TOML: {exc}") from exc
    return parse(data, str(path), certificate_types)


def parse(
    data: Mapping[str, Any], source: str, certificate_types: CertificateTypes | None = None
) -> tuple[list[Recipient], list[Part]]:
    unknown = set(data) - {"recipient", "part"}
    if unknown:
        raise RecipientsError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; expected [[recipient]] and [[part]]")
    aliases = _alias_map(certificate_types)
    seen: dict[str, str] = {}
    recipients = []
    for index, entry in enumerate(_tables(data, "recipient", source)):
        where = f"{source}: recipient #{index + 1} ({entry.get('id', '?')})"
        recipient = _recipient(entry, where, aliases)
        _unique(recipient.id, where, seen)
        recipients.append(recipient)
    parts = []
    for index, entry in enumerate(_tables(data, "part", source)):
        where = f"{source}: part #{index + 1} ({entry.get('id', '?')})"
        _only_keys(entry, {"id", "name", "url"}, where)
        part = Part(_id(entry, where), _text(entry, "name", where), _url(entry, where))
        _unique(part.id, where, seen)
        parts.append(part)
    return recipients, parts


def _url(entry: Mapping[str, Any], where: str) -> str | None:
    url = entry.get("url")
    if url is None:
        return None
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
        raise RecipientsError(f"{where}: field 'url' must be an http:// or https:// base URL, got {url!r}")
    return url.rstrip("/")


_RECIPIENT_KEYS = {"id", "name", "kind", "logical_address", "certificate_types", "active", "trusted", "url", "formats"}


def _recipient(entry: Mapping[str, Any], where: str, aliases: Mapping[str, frozenset[str]] | None) -> Recipient:
    _only_keys(entry, _RECIPIENT_KEYS, where)
    kind_text = _text(entry, "kind", where)
    try:
        kind = RecipientKind(kind_text)
    except ValueError:
        raise RecipientsError(
            f"{where}: field 'kind' must be one of {', '.join(k.value for k in RecipientKind)}, got {kind_text!r}"
        ) from None
    listed = entry.get("certificate_types", [])
    if not isinstance(listed, list) or not all(isinstance(c, str) and c.strip() for c in listed):
        raise RecipientsError(f"{where}: field 'certificate_types' must be a list of type codes, got {listed!r}")
    codes: set[str] = set()
    for code in listed:
        normal = normalize_code(code)
        if aliases is not None:
            if normal not in aliases:
                raise RecipientsError(f"{where}: field 'certificate_types': {code!r} is not a known certificate type")
            codes |= aliases[normal]
        else:
            codes.add(normal)
    return Recipient(
        id=_id(entry, where),
        name=_text(entry, "name", where),
        kind=kind,
        logical_address=_text(entry, "logical_address", where),
        certificate_types=frozenset(codes),
        active=_flag(entry, "active", where),
        trusted=_flag(entry, "trusted", where),
        url=_url(entry, where),
        formats=_formats(entry.get("formats", {}), frozenset(normalize_code(c) for c in listed), where),
    )


def _formats(raw: Any, listed: frozenset[str], where: str) -> dict[str, Format]:
    if not isinstance(raw, dict):
        raise RecipientsError(f"{where}: field 'formats' must be a table of type code = \"format\", got {raw!r}")
    out: dict[str, Format] = {}
    for code, value in raw.items():
        normal = normalize_code(code)
        if normal not in listed:
            raise RecipientsError(f"{where}: field 'formats.{code}': {code} is not in this recipient's certificate_types")
        try:
            fmt = Format(value)
        except ValueError:
            raise RecipientsError(
                f"{where}: field 'formats.{code}' must be one of {', '.join(f.value for f in Format)}, got {value!r}"
            ) from None
        if fmt not in formats_for(normal):
            possible = ", ".join(f.value for f in formats_for(normal))
            raise RecipientsError(f"{where}: field 'formats.{code}': a {code} certificate cannot be sent as {fmt.value} (possible: {possible})")
        out[normal] = fmt
    return out


def _alias_map(certificate_types: CertificateTypes | None) -> dict[str, frozenset[str]] | None:
    """Each known code (and alias) -> every code of its type, or None when types are not checked."""
    if certificate_types is None:
        return None
    out: dict[str, frozenset[str]] = {}
    for t in certificate_types.all():
        codes = frozenset(normalize_code(c) for c in t.codes)
        for code in codes:
            out[code] = out.get(code, frozenset()) | codes
    return out


def _tables(data: Mapping[str, Any], key: str, source: str) -> list[Mapping[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RecipientsError(f"{source}: '{key}' must be an array of tables ([[{key}]])")
    return entries


def _only_keys(entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise RecipientsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RecipientsError(f"{where}: field '{key}' is required and must be a non-empty string")
    return value.strip()


def _id(entry: Mapping[str, Any], where: str) -> str:
    value = _text(entry, "id", where)
    if not _ID.match(value):
        raise RecipientsError(f"{where}: field 'id' must be 2-32 upper-case letters, digits or '_', got {value!r}")
    return value


def _flag(entry: Mapping[str, Any], key: str, where: str) -> bool:
    value = entry.get(key)
    if not isinstance(value, bool):
        raise RecipientsError(f"{where}: field '{key}' is required and must be true or false, got {value!r}")
    return value


def _unique(identifier: str, where: str, seen: dict[str, str]) -> None:
    if identifier in seen:
        raise RecipientsError(f"{where}: field 'id': {identifier} is already used by {seen[identifier]}")
    seen[identifier] = where
