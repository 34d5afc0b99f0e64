"""Logging for `ttsign serve`: one JSON object per line on stderr, a request id on every line of a request,
and secrets masked wherever they might slip into a message.

The request id lives in a context variable set by the API's outermost middleware, so every log call made
while a request is handled (in any layer, in any task it spawns) carries it without passing it around.
Redaction is a last line of defence: code should never log a secret, but a URL in an exception message or a
header dump must not leak one either.

Structured fields travel as `extra={FIELDS: {...}}`: the JSON format puts them beside the message (the access
line's route, status, ms...), the text format appends them as name=value.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Literal

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("ttsign_request_id", default="")

MASK = "[redacted]"
FIELDS = "fields"  # the LogRecord attribute (set through `extra`) holding a line's structured fields
_FIELDS = "|".join(
    (
        "apiKey",
        "api_key",
        "jwtKey",
        "relay_ticket",
        "fetch_ticket",
        "session_?id",
        "sid_tt",
        "sid_guard",
        "x-api-key",
        "x-jwt-key",
        "ttwid",
        "msToken",
    )
)
# name=value (query strings, cookies), "name": "value" (JSON), name: value (headers)
_PAIR = re.compile(rf"""(?i)(["']?\b(?:{_FIELDS})["']?\s*(?:=|:)\s*["']?)([^\s"'&;,}}]+)""")
# The overlay page's `?key=` (an API key or token in the URL an OBS browser source loads).
_QUERY_KEY = re.compile(r"([?&]key=)([^\s\"'&#]+)")
# A whole Cookie / x-cookie-header header: every value in it is a secret.
_COOKIE_HEADER = re.compile(r"(?i)(\b(?:cookie|x-cookie-header)\b[\"']?\s*[:=]\s*[\"']?)([^\"'\n]+)")


def redact(text: str) -> str:
    """`text` with the values of secret-looking fields masked (names are kept, so the line still reads)."""
    if not text or ("=" not in text and ":" not in text):  # both patterns need one: most lines skip the regexes
        return text
    text = _COOKIE_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _QUERY_KEY.sub(lambda m: m.group(1) + MASK, text)
    return _PAIR.sub(lambda m: m.group(1) + MASK, text)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being handled ("" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", "")
        if request_id:
            document["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
        if fields:
            # Fields never replace the envelope (ts, level, logger, message); string values are masked too.
            for name, value in fields.items():
                if name not in document:
                    document[name] = redact(value) if type(value) is str else value
        if record.exc_info:
            document["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(document, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "request_id", ""):
            record.request_id = "-"
        line = super().format(record)
        fields = fields_of(record)
        if fields:
            line += " " + " ".join(f"{name}={'-' if value is None else value}" for name, value in fields.items())
        return redact(line)


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    """The record's structured fields (see FIELDS), or none."""
    fields = getattr(record, FIELDS, None)
    return fields if isinstance(fields, dict) else {}


_last_second: list[tuple[int, str]] = [(-1, "")]  # strftime costs more than the rest of a line's envelope


def _timestamp(created: float) -> str:
    whole = int(created)
    second, text = _last_second[0]
    if whole != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last_second[0] = (whole, text)
    return f"{text}.{int(created % 1 * 1000):03d}Z"


def configure(level: str, log_format: Literal["json", "text"] = "json") -> None:
    """Route every logger (ttsign's, uvicorn's, libraries') to one stderr handler in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Neither format shows thread or process names: skip looking them up for every record (the access line
    # makes one record per request).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
