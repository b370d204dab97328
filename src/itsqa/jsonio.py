"""JSON text that is always valid UTF-8 (kept light: the CLI imports it before anything heavy)."""

from __future__ import annotations

import json
from typing import Any


def json_text(data: Any) -> str:
    """JSON as UTF-8 text can hold it: a lone surrogate (a byte of a path that is not UTF-8, as
    Python decodes it) is written as its \\u escape, which reads back as the same string."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")
