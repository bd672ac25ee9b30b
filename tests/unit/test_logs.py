"""The one log formatter: one JSON object per line, personnummer masked, tracebacks without texts."""

from __future__ import annotations

import json
import logging

from intygstjanst.contracts.logs import JsonLines, mask, mask_all, structured


def _record(message: str, *args: object, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord("intygstjanst.test", logging.WARNING, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_a_newline_in_a_value_stays_inside_its_string() -> None:
    line = JsonLines().format(_record("refused for %s", 'x\n{"logger": "intygstjanst.audit", "result": "OK"}'))
    assert "\n" not in line
    assert json.loads(line)["message"].startswith("refused for x\n{")


def test_structured_fields_are_the_line() -> None:
    line = json.loads(JsonLines().format(_record("call", **structured("call", consumer="SE1", ms=1.5))))
    assert (line["event"], line["consumer"], line["ms"], line["logger"]) == ("call", "SE1", 1.5, "intygstjanst.test")
    assert "message" not in line


def test_personnummer_are_masked_in_messages_and_fields() -> None:
    formatter = JsonLines()
    for text in ("191212121212", "19121212-1212", "121212-1212", "1212121212"):
        line = formatter.format(_record("patient %s", text, **structured("x", patient=text)))
        assert text not in line
    assert mask_all("a 191212121212 b") == "a " + mask("191212121212") + " b" == "a 19121212-**** b"
    assert mask_all("logical address 5565594230, HSA SE2321000016-C001") == "logical address 5565594230, HSA SE2321000016-C001"


def test_a_traceback_keeps_its_frames_and_drops_the_exception_text() -> None:
    try:
        raise ValueError("INSERT failed: [parameters: ('Tolvan', '191212121212')]")
    except ValueError as exc:
        line = json.loads(JsonLines().format(_record("unexpected error (reference abc)", exc=exc)))
    assert line["exception"] == "ValueError"
    assert any("test_logs.py" in frame for frame in line["traceback"])
    assert "Tolvan" not in json.dumps(line) and "191212121212" not in json.dumps(line)
