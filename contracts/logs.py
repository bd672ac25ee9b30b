"""Log lines that cannot be forged and hold no personnummer: every line any logger of the service
writes is one JSON object serialised here from fields, so a value from a request (a newline in a
LogicalAddress, say) stays inside its string; personnummer are masked in every line by ``mask``; a
traceback is logged as its frames and exception type, never the exception's text or parameters
(which may carry request data)."""

from __future__ import annotations

import json
import logging
import re
import traceback
from typing import Any

# A personnummer or samordningsnummer, 12 digits (YYYYMMDDNNNC) or 10 (YYMMDD-NNNC), with or without
# the separator, not inside a longer run of digits. The leading lookahead changes no match (every
# match begins with a digit) but lets the regex engine skip to the digits: the masking of a log line
# (every audit line goes through it) costs a third of what it did.
_PERSON_ID = re.compile(r"(?=\d)(?<!\d)((?:18|19|20)?\d{2}(?:0[1-9]|1[0-2])\d{2})[-+]?\d{4}(?!\d)")


def mask(person_id: str) -> str:
    """A form that is safe in logs and error texts: the birth date only, never the full number."""
    return person_id[:8] + "-****" if len(person_id) >= 8 else "****"


def mask_all(text: str) -> str:
    """``text`` with every personnummer in it masked."""
    return _PERSON_ID.sub(r"\1-****", text)  # the birth date, as ``mask`` leaves it


def structured(message: str, **fields: Any) -> dict[str, Any]:
    """``extra`` for a structured line: ``log.info("call", extra=structured("call", consumer=...))``."""
    return {"fields": {"event": message, **fields}}


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, then the record's fields (a structured line)
    or its message, and, with an exception, its type and frames.

    A process that writes its lines with this formatter does not collect what no line holds: the
    calling function's file and line (a walk up the stack for every record), thread and process
    names (the logging HOWTO's "Optimization"); a third of an audit line's cost."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        logging._srcfile = None
        logging.logThreads = False
        logging.logProcesses = False
        logging.logMultiprocessing = False

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            kind, _exc, tb = record.exc_info
            line["exception"] = kind.__qualname__
            line["traceback"] = [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(tb)]
        return mask_all(json.dumps(line, ensure_ascii=False, default=str))


def log_config() -> dict[str, Any]:
    """The logging of every process of the service (``logging.config.dictConfig``): INFO and up, as
    JSON lines on stderr; uvicorn applies it in each worker, which otherwise starts with logging
    unconfigured and drops the audit lines (INFO)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLines"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {"alembic": {"level": "WARNING"}},
    }
