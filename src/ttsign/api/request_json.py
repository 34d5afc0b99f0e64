"""Request bodies read as JSON objects: one parser for every route, one set of answers for what is not one.

Python's decoder recurses once per nesting level and raises RecursionError near 1,000 levels; left to reach
an error handler that is a 500. Here it is, like any other undecodable body, a ValueError with a message fit
to show the caller, which every route already answers with 400.
"""

from __future__ import annotations

import json
from typing import Any


class BodyNotJsonObject(ValueError):
    """The body is not a JSON object; `detail` says why, without echoing the body."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"body: {detail}")
        self.detail = detail


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty (or all-whitespace) body is the empty object."""
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except RecursionError:
        raise BodyNotJsonObject("not valid JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise BodyNotJsonObject(f"not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise BodyNotJsonObject("not valid JSON (not UTF-8)") from None
    if not isinstance(document, dict):
        raise BodyNotJsonObject("must be a JSON object")
    return document
