"""Metrics Insights queries on the local stack's metric store (pipeline_py/local/metrics_insights.py)."""

from __future__ import annotations

import pytest

from pipeline_py.local import metrics_insights as mi
from pipeline_py.local.cloudwatch_sim import MetricStore, series_key

T0 = 1_800_000_000  # a whole minute


def store() -> MetricStore:
    s = MetricStore()
    data = [  # (path, audience, second, value)
        ("/a", "web", T0 + 1, 10.0), ("/a", "web", T0 + 2, 30.0), ("/a", "app", T0 + 3, 5.0),
        ("/b", "web", T0 + 4, 100.0), ("/a", "web", T0 + 61, 7.0)]
    for path, audience, second, value in data:
        s.put_value(series_key("Shop", "Latency", [("Path", path), ("Audience", audience)]), second, value)
    s.put_value(series_key("Shop", "Latency", [("Path", "/a")]), T0 + 5, 1.0)  # no Audience dimension
    s.put_value(series_key("Other", "Latency", [("Path", "/a")]), T0 + 5, 999.0)
    return s


def run(query: str, period: int = 60) -> list[tuple[str | None, list[tuple[int, float]]]]:
    return mi.run(mi.parse(query), [store()], T0, T0 + 120, period)


def test_group_by_gives_one_series_per_value_labelled_with_it() -> None:
    out = run("SELECT SUM(Latency) FROM Shop WHERE Path = '/a' GROUP BY Audience")
    assert out == [("Other", [(T0, 1.0)]), ("app", [(T0, 5.0)]), ("web", [(T0, 40.0), (T0 + 60, 7.0)])]


def test_functions_aggregate_every_matching_series_per_period() -> None:
    assert run('SELECT AVG(Latency) FROM "Shop"') == [(None, [(T0, 146.0 / 5), (T0 + 60, 7.0)])]
    assert run("SELECT MAX(Latency) FROM Shop") == [(None, [(T0, 100.0), (T0 + 60, 7.0)])]
    assert run("select min(Latency) from Shop where Audience != 'web'") == [(None, [(T0, 1.0)])]
    assert run("SELECT COUNT(Latency) FROM Shop WHERE Path = '/a' AND Audience = 'web'") == [
        (None, [(T0, 2.0), (T0 + 60, 1.0)])]


def test_schema_matches_the_exact_dimension_set() -> None:
    assert run('SELECT SUM(Latency) FROM SCHEMA("Shop", Path)') == [(None, [(T0, 1.0)])]
    assert run('SELECT SUM(Latency) FROM SCHEMA("Shop", Audience, Path) WHERE Path = \'/b\'') == [
        (None, [(T0, 100.0)])]
    assert run('SELECT SUM(Latency) FROM SCHEMA("Shop")') == []


def test_order_by_and_limit_rank_groups_over_the_whole_window() -> None:
    out = run("SELECT SUM(Latency) FROM Shop GROUP BY Path ORDER BY SUM() DESC LIMIT 1")
    assert [label for label, _ in out] == ["/b"]
    out = run("SELECT SUM(Latency) FROM Shop GROUP BY Path ORDER BY MAX() ASC")
    assert [label for label, _ in out] == ["/a", "/b"]


def test_several_group_keys_label_with_every_value() -> None:
    out = run("SELECT SUM(Latency) FROM Shop WHERE Path = '/b' GROUP BY Path, Audience")
    assert out == [("/b web", [(T0, 100.0)])]


@pytest.mark.parametrize("query, says", [
    ("SELECT SUM(Latency) FROM Shop WHERE Path LIKE '/a%'", "operator 'LIKE'"),
    ("SELECT SUM(Latency) FROM Shop WHERE Path = '/a' OR Path = '/b'", "'OR' is not modelled"),
    ("SELECT P99(Latency) FROM Shop", "function P99"),
    ("SELECT SUM(Latency) FROM Shop LIMIT 0", "LIMIT"),
    ("SELECT SUM(Latency)", "ends too early"),
    ("SELECT SUM(Latency) FROM Shop WHERE Path = /a", "quoted value"),
])
def test_what_is_not_modelled_is_refused_with_a_reason(query: str, says: str) -> None:
    with pytest.raises(mi.UnsupportedQuery, match="Metrics Insights") as err:
        mi.parse(query)
    assert says in str(err.value)
