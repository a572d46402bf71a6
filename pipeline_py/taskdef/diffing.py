"""Unified diff of two task definitions in their canonical JSON form."""

from __future__ import annotations

import difflib
import json
from typing import Any

from pipeline_py.taskdef.normalisation import normalise


def canonical_json(td: dict[str, Any] | None) -> str:
    if td is None:
        return ""
    return json.dumps(normalise(td), indent=2, sort_keys=True, default=str) + "\n"


def diff(old: dict[str, Any] | None, new: dict[str, Any], old_label: str = "live",
         new_label: str = "rendered") -> str:
    """``""`` when both normalise to the same thing; ``old=None`` diffs against nothing."""
    a, b = canonical_json(old), canonical_json(new)
    if a == b:
        return ""
    lines = difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                 fromfile=old_label if old is not None else f"{old_label} (none)",
                                 tofile=new_label, n=3)
    return "".join(lines)


def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    return normalise(a) == normalise(b)
