"""CloudWatch Metrics Insights queries (``GetMetricData`` with ``Expression: "SELECT ..."``) evaluated on the
local stack's metric stores.

The documented grammar (CloudWatch user guide, "Metrics Insights query components and syntax")::

    SELECT FUNCTION(metricName) FROM namespace | SCHEMA(namespace[, labelKey ...])
      [ WHERE labelKey OPERATOR labelValue [AND ...] ] [ GROUP BY labelKey [, ...] ]
      [ ORDER BY FUNCTION() [ DESC | ASC ] ] [ LIMIT number ]

with FUNCTION one of AVG, COUNT, MAX, MIN, SUM. Modelled: all of it with the operators ``=`` and ``!=``.
Anything else (``LIKE``, ``IN``, ``OR``, parentheses in WHERE, metric maths around the query) raises
:class:`UnsupportedQuery`, which the API answers with a ValidationError naming what is not modelled, rather
than returning a result the query did not ask for.

Semantics: each period's observations of every matching series are aggregated together (per group with
GROUP BY); a series without one of the GROUP BY keys falls in the group ``Other``; ORDER BY ranks the groups
by the function over the whole window (ascending unless DESC); a group's label is its values joined by a
space. Nothing here reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline_py.local.cloudwatch_sim import Bucket, MetricStore, SeriesKey, compute

FUNCTIONS = {"AVG": "Average", "COUNT": "SampleCount", "MAX": "Maximum", "MIN": "Minimum", "SUM": "Sum"}
KEYWORDS = {"SELECT", "FROM", "SCHEMA", "WHERE", "AND", "GROUP", "BY", "ORDER", "ASC", "DESC", "LIMIT"}
OTHER = "Other"

_TOKEN = re.compile(r"""\s*(?:(?P<dq>"(?:[^"\\]|\\.)*")|(?P<sq>'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\(|\)|,)"""
                    r"""|(?P<word>[^\s"'(),=!]+)|(?P<bad>\S))""")


class UnsupportedQuery(ValueError):
    """A query outside what the local stack models (or not a query at all)."""


@dataclass(frozen=True)
class InsightsQuery:
    function: str
    metric: str
    namespace: str
    schema: tuple[str, ...] | None = None
    where: tuple[tuple[str, str, str], ...] = ()
    group_by: tuple[str, ...] = ()
    order_function: str | None = None
    descending: bool = False
    limit: int | None = None


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str

    @property
    def keyword(self) -> str | None:
        return self.text.upper() if self.kind == "word" and self.text.upper() in KEYWORDS else None


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _tokens(text: str) -> list[_Tok]:
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup or "bad"
        raw = m.group(kind)
        if kind == "bad":
            raise UnsupportedQuery(f"Metrics Insights: unexpected {raw!r} in the query")
        out.append(_Tok(kind, _unquote(raw) if kind in ("dq", "sq") else raw))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise UnsupportedQuery("Metrics Insights: the query ends too early")
        self.i += 1
        return tok

    def keyword(self, word: str) -> None:
        tok = self.take()
        if tok.keyword != word:
            raise UnsupportedQuery(f"Metrics Insights: expected {word}, found {tok.text!r}")

    def at_keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.keyword == word

    def op(self, text: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.text != text:
            raise UnsupportedQuery(f"Metrics Insights: expected {text!r}, found {tok.text!r}")

    def name(self) -> str:
        tok = self.take()
        if tok.kind not in ("word", "dq") or tok.keyword:
            raise UnsupportedQuery(f"Metrics Insights: expected a name, found {tok.text!r}")
        return tok.text

    def function(self) -> str:
        fn = self.name().upper()
        if fn not in FUNCTIONS:
            raise UnsupportedQuery(f"Metrics Insights: function {fn} is not one of {', '.join(FUNCTIONS)}")
        return fn


def parse(text: str) -> InsightsQuery:
    p = _Parser(text)
    p.keyword("SELECT")
    function = p.function()
    p.op("(")
    metric = p.name()
    p.op(")")
    p.keyword("FROM")
    schema: tuple[str, ...] | None = None
    if p.at_keyword("SCHEMA"):
        p.take()
        p.op("(")
        names = [p.name()]
        while p.peek() is not None and p.peek() == _Tok("op", ","):
            p.take()
            names.append(p.name())
        p.op(")")
        namespace, schema = names[0], tuple(names[1:])
    else:
        namespace = p.name()
    where: list[tuple[str, str, str]] = []
    if p.at_keyword("WHERE"):
        p.take()
        while True:
            key = p.name()
            op = p.take()
            if op.kind != "op" or op.text not in ("=", "!="):
                raise UnsupportedQuery(f"Metrics Insights: operator {op.text!r} is not modelled by the local stack "
                                       "(only = and !=)")
            value = p.take()
            if value.kind != "sq":
                raise UnsupportedQuery(f"Metrics Insights: expected a quoted value after {key} {op.text}")
            where.append((key, op.text, value.text))
            if not p.at_keyword("AND"):
                break
            p.take()
    group_by: list[str] = []
    if p.at_keyword("GROUP"):
        p.take()
        p.keyword("BY")
        group_by.append(p.name())
        while p.peek() == _Tok("op", ","):
            p.take()
            group_by.append(p.name())
    order_function, descending = None, False
    if p.at_keyword("ORDER"):
        p.take()
        p.keyword("BY")
        order_function = p.function()
        p.op("(")
        p.op(")")
        if p.at_keyword("DESC") or p.at_keyword("ASC"):
            descending = p.take().keyword == "DESC"
    limit = None
    if p.at_keyword("LIMIT"):
        p.take()
        tok = p.take()
        if not tok.text.isdigit() or int(tok.text) < 1:
            raise UnsupportedQuery(f"Metrics Insights: LIMIT needs a positive whole number, found {tok.text!r}")
        limit = int(tok.text)
    rest = p.peek()
    if rest is not None:
        raise UnsupportedQuery(f"Metrics Insights: {rest.text!r} is not modelled by the local stack")
    return InsightsQuery(function, metric, namespace, schema, tuple(where), tuple(group_by), order_function,
                         descending, limit)


def _matches(q: InsightsQuery, key: SeriesKey) -> bool:
    namespace, metric, dims = key
    if namespace != q.namespace or metric != q.metric:
        return False
    if q.schema is not None and {n for n, _ in dims} != set(q.schema):
        return False
    for name, op, value in q.where:
        present = (name, value) in dims
        if present != (op == "="):
            return False
    return True


def _group(q: InsightsQuery, key: SeriesKey) -> tuple[str, ...]:
    values = dict(key[2])
    return tuple(values.get(name, OTHER) for name in q.group_by)


def run(q: InsightsQuery, stores: Iterable[MetricStore], start: float, end: float,
        period: int) -> list[tuple[str | None, list[tuple[int, float]]]]:
    """(label, [(period start, value), ...] oldest first) per group; the label is None without GROUP BY."""
    slots: dict[tuple[str, ...], dict[int, Bucket]] = {}
    for store in stores:
        for key in list(store.series):
            if not _matches(q, key):
                continue
            per_slot = slots.setdefault(_group(q, key), {})
            for slot, bucket in store.datapoints(key, start, end, period):
                merged = per_slot.get(slot)
                if merged is None:
                    merged = per_slot[slot] = Bucket()
                merged.merge(bucket)
    stat = FUNCTIONS[q.function]
    groups = []
    for group, per_slot in slots.items():
        points = [(slot, value) for slot in sorted(per_slot)
                  if (value := compute(per_slot[slot], stat)) is not None]
        if points:
            groups.append((group, per_slot, points))
    if q.order_function is not None:
        order_stat = FUNCTIONS[q.order_function]

        def rank(item: tuple[tuple[str, ...], dict[int, Bucket], list[tuple[int, float]]]) -> float:
            whole = Bucket()
            for bucket in item[1].values():
                whole.merge(bucket)
            return compute(whole, order_stat) or 0.0

        groups.sort(key=rank, reverse=q.descending)
    else:
        groups.sort(key=lambda item: item[0])
    if q.limit is not None:
        groups = groups[:q.limit]
    return [(" ".join(group) if q.group_by else None, points) for group, _, points in groups]
