"""JSON for the store's JSON columns, the same on SQLite and PostgreSQL.

Algorithm states and results may hold non-finite floats (an optimizer's best value starts
at infinity). Python's ``json`` writes them as ``Infinity`` and ``NaN``, which PostgreSQL
rejects; here they are written as ``{"$float": "inf"}`` (``"-inf"``, ``"nan"``) and read
back as floats, so every dialect round-trips them exactly.
"""

from __future__ import annotations

import json
import math
from typing import Any

_TAG = "$float"


def _tagged(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {_TAG: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, dict):
        return {k: _tagged(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tagged(v) for v in value]
    return value


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _TAG in obj:
        return float(obj[_TAG])
    return obj


def dumps(value: Any) -> str:
    """Serialize for a JSON column (non-finite floats tagged)."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:  # rare: only then walk the value
        return json.dumps(_tagged(value), allow_nan=False)


def loads(text: str) -> Any:
    """Deserialize a JSON column (tagged floats, and legacy ``Infinity``, restored)."""
    return json.loads(text, object_hook=_untag)
