"""CloudWatch Logs filter patterns, as ``FilterLogEvents`` applies them (moto matches only plain terms and
returns every event for the rest).

Supported, case-sensitive as in CloudWatch:

- terms: ``ERROR`` (every term must appear), ``"exact phrase"``, ``?ERROR ?WARN`` (any of them), ``-DEBUG``
  (must not appear); an empty pattern matches everything;
- space-delimited events: ``[ip, user, ..., status = 5*, bytes > 100]`` — the message is split on spaces
  (``"quoted"`` and ``[bracketed]`` text is one field); a field may be compared with ``=``/``!=`` (text with
  ``*`` wildcards, or a number) or ``<``, ``<=``, ``>``, ``>=`` (numbers), conditions joined with ``&&`` and
  ``||``; ``...`` stands for any number of fields, and without it the number of fields must match;
- JSON events: ``{ $.level = "ERROR" && ($.latency > 100 || $.status = 5*) }``, ``IS NULL``, ``NOT EXISTS``,
  ``IS TRUE``/``IS FALSE``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[str], bool]

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


class PatternError(ValueError):
    pass


def compile_pattern(pattern: str | None) -> Matcher:
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        return _json_pattern(text)
    if text.startswith("["):
        return _delimited_pattern(text)
    return _terms_pattern(text)


def matches(pattern: str | None, message: str) -> bool:
    return compile_pattern(pattern)(message)


# ---- terms


def _terms_pattern(text: str) -> Matcher:
    tokens = re.findall(r'[?-]?"(?:[^"\\]|\\.)*"|\S+', text)
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    for tok in tokens:
        kind = tok[0] if tok[0] in "?-" and len(tok) > 1 else ""
        word = tok[1:] if kind else tok
        if len(word) >= 2 and word.startswith('"') and word.endswith('"'):
            word = word[1:-1].replace('\\"', '"')
        {"?": optional, "-": excluded, "": required}[kind].append(word)

    def match(message: str) -> bool:
        if any(w in message for w in excluded):
            return False
        if not all(w in message for w in required):
            return False
        return not optional or any(w in message for w in optional)

    return match


# ---- comparisons shared by space-delimited and JSON patterns


def _compare(value: Any, op: str, expected: str) -> bool:
    if value is None:
        return False
    if _NUMBER.match(expected) and op in ("=", "!=", "<", "<=", ">", ">="):
        try:
            number = float(value)
            target = float(expected)
        except (TypeError, ValueError):
            return op == "!="
        return {"=": number == target, "!=": number != target, "<": number < target, "<=": number <= target,
                ">": number > target, ">=": number >= target}[op]
    if op not in ("=", "!="):
        raise PatternError(f"{op} compares numbers, not {expected!r}")
    text = value if isinstance(value, str) else json.dumps(value) if not isinstance(value, bool) else str(value).lower()
    hit = fnmatch.fnmatchcase(text, expected) if "*" in expected else text == expected
    return hit if op == "=" else not hit


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


# ---- space-delimited


def _fields(message: str) -> list[str]:
    return [m.group(0)[1:-1] if m.group(0)[:1] in '"[' else m.group(0)
            for m in re.finditer(r'"[^"]*"|\[[^\]]*\]|\S+', message)]


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quoted, cur = [], 0, False, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if not quoted and depth == 0 and text.startswith(sep, i):
            parts.append(cur)
            cur = ""
            i += len(sep)
            continue
        cur += ch
        i += 1
    parts.append(cur)
    return parts


_CONDITION = re.compile(r"^\s*([A-Za-z_$][\w.$\[\]]*)\s*(!=|<=|>=|=|<|>)\s*(.+?)\s*$")


def _delimited_pattern(text: str) -> Matcher:
    if not text.endswith("]"):
        raise PatternError(f"space-delimited pattern must end with ']': {text!r}")
    specs: list[tuple[str, Callable[[str], bool] | None]] = []
    for raw in _split_top(text[1:-1], ","):
        field = raw.strip()
        if not field:
            raise PatternError(f"empty field in {text!r}")
        if field == "...":
            specs.append(("...", None))
            continue
        specs.append((field, _field_condition(field)))

    def match_from(fields: list[str], i: int, j: int) -> bool:
        if j == len(specs):
            return i == len(fields)
        name, cond = specs[j]
        if name == "...":
            return any(match_from(fields, k, j + 1) for k in range(i, len(fields) + 1))
        if i >= len(fields):
            return False
        return (cond is None or cond(fields[i])) and match_from(fields, i + 1, j + 1)

    return lambda message: match_from(_fields(message), 0, 0)


def _field_condition(field: str) -> Callable[[str], bool] | None:
    ors = _split_top(field, "||")
    if len(ors) > 1:
        conds = [_field_condition(o) for o in ors]
        return lambda v: any(c is None or c(v) for c in conds)
    ands = _split_top(field, "&&")
    if len(ands) > 1:
        conds = [_field_condition(a) for a in ands]
        return lambda v: all(c is None or c(v) for c in conds)
    m = _CONDITION.match(field)
    if not m:
        if re.match(r"^[A-Za-z_]\w*$", field.strip()):
            return None  # a name only
        raise PatternError(f"cannot read the field condition {field!r}")
    _, op, expected = m.groups()
    value = _unquote(expected)
    return lambda v: _compare(v, op, value)


# ---- JSON


def _json_pattern(text: str) -> Matcher:
    if not text.endswith("}"):
        raise PatternError(f"JSON pattern must end with '}}': {text!r}")
    predicate = _json_expr(text[1:-1].strip())

    def match(message: str) -> bool:
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        return isinstance(doc, dict | list) and predicate(doc)

    return match


_MISSING = object()


def _selector(doc: Any, path: str) -> Any:
    if not path.startswith("$"):
        raise PatternError(f"JSON selectors start with $: {path!r}")
    cur = doc
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path[1:]):
        key, index = part
        if key:
            if not isinstance(cur, dict) or key not in cur:
                return _MISSING
            cur = cur[key]
        else:
            if not isinstance(cur, list) or int(index) >= len(cur):
                return _MISSING
            cur = cur[int(index)]
    return cur


def _json_expr(text: str) -> Callable[[Any], bool]:
    text = text.strip()
    ors = _split_top(text, "||")
    if len(ors) > 1:
        parts = [_json_expr(o) for o in ors]
        return lambda d: any(p(d) for p in parts)
    ands = _split_top(text, "&&")
    if len(ands) > 1:
        parts = [_json_expr(a) for a in ands]
        return lambda d: all(p(d) for p in parts)
    if text.startswith("(") and text.endswith(")"):
        return _json_expr(text[1:-1])
    m = re.match(r"^(\$[^\s]*)\s+(IS NULL|NOT EXISTS|IS TRUE|IS FALSE)$", text)
    if m:
        path, test = m.groups()
        checks: dict[str, Callable[[Any], bool]] = {
            "IS NULL": lambda v: v is None, "NOT EXISTS": lambda v: v is _MISSING,
            "IS TRUE": lambda v: v is True, "IS FALSE": lambda v: v is False}
        return lambda d: checks[test](_selector(d, path))
    m = re.match(r"^(\$[^\s!=<>]*)\s*(!=|<=|>=|=|<|>)\s*(.+)$", text)
    if not m:
        raise PatternError(f"cannot read the JSON condition {text!r}")
    path, op, expected = m.groups()
    value = _unquote(expected)

    def check(d: Any) -> bool:
        v = _selector(d, path)
        return v is not _MISSING and _compare(v, op, value)

    return check
