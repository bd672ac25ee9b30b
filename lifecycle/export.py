"""A care giver's export: every real certificate with its original request byte for byte, its
states, relations, messages (ärenden, each with its request as received), approved receivers and
signature record, in a directory an archive system can take over.

Layout of the directory::

    part-000001.tar ...   the items of consecutive batches of certificates, in id order
    items.jsonl           one line per item: certificate, path in the parts, SHA-256, size
    manifest.json         written last: counts, the parts with their hashes, the items file's
                          hash and the export's own hash

Per certificate the items are ``certificates/<id>/original.xml``, ``canonical.xml`` (when it came in
a legacy format), ``messages/<message id>.xml`` and ``record.json`` (metadata, states, relations,
message metadata, approved receivers, signature record). The items and ``record.json`` hold no time
of export, so the same data always gives the same items and the same export hash; that is what an
erasure checks the database against (``erase``).

Streamed and resumable: one batch of certificates is read (a keyset page) and written as one part
at a time, and a part counts once its ``.done.json`` exists. A run that stops (a crash, kill -9)
leaves at most a half-written temporary file, which the next run removes before it continues after
the last finished part. Test and validation certificates are never exported: they are not real
data (the erasure removes them without an export).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from json.encoder import encode_basestring  # the string spelling json.dumps uses with ensure_ascii=False
from typing import Any
from urllib.parse import quote

from intygstjanst.persistence import lifecycle
from intygstjanst.persistence.db import Database, utc_now

FORMAT = "intygstjanst care-giver export 1"
MANIFEST = "manifest.json"
ITEMS = "items.jsonl"
# Certificates per batch (one part, one removing transaction): at 1,000 the work per statement is a
# small share of a batch, and memory holds one batch whatever the care giver's size.
DEFAULT_BATCH = 1000
COUNTED = ("certificates", "items", "bytes", "states", "relations", "messages", "approved_receivers")


class ExportError(Exception):
    """The export cannot be written or continued (another care giver's export in the directory)."""


def item_name(identifier: str) -> str:
    """An id as one path component: percent-encoded, so no id can climb out of its folder."""
    return quote(identifier, safe="-_").replace(".", "%2E")


def certificate_items(record: lifecycle.CertificateRecord) -> list[tuple[str, bytes]]:
    """(path, bytes) of each item of one certificate, in the order the export writes them
    (``record.json`` last)."""
    base = _folder(record.id)
    items = [(f"{base}/original.xml", record.original)]
    if record.canonical is not None:
        items.append((f"{base}/canonical.xml", record.canonical))
    items.extend((f"{base}/messages/{item_name(message.id)}.xml", message.original) for message in record.messages)
    items.append((f"{base}/record.json", record_document(record)))
    return items


def _folder(certificate: str) -> str:
    return f"certificates/{item_name(certificate)}"


def record_document(record: lifecycle.CertificateRecord) -> bytes:
    """``record.json``: everything stored about the certificate but the requests themselves."""
    return canonical_json(
        {
            "certificate": record.fields,
            "states": record.states,
            "relations": record.relations,
            "messages": [message.fields for message in record.messages],
            "approved_receivers": record.approved_receivers,
            "signature": record.signature,
        }
    )


def canonical_json(value: Any) -> bytes:
    """One spelling of a JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def item_line(certificate: str, path: str, data: bytes) -> bytes:
    """The line of ``items.jsonl`` for one item: the ``canonical_json`` of its certificate, path,
    SHA-256 and size, spelt out (keys in sorted order) since json.dumps per line cost as much as
    the rest of describing a certificate."""
    return (
        f'{{"certificate":{encode_basestring(certificate)},"path":{encode_basestring(path)},'
        f'"sha256":"{hashlib.sha256(data).hexdigest()}","size":{len(data)}}}\n'
    ).encode("utf-8")


def item_lines(record: lifecycle.CertificateRecord, items: list[tuple[str, bytes]] | None = None) -> list[bytes]:
    """The lines of ``items.jsonl`` that describe ``record``'s items (``items``: when already made)."""
    return [item_line(record.id, path, data) for path, data in (items if items is not None else certificate_items(record))]


def record_line(record: lifecycle.CertificateRecord) -> bytes:
    """The line of ``record``'s ``record.json``: the last of its item lines."""
    return item_line(record.id, f"{_folder(record.id)}/record.json", record_document(record))


def record_counts(record: lifecycle.CertificateRecord, items: Iterable[tuple[str, bytes]]) -> dict[str, int]:
    listed = list(items)
    return {
        "certificates": 1,
        "items": len(listed),
        "bytes": sum(len(data) for _, data in listed),
        "states": len(record.states),
        "relations": len(record.relations),
        "messages": len(record.messages),
        "approved_receivers": len(record.approved_receivers),
    }


def export_hash(care_giver: str, counts: dict[str, int], items_sha256: str) -> str:
    """The export's own hash: of the care giver, the counts and the hash of every item's line."""
    return hashlib.sha256(canonical_json({"care_giver": care_giver, "counts": counts, "items_sha256": items_sha256})).hexdigest()


def record_batches(db: Database, care_giver: str, after: str, size: int) -> Iterator[list[lifecycle.CertificateRecord]]:
    """The care giver's real certificates after id ``after``, one keyset page (one short read
    transaction) at a time."""
    while True:
        with db.read() as conn:
            batch = lifecycle.records_after(conn, care_giver, after, size)
        if not batch:
            return
        yield batch
        after = batch[-1].id


@dataclass(frozen=True)
class PartInfo:
    number: int
    first: str
    last: str
    counts: dict[str, int]
    sha256: str
    size: int

    @property
    def file(self) -> str:
        return f"part-{self.number:06d}.tar"

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "first": self.first, "last": self.last, "counts": self.counts, "sha256": self.sha256, "size": self.size}


def export(
    db: Database,
    care_giver: str,
    directory: Path,
    *,
    batch: int = DEFAULT_BATCH,
    clock: Callable[[], dt.datetime] = utc_now,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Export ``care_giver`` into ``directory`` (continuing an unfinished export there); the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / MANIFEST
    if manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("care_giver") != care_giver:
            raise ExportError(f"{directory} holds the export of care giver {manifest.get('care_giver')!r}; choose another directory")
        return manifest
    _claim_directory(directory, care_giver)
    for leftover in directory.glob("*.tmp"):
        leftover.unlink()
    parts = _finished_parts(directory)
    after = parts[-1].last if parts else ""
    done = sum(part.counts["certificates"] for part in parts)
    for records in record_batches(db, care_giver, after, batch):
        parts.append(_write_part(directory, len(parts) + 1, records))
        done += len(records)
        if progress is not None:
            progress(done)
    return _finish(directory, care_giver, parts, clock())


def _claim_directory(directory: Path, care_giver: str) -> None:
    owner = directory / "care-giver.txt"
    if owner.exists():
        if owner.read_text(encoding="utf-8") != care_giver:
            raise ExportError(f"{directory} holds an unfinished export of another care giver; choose another directory")
        return
    if any(directory.iterdir()):
        raise ExportError(f"{directory} is not empty and holds no export of care giver {care_giver}; choose an empty directory")
    _write_atomically(owner, care_giver.encode("utf-8"))


def _finished_parts(directory: Path) -> list[PartInfo]:
    parts = []
    for number in range(1, 1_000_000_000):
        done = directory / f"part-{number:06d}.done.json"
        if not done.exists():
            break
        info = json.loads(done.read_text(encoding="utf-8"))
        parts.append(PartInfo(number, info["first"], info["last"], info["counts"], info["sha256"], info["size"]))
    return parts


def _write_part(directory: Path, number: int, records: list[lifecycle.CertificateRecord]) -> PartInfo:
    """One batch as ``part-N.tar`` with its item lines (``part-N.items``) and, last, ``part-N.done.json``."""
    counts = dict.fromkeys(COUNTED, 0)
    name = f"part-{number:06d}"
    tar_tmp = directory / f"{name}.tar.tmp"
    lines_tmp = directory / f"{name}.items.tmp"
    digest = hashlib.sha256()
    with open(tar_tmp, "wb") as raw, open(lines_tmp, "wb") as lines:
        writer = _HashingWriter(raw, digest)
        for record in records:
            items = certificate_items(record)
            for path, data in items:
                writer.write(_tar_member(path, data))
            lines.writelines(item_lines(record, items))
            for kind, count in record_counts(record, items).items():
                counts[kind] += count
        # The end of an archive: two zero blocks, the whole a multiple of tar's 10240-byte record.
        writer.write(bytes(1024 + -(writer.size + 1024) % _RECORD))
        _sync(raw)
        _sync(lines)
    os.replace(lines_tmp, directory / f"{name}.items")
    os.replace(tar_tmp, directory / f"{name}.tar")
    part = PartInfo(number, records[0].id, records[-1].id, counts, digest.hexdigest(), writer.size)
    info = {key: value for key, value in part.as_json().items() if key != "file"}
    _write_atomically(directory / f"{name}.done.json", canonical_json(info))
    return part


_BLOCK = 512
_RECORD = 20 * _BLOCK
_NAME = 100  # bytes of a name in a tar header; a longer one goes before it in a GNU long-name entry


def _tar_member(path: str, data: bytes) -> bytes:
    """One file of a GNU tar archive (mode 0600, no owner, time 0) as tarfile writes it: written
    by hand because tarfile's per-member header code cost more than all the rest of an export."""
    name = path.encode("utf-8")
    pieces = []
    if len(name) > _NAME:
        long_name = name + b"\0"
        pieces += [_tar_header(b"././@LongLink", len(long_name), b"L", b"0000000"), long_name, _padding(len(long_name))]
    pieces += [_tar_header(name[:_NAME], len(data), b"0", b"0000600"), data, _padding(len(data))]
    return b"".join(pieces)


def _tar_header(name: bytes, size: int, kind: bytes, mode: bytes) -> bytes:
    header = bytearray(_BLOCK)
    header[0 : len(name)] = name
    header[100:124] = mode + b"\0" b"0000000\0" b"0000000\0"  # mode, owner, group
    header[124:148] = b"%011o\0" % size + b"00000000000\0"  # size, modification time
    header[148:156] = b" " * 8  # the checksum counts its own field as spaces
    header[156:157] = kind
    header[257:265] = b"ustar  \0"  # GNU's magic and version
    header[148:155] = b"%06o\0" % sum(header)
    return bytes(header)


def _padding(size: int) -> bytes:
    return bytes(-size % _BLOCK)


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, raw: Any, digest: Any) -> None:
        self._raw = raw
        self._digest = digest
        self.size = 0

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.size += len(data)
        written: int = self._raw.write(data)
        return written

    def flush(self) -> None:
        self._raw.flush()


def _finish(directory: Path, care_giver: str, parts: list[PartInfo], now: dt.datetime) -> dict[str, Any]:
    counts = dict.fromkeys(COUNTED, 0)
    digest = hashlib.sha256()
    lines_tmp = directory / f"{ITEMS}.tmp"
    with open(lines_tmp, "wb") as out:
        for part in parts:
            for kind in COUNTED:
                counts[kind] += part.counts[kind]
            with open(directory / f"{part.file[:-4]}.items", "rb") as lines:
                for line in lines:
                    digest.update(line)
                    out.write(line)
        _sync(out)
    os.replace(lines_tmp, directory / ITEMS)
    items_sha256 = digest.hexdigest()
    manifest = {
        "format": FORMAT,
        "care_giver": care_giver,
        "completed_at": now.isoformat() + "Z",
        "counts": counts,
        "parts": [part.as_json() for part in parts],
        "items": {"file": ITEMS, "sha256": items_sha256},
        "export_hash": export_hash(care_giver, counts, items_sha256),
    }
    _write_atomically(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n")
    for part in parts:
        (directory / f"{part.file[:-4]}.items").unlink()
    return manifest


def _sync(file: Any) -> None:
    file.flush()
    os.fsync(file.fileno())


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        _sync(out)
    os.replace(tmp, path)
