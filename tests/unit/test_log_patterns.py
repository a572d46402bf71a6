"""CloudWatch Logs filter patterns as the local stack applies them (pipeline_py/local/log_patterns.py)."""

from __future__ import annotations

import pytest

from pipeline_py.local.log_patterns import PatternError, compile_pattern, matches

LINES = [
    "INFO GET /tasks 200 20ms",
    "ERROR GET /tasks 500 20ms internal error",
    "ERRORS are counted here",
    "WARN GET /health 503 unhealthy",
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326',
]


def which(pattern: str) -> list[int]:
    match = compile_pattern(pattern)
    return [i for i, line in enumerate(LINES) if match(line)]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("", [0, 1, 2, 3, 4]),
    ("ERROR", [1, 2]),
    ("ERROR GET", [1]),
    ('"internal error"', [1]),
    ("?WARN ?500", [1, 3]),
    ("GET -ERROR", [0, 3, 4]),
    ("Error", []),  # case-sensitive, as CloudWatch
])
def test_terms(pattern: str, expected: list[int]) -> None:
    assert which(pattern) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ("[level = ERROR*, ...]", [1, 2]),
    ("[level = ERROR, ...]", [1]),
    ("[level != INFO, ...]", [1, 2, 3, 4]),
    ("[level, method, path, status = 5*, ...]", [1, 3]),
    ("[level, method, path, status >= 500, latency]", [3]),  # exactly five fields without an ellipsis
    ("[level, method, path, status >= 500, ...]", [1, 3]),
    ("[level = ERROR*]", []),  # one field only matches one-field events
    ("[ip, id, user, timestamp, request, status_code = 4*, size > 1000]", [4]),
    ("[..., status = 503 || status = 404, size]", [3, 4]),
    ("[level = INFO && level != WARN, ...]", [0]),
])
def test_space_delimited(pattern: str, expected: list[int]) -> None:
    assert which(pattern) == expected


def test_json() -> None:
    event = '{"level": "ERROR", "latency": 250, "user": {"id": 7, "admin": false}, "tags": ["a", "b"], "x": null}'
    assert matches('{ $.level = "ERROR" }', event)
    assert matches('{ $.level = "ERR*" && $.latency > 100 }', event)
    assert not matches('{ $.level = "ERROR" && $.latency > 300 }', event)
    assert matches('{ ($.latency > 300) || $.user.id = 7 }', event)
    assert matches("{ $.user.admin IS FALSE }", event) and matches("{ $.x IS NULL }", event)
    assert matches("{ $.missing NOT EXISTS }", event) and not matches("{ $.level NOT EXISTS }", event)
    assert matches('{ $.tags[1] = "b" }', event)
    assert not matches('{ $.level = "ERROR" }', "ERROR not json")


@pytest.mark.parametrize("bad", ["[level = ERROR", "{ $.level = ", "[, x]", "{ level = 1 }"])
def test_unreadable_patterns_are_errors(bad: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(bad)("ERROR x")
