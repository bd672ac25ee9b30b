"""How a legacy document survives the trip through the v3 form: the carrier, and the canonical
form that decides whether two documents are "equal".

Why a carrier
-------------
The legacy formats (RegisterMedicalCertificate v3, RegisterTSBas v1, RegisterTSDiabetes v1) can
say things the RegisterCertificate v3 form cannot: a timestamp with milliseconds or a time zone,
a person id written with a dash, an optional element present but empty, elements in an order the
v3 form does not keep, "not stated" versus an explicit "false", extension elements, ...

Each converter maps every field the v3 form can hold into the v3 form (``svar``/``delsvar``).
What is left is computed, not guessed: the converter rebuilds the legacy document from the v3
form alone (``built``), compares it with the original, and stores only the difference, as a small
edit script, in a ``legacy`` element of this project's own namespace. The v3 schema admits it as
an ``xs:any namespace="##other"`` child of ``RegisterCertificate`` (after ``intyg``); it is never
sent to a recipient in the v3 format (:func:`strip_carrier`).

Going back, the converter rebuilds ``built`` from the v3 form and applies the edit script. The
script names the digest of the ``built`` document it was computed against, so a script is never
applied to a different document (e.g. after a change of the mapping code): that is an error, not
a silently wrong certificate. Consequently the rebuild of a stored certificate must not change
between releases without a new ``MAPPING`` version in the converter module.

A carrier can change how a certificate is written, never what it says: :func:`restore` converts
the restored document to v3 again and requires exactly the stored v3 content. Certificates that
arrive as RegisterCertificate are stored without a carrier (``formats.inbound`` removes one), so
a carrier made by anyone but this code never reaches a recipient.

Equality
--------
Two documents are equal when their canonical forms (:func:`canonical`) are byte-identical:
Exclusive XML Canonicalization 1.0 without comments, after namespace prefixes are rewritten to
``n0, n1, ...`` in order of first use (so prefixes and where namespaces are declared do not
matter), processing instructions are left out, and whitespace-only text is removed where an
element has element children (element-only content: indentation). Every element, attribute and text value counts, including whitespace inside
a text value and the order of elements.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy

from intygstjanst.transform.common import (
    Element,
    TransformError,
    add,
    elements,
    local_name,
    path_of,
    qn,
)
from lxml import etree

CARRIER = "urn:x-intygstjanst:legacy-carrier:1"


# --------------------------------------------------------------------------------------------
# Canonical form


def significant_copy(el: Element) -> Element:
    """A deep copy holding only the compared information (see the module notes on equality)."""
    copy = deepcopy(el)
    copy.tail = None
    for node in list(copy.iter(etree.Comment, etree.ProcessingInstruction)):
        _remove_keeping_tail(node)
    for node in copy.iter():
        if len(node):
            if node.text is not None and not node.text.strip():
                node.text = None
            for child in node:
                if child.tail is not None and not child.tail.strip():
                    child.tail = None
    return copy


def _remove_keeping_tail(node: Element) -> None:
    parent = node.getparent()
    if parent is None:
        return
    if node.tail:
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + node.tail
        else:
            parent.text = (parent.text or "") + node.tail
    parent.remove(node)


_XML_NS = "http://www.w3.org/XML/1998/namespace"


def canonical(el: Element) -> bytes:
    """The canonical form two documents are compared by (see the module notes on equality)."""
    source = significant_copy(el)
    prefixes: dict[str, str] = {}
    for node in source.iter():
        for name in (node.tag, *node.attrib.keys()):
            ns = etree.QName(name).namespace
            if ns is not None and ns != _XML_NS and ns not in prefixes:
                prefixes[ns] = f"n{len(prefixes)}"
    nsmap = {prefix: ns for ns, prefix in prefixes.items()}

    def rebuild(node: Element, parent: Element | None) -> Element:
        attrib = {str(name): str(value) for name, value in node.attrib.items()}
        copy = etree.Element(node.tag, attrib, nsmap=nsmap) if parent is None else etree.SubElement(parent, node.tag, attrib)
        copy.text, copy.tail = node.text, node.tail
        for child in node:
            rebuild(child, copy)
        return copy

    # Exclusive C14N declares each namespace where it is first used, so the output depends only
    # on the content and on the prefixes chosen above (n0, n1, ... in order of first use).
    return etree.tostring(rebuild(source, None), method="c14n", exclusive=True, with_comments=False)


def equivalent(a: Element, b: Element) -> bool:
    return canonical(a) == canonical(b)


def digest(el: Element) -> str:
    return "sha256:" + hashlib.sha256(canonical(el)).hexdigest()


# --------------------------------------------------------------------------------------------
# Edit scripts: the difference between a rebuilt legacy document and the original


def _text(el: Element) -> str:
    """Significant text; None and "" are the same value in the canonical form."""
    if elements(el) and (el.text is None or not el.text.strip()):
        return ""
    return el.text or ""


def _tail(el: Element) -> str:
    return "" if el.tail is None or not el.tail.strip() else el.tail


def _shape_key(el: Element) -> tuple[str, str]:
    return str(el.tag), _tail(el)


def _c(local: str) -> str:
    return qn(CARRIER, local)


class _Shapes:
    """Interned subtree ids: two subtrees get the same id exactly when they are equal in the
    canonical sense (tags and attribute names in Clark notation, so prefixes do not matter), which
    makes aligning children cheap; each node is visited once."""

    def __init__(self) -> None:
        self._ids: dict[tuple[object, ...], int] = {}
        self._memo: dict[Element, int] = {}

    def of(self, el: Element) -> int:
        found = self._memo.get(el)
        if found is None:
            key = (
                el.tag,
                tuple(sorted((str(k), str(v)) for k, v in el.attrib.items())),
                _text(el),
                _tail(el),
                tuple(self.of(c) for c in elements(el)),
            )
            found = self._ids.setdefault(key, len(self._ids))
            self._memo[el] = found
        return found


def make_edit(built: Element, original: Element) -> Element | None:
    """An edit script turning ``built`` into ``original`` (same tag), or None when they are equal.

    Children are aligned on their content (difflib), so moved or extra elements cost one verbatim
    copy each and equal subtrees cost nothing; unequal children with the same tag are edited
    recursively, which keeps a changed value down to the value itself.
    """
    if built.tag != original.tag:
        raise TransformError(f"{path_of(original)}: cannot express a change of root element")
    return _edit(built, original, _Shapes())


def _edit(built: Element, original: Element, shapes: _Shapes) -> Element | None:
    edit = etree.Element(_c("edit"))
    if _text(built) != _text(original):
        add(edit, CARRIER, "text", _text(original))
    for name in sorted(str(n) for n in set(built.attrib) | set(original.attrib)):
        if built.get(name) != original.get(name):
            attr = add(edit, CARRIER, "attribute", name=name)
            value = original.get(name)
            if value is not None:
                attr.set("value", value)
    ops = _children_ops(elements(built), elements(original), shapes)
    if ops is not None:
        edit.append(ops)
    return edit if len(edit) else None


def _children_ops(built: list[Element], original: list[Element], shapes: _Shapes) -> Element | None:
    ops = etree.Element(_c("children"))
    matcher = difflib.SequenceMatcher(a=[shapes.of(c) for c in built], b=[shapes.of(c) for c in original], autojunk=False)
    changed = False
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _keep(ops, i2 - i1)
            continue
        changed = True
        if tag == "replace":
            _pair_block(ops, built[i1:i2], original[j1:j2], shapes)
        else:
            _drop(ops, i2 - i1)
            _insert(ops, original[j1:j2])
    if not changed:
        return None
    # A trailing keep is implied.
    while len(ops) and ops[-1].tag == _c("keep"):
        ops.remove(ops[-1])
    return ops


def _pair_block(ops: Element, built: Sequence[Element], original: Sequence[Element], shapes: _Shapes) -> None:
    matcher = difflib.SequenceMatcher(
        a=[_shape_key(c) for c in built], b=[_shape_key(c) for c in original], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for b, o in zip(built[i1:i2], original[j1:j2]):
                sub = _edit(b, o, shapes)
                if sub is None:
                    _keep(ops, 1)
                else:
                    ops.append(sub)
        else:
            _drop(ops, i2 - i1)
            _insert(ops, original[j1:j2])


def _keep(ops: Element, n: int) -> None:
    if n <= 0:
        return
    if len(ops) and ops[-1].tag == _c("keep"):
        ops[-1].set("n", str(int(ops[-1].get("n", "0")) + n))
    else:
        add(ops, CARRIER, "keep", n=str(n))


def _drop(ops: Element, n: int) -> None:
    if n > 0:
        add(ops, CARRIER, "drop", n=str(n))


def _insert(ops: Element, originals: Iterable[Element]) -> None:
    block = None
    for o in originals:
        if block is None:
            block = add(ops, CARRIER, "insert")
        copy = significant_copy(o)
        copy.tail = o.tail if _tail(o) else None
        block.append(copy)


def apply_edit(built: Element, edit: Element) -> Element:
    """``built`` with the edit script applied (``built`` itself is not changed)."""
    target = deepcopy(built)
    _apply(target, edit)
    return target


def _apply(target: Element, edit: Element) -> None:
    for op in elements(edit):
        if op.tag == _c("text"):
            target.text = op.text or None
        elif op.tag == _c("attribute"):
            name, value = op.get("name", ""), op.get("value")
            if value is None:
                if name in target.attrib:
                    del target.attrib[name]
            else:
                target.set(name, value)
        elif op.tag == _c("children"):
            _apply_children(target, op)
        else:
            raise TransformError(f"{path_of(op)}: unknown edit operation '{local_name(op)}'")


def _apply_children(target: Element, ops: Element) -> None:
    old = elements(target)
    new: list[Element] = []
    pos = 0

    def take(n: int) -> list[Element]:
        nonlocal pos
        if pos + n > len(old):
            raise TransformError(f"{path_of(target)}: the edit script does not fit this document")
        taken = old[pos : pos + n]
        pos += n
        return taken

    for op in elements(ops):
        if op.tag == _c("keep"):
            new.extend(take(int(op.get("n", "0"))))
        elif op.tag == _c("drop"):
            take(int(op.get("n", "0")))
        elif op.tag == _c("insert"):
            new.extend(deepcopy(c) for c in elements(op))
        elif op.tag == _c("edit"):
            (child,) = take(1)
            _apply(child, op)
            new.append(child)
        else:
            raise TransformError(f"{path_of(op)}: unknown edit operation '{local_name(op)}'")
    new.extend(old[pos:])
    for child in old:
        target.remove(child)
    target.extend(new)


# --------------------------------------------------------------------------------------------
# The carrier inside a v3 payload


def attach_carrier(payload: Element, fmt: str, mapping: str, built: Element, original: Element) -> None:
    """Store in ``payload`` what ``original`` has beyond ``built`` (nothing when they are equal).

    The result is checked before it is stored: applying the script to ``built`` must give back the
    original exactly, so a gap in the edit machinery fails loudly instead of losing data.
    """
    edit = make_edit(built, original)
    if edit is None:
        return
    if not equivalent(apply_edit(built, edit), original):
        raise TransformError(f"{path_of(original)}: internal error, the carried difference does not restore the original")
    carrier = etree.SubElement(payload, _c("legacy"), nsmap={"lc": CARRIER})
    carrier.set("format", fmt)
    carrier.set("mapping", mapping)
    carrier.set("base", digest(built))
    carrier.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    carrier.append(edit)


def find_carrier(payload: Element, fmt: str) -> Element | None:
    for carrier in payload.findall(_c("legacy")):
        if carrier.get("format") == fmt:
            return carrier
    return None


def restore(
    payload: Element, fmt: str, mapping: str, built: Element, to_v3: Callable[[Element], Element]
) -> Element:
    """The original legacy document: ``built`` plus the carried difference, if any.

    ``to_v3`` is the converter's legacy -> v3 content function (without a carrier), used to check
    that the carried difference restores a document with exactly the content of ``payload``.
    """
    carrier = find_carrier(payload, fmt)
    if carrier is None:
        return built
    if carrier.get("mapping") != mapping:
        raise TransformError(
            f"{path_of(carrier)}: carried with mapping version {carrier.get('mapping')!r}, this code has {mapping!r}"
        )
    if carrier.get("base") != digest(built):
        raise TransformError(
            f"{path_of(carrier)}: the certificate no longer matches the document the carried difference was made "
            "for (the v3 content was changed after conversion)"
        )
    edits = elements(carrier)
    if len(edits) != 1 or edits[0].tag != _c("edit"):
        raise TransformError(f"{path_of(carrier)}: expected exactly one edit element")
    restored = apply_edit(built, edits[0])
    if canonical(to_v3(restored)) != canonical(strip_carrier(payload)):
        raise TransformError(f"{path_of(carrier)}: the carried difference changes what the certificate says")
    return restored


def strip_carrier(payload: Element) -> Element:
    """The v3 payload without this project's carrier, fit to send to a recipient.

    A payload without one is returned as it is, and a copy is otherwise changed only by the removal:
    a signed certificate must keep its namespace declarations for its signature to verify.
    """
    carriers = payload.findall(_c("legacy"))
    if not carriers:
        return payload
    copy = deepcopy(payload)
    for element in copy.findall(_c("legacy")):
        copy.remove(element)
    return copy


def has_carrier(payload: Element) -> bool:
    return payload.find(_c("legacy")) is not None
