"""CloudWatch's metric maths and alarm evaluation, on stored samples and injected time.

moto keeps every ``PutMetricData`` value as a separate object, ignores ``ExtendedStatistics``,
cannot answer a percentile ``Stat`` and never evaluates an alarm. This module is what the local
stack answers from instead (wired into moto by :mod:`pipeline_py.local.moto_ext`):

- :class:`MetricStore` — per series (namespace, metric name, exact dimension set) and whole second,
  a :class:`Bucket` with SampleCount/Sum/Minimum/Maximum and, when percentiles are possible, the
  values themselves as weighted points (``Values``/``Counts``, single values, statistic sets with
  ``SampleCount`` 1 or ``Minimum == Maximum``, and shared :class:`Histogram` objects for the traffic
  model's latency distributions, which cost one reference per second whatever the request rate).
- :func:`parse_stat` / :func:`compute` — ``Sum``, ``Average``, ``Minimum``, ``Maximum``,
  ``SampleCount``, ``pNN``, ``tmNN``/``TM(a:b)``, ``wmNN``/``WM(a:b)``, ``tcNN``/``TC(a:b)``,
  ``tsNN``/``TS(a:b)``, ``PR(a:b)``, ``IQM``; percentiles are nearest-rank over the stored points.
- :meth:`MetricStore.datapoints` — aggregation per period, aligned as CloudWatch documents it.
- :func:`evaluate_alarm` and :class:`AlarmSchedule` — metric alarms evaluated per period from the
  stored data, with TreatMissingData, M out of N and CloudWatch's StateReason wording.

Nothing here reads a clock: times are epoch seconds passed in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from statistics import NormalDist
from typing import Any

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]

BASIC_STATS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_EPS = 1e-9


def series_key(namespace: str, name: str, dimensions: Iterable[Any] = ()) -> SeriesKey:
    """A series is its namespace, metric name and exact dimension set (order does not matter)."""
    pairs = []
    for d in dimensions or ():
        if isinstance(d, Mapping):
            pairs.append((str(d.get("Name")), str(d.get("Value"))))
        else:
            pairs.append((str(d[0]), str(d[1])))
    return (namespace, name, tuple(sorted(pairs)))


def epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def utc(second: float) -> datetime:
    return datetime.fromtimestamp(second, timezone.utc)


# --------------------------------------------------------------------------------------------
# values


class Histogram:
    """Immutable weighted values (sorted), shared between buckets by reference."""

    __slots__ = ("maximum", "mean", "minimum", "values", "weights")

    def __init__(self, values: Iterable[float], weights: Iterable[float], mean: float | None = None) -> None:
        pairs = sorted((float(v), float(w)) for v, w in zip(values, weights, strict=True) if w > 0)
        self.values = tuple(v for v, _ in pairs)
        self.weights = tuple(w for _, w in pairs)
        total = sum(self.weights)
        self.mean = mean if mean is not None else (
            sum(v * w for v, w in pairs) / total if total else 0.0)
        self.minimum = self.values[0] if self.values else 0.0
        self.maximum = self.values[-1] if self.values else 0.0

    @property
    def total(self) -> float:
        return sum(self.weights)


# Probabilities of the nodes of a latency distribution: coarse in the body, fine in the tail, so the
# usual percentiles (p50, p90, p95, p99, p99.9) are exact nodes.
_GRID = tuple(sorted({*(i / 50 for i in range(1, 46)), *(0.9 + i / 200 for i in range(1, 19)),
                      *(0.99 + i / 1000 for i in range(1, 10)), 0.9995, 1.0}))
Z99 = NormalDist().inv_cdf(0.99)


@lru_cache(maxsize=512)
def lognormal(median: float, p99: float) -> Histogram:
    """Response times whose median is ``median`` and whose 99th percentile is ``p99`` (seconds).

    Node *k* carries the probability mass between the grid's previous point and its own, at the
    quantile of its upper end: the nearest-rank percentile of the histogram at a grid point is the
    distribution's exact quantile, however few requests a second carries. Its ``mean`` is the
    distribution's."""
    median = max(float(median), 0.0)
    p99 = max(float(p99), median)
    if median <= 0:
        return Histogram([0.0], [1.0], mean=0.0)
    sigma = (math.log(p99) - math.log(median)) / Z99 if p99 > median else 0.0
    if sigma == 0:
        return Histogram([median], [1.0], mean=median)
    mu = math.log(median)
    nd = NormalDist()
    values, weights = [], []
    previous = 0.0
    for p in _GRID:
        q = p if p < 1.0 else 1.0 - (1.0 - previous) / 2
        values.append(math.exp(mu + sigma * nd.inv_cdf(q)))
        weights.append(p - previous)
        previous = p
    return Histogram(values, weights, mean=math.exp(mu + sigma * sigma / 2))


class _One:
    """``Bucket.plain`` when every plain value equals ``minimum`` (no table needed)."""

    __slots__ = ()


_ONE = _One()


class Bucket:
    """What one series holds for one second (or, merged, for one period): the running
    SampleCount/Sum/Minimum/Maximum, and the values (``plain``: one ``(value, count)``, a
    ``{value: count}`` table, or ``_ONE`` while the bucket holds a single value; ``dists``: shared
    histograms with their counts) unless a statistic set made percentiles impossible
    (``exact`` False). Kept small: a store holds one per series and second."""

    __slots__ = ("count", "dists", "exact", "maximum", "minimum", "negative", "plain", "total", "unit")

    def __init__(self, unit: str | None = None) -> None:
        self.count = 0.0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.plain: _One | tuple[float, float] | dict[float, float] | None = None
        self.dists: dict[int, list[Any]] | None = None
        self.exact = True
        self.negative = False
        self.unit = unit

    def _materialize(self) -> None:
        if self.plain is _ONE:
            self.plain = (self.minimum, self.count)

    def _add_point(self, value: float, count: float, *, implicit: bool = True) -> None:
        """Record a plain value; called before the running statistics include it."""
        if implicit and self.plain is None and self.dists is None and self.count == 0:
            self.plain = _ONE
            return
        self._materialize()
        plain = self.plain
        if plain is None:
            self.plain = (value, count)
        elif isinstance(plain, tuple):
            if plain[0] == value:
                self.plain = (value, plain[1] + count)
            else:
                self.plain = {plain[0]: plain[1], value: count}
        elif isinstance(plain, dict):
            plain[value] = plain.get(value, 0.0) + count

    def _add_dist(self, hist: Histogram, count: float) -> None:
        self._materialize()
        if self.dists is None:
            self.dists = {}
        slot = self.dists.get(id(hist))
        if slot is None:
            self.dists[id(hist)] = [hist, count]
        else:
            slot[1] += count

    def _stats(self, total: float, count: float, minimum: float, maximum: float) -> None:
        self.count += count
        self.total += total
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)
        if minimum < 0:
            self.negative = True

    def add_value(self, value: float, count: float = 1.0) -> None:
        if count <= 0:
            return
        self._add_point(value, count)
        self._stats(value * count, count, value, value)

    def add_statistics(self, total: float, count: float, minimum: float, maximum: float) -> None:
        """A statistic set keeps percentiles possible only when it is one value (SampleCount 1, or
        Minimum equal to Maximum), as CloudWatch documents."""
        if count <= 0:
            return
        if count == 1 or minimum == maximum:
            self._add_point(minimum, count)
        else:
            self.exact = False
        self._stats(total, count, minimum, maximum)

    def add_distribution(self, hist: Histogram, count: float) -> None:
        if count <= 0 or not hist.values:
            return
        self._add_dist(hist, count)
        self._stats(hist.mean * count, count, hist.minimum, hist.maximum)

    def merge(self, other: Bucket) -> None:
        if other.count <= 0:
            return
        if self.exact and other.exact:
            self._materialize()
            for value, count in other.plain_points():
                self._add_point(value, count, implicit=False)
            for hist, count in (other.dists or {}).values():
                self._add_dist(hist, count)
        else:
            self.exact = False
        self._stats(other.total, other.count, other.minimum, other.maximum)
        self.negative = self.negative or other.negative

    def plain_points(self) -> list[tuple[float, float]]:
        plain = self.plain
        if plain is None:
            return []
        if isinstance(plain, _One):
            return [(self.minimum, self.count)]
        if isinstance(plain, tuple):
            return [plain]
        return list(plain.items())

    def points(self) -> list[tuple[float, float]] | None:
        """All values as sorted (value, weight), or None when percentiles are impossible."""
        if not self.exact or self.negative or self.count <= 0:
            return None
        out = self.plain_points()
        for hist, count in (self.dists or {}).values():
            scale = count / hist.total
            out.extend((v, w * scale) for v, w in zip(hist.values, hist.weights, strict=True))
        out.sort()
        return out


# --------------------------------------------------------------------------------------------
# statistics


@dataclass(frozen=True)
class Stat:
    """A parsed statistic: a basic one, a percentile, or a ranged one (TM, WM, TC, TS, PR)."""

    text: str
    kind: str
    low: float | None = None
    high: float | None = None
    percent: bool = False

    @property
    def needs_points(self) -> bool:
        return self.kind not in BASIC_STATS


_NUM = r"(\d+(?:\.\d+)?)"
_SHORT = re.compile(rf"^(p|tm|wm|tc|ts){_NUM}$", re.IGNORECASE)
_RANGED = re.compile(r"^(TM|WM|TC|TS|PR)\(([^:()]*):([^:()]*)\)$", re.IGNORECASE)


def parse_stat(text: str) -> Stat:
    """``ValueError`` for a statistic CloudWatch would not accept."""
    text = (text or "").strip()
    if text in BASIC_STATS:
        return Stat(text, text)
    if text.upper() == "IQM":
        return Stat(text, "TM", 25.0, 75.0, True)
    m = _SHORT.match(text)
    if m:
        kind, number = m.group(1).upper(), float(m.group(2))
        if not 0 <= number <= 100:
            raise ValueError(f"the percentile in {text!r} must be between 0 and 100")
        if kind == "P":
            return Stat(text, "p", number, None, True)
        return Stat(text, kind, 0.0, number, True)
    m = _RANGED.match(text)
    if m:
        kind = m.group(1).upper()
        low, high = m.group(2).strip(), m.group(3).strip()
        marks = {b.endswith("%") for b in (low, high) if b}
        if len(marks) > 1:
            raise ValueError(f"{text!r}: both bounds must be percentages or both absolute values")
        percent = marks == {True}
        if kind == "PR" and percent:
            raise ValueError(f"{text!r}: PR takes absolute values, not percentages")
        try:
            lo = float(low.rstrip("%")) if low else None
            hi = float(high.rstrip("%")) if high else None
        except ValueError:
            raise ValueError(f"{text!r} is not a valid statistic") from None
        if lo is None and hi is None:
            raise ValueError(f"{text!r} needs at least one bound")
        if percent and ((lo is not None and not 0 <= lo <= 100) or (hi is not None and not 0 <= hi <= 100)):
            raise ValueError(f"{text!r}: percentages must be between 0 and 100")
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError(f"{text!r}: the lower bound must be below the upper bound")
        return Stat(text, kind, lo, hi, percent)
    raise ValueError(f"{text!r} is not a valid statistic")


def _clean(x: float) -> float:
    return round(x, 9)


def _percentile(points: list[tuple[float, float]], total: float, p: float) -> float:
    if p <= 0:
        return points[0][0]
    target = p / 100.0 * total
    cumulative = 0.0
    for value, weight in points:
        cumulative += weight
        if cumulative >= target - _EPS * max(total, 1.0):
            return value
    return points[-1][0]


def compute(bucket: Bucket | None, stat: Stat | str) -> float | None:
    """The statistic of a bucket; None when CloudWatch would return no value."""
    if isinstance(stat, str):
        stat = parse_stat(stat)
    if bucket is None or bucket.count <= 0:
        return None
    kind = stat.kind
    if kind == "Sum":
        return bucket.total
    if kind == "SampleCount":
        return bucket.count
    if kind == "Average":
        return bucket.total / bucket.count
    if kind == "Minimum":
        return bucket.minimum
    if kind == "Maximum":
        return bucket.maximum
    points = bucket.points()
    if not points:
        return None
    total = sum(w for _, w in points)
    if kind == "p":
        return _percentile(points, total, stat.low or 0.0)
    if stat.percent:
        return _ranged_by_rank(points, total, stat)
    return _ranged_by_value(points, total, stat)


def _ranged_by_rank(points: list[tuple[float, float]], total: float, stat: Stat) -> float | None:
    low = (stat.low or 0.0) / 100.0 * total
    high = (stat.high if stat.high is not None else 100.0) / 100.0 * total
    weight = weighted = 0.0
    cumulative = 0.0
    for value, w in points:
        start, cumulative = cumulative, cumulative + w
        overlap = min(cumulative, high) - max(start, low)
        if overlap > 0:
            weight += overlap
            weighted += value * overlap
    if stat.kind == "TC":
        return _clean(weight)
    if stat.kind == "TS":
        return weighted
    if stat.kind == "TM":
        return weighted / weight if weight > 0 else None
    # WM: values below the lower / above the upper percentile count as those percentiles' values
    below = _percentile(points, total, stat.low or 0.0)
    above = _percentile(points, total, stat.high if stat.high is not None else 100.0)
    return (weighted + low * below + (total - high) * above) / total


def _ranged_by_value(points: list[tuple[float, float]], total: float, stat: Stat) -> float | None:
    lo = stat.low if stat.low is not None else -math.inf
    hi = stat.high if stat.high is not None else math.inf
    inside = [(v, w) for v, w in points if lo < v <= hi]
    weight = sum(w for _, w in inside)
    weighted = sum(v * w for v, w in inside)
    if stat.kind == "PR":
        return _clean(100.0 * weight / total)
    if stat.kind == "TC":
        return _clean(weight)
    if stat.kind == "TS":
        return weighted
    if stat.kind == "TM":
        return weighted / weight if weight > 0 else None
    return sum(min(max(v, lo), hi) * w for v, w in points) / total  # WM


# --------------------------------------------------------------------------------------------
# the store


def align_start(start: int, period: int) -> int:
    """CloudWatch rounds StartTime down: to the minute for periods of 60 s and more, to even 5-,
    10-, 20- or 30-second divisions of a minute for those periods, to the second otherwise."""
    if period >= 60:
        return start - start % 60
    if period in (5, 10, 20, 30):
        return start - start % period
    return start


Slot = Bucket | list[Bucket]


def _slot_buckets(slot: Slot) -> list[Bucket]:
    return slot if isinstance(slot, list) else [slot]


@dataclass
class MetricStore:
    """Every series of one account and region: ``series[key][second]`` is the second's
    :class:`Bucket` (a list of them in the rare second that saw several units)."""

    series: dict[SeriesKey, dict[int, Slot]] = field(default_factory=dict)
    rolled_up_to: int = 0
    # the dimensions of a series in the order they were first published (ListMetrics shows them so)
    published_order: dict[SeriesKey, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def note_order(self, key: SeriesKey, dimensions: Iterable[Any]) -> None:
        if key not in self.published_order:
            self.published_order[key] = tuple(
                (str(d.get("Name")), str(d.get("Value"))) if isinstance(d, Mapping) else (str(d[0]), str(d[1]))
                for d in dimensions or ())

    def dimensions_of(self, key: SeriesKey) -> tuple[tuple[str, str], ...]:
        return self.published_order.get(key, key[2])

    def _bucket(self, key: SeriesKey, second: int, unit: str | None) -> Bucket:
        seconds = self.series.setdefault(key, {})
        slot = seconds.get(second)
        if slot is None:
            bucket = seconds[second] = Bucket(unit)
            return bucket
        for bucket in _slot_buckets(slot):
            if bucket.unit == unit:
                return bucket
        bucket = Bucket(unit)
        seconds[second] = [*_slot_buckets(slot), bucket]
        return bucket

    def put_value(self, key: SeriesKey, second: float, value: float, unit: str | None = None,
                  count: float = 1.0) -> None:
        self._bucket(key, math.floor(second), unit).add_value(float(value), float(count))

    def put_statistics(self, key: SeriesKey, second: float, total: float, count: float, minimum: float,
                       maximum: float, unit: str | None = None) -> None:
        self._bucket(key, math.floor(second), unit).add_statistics(
            float(total), float(count), float(minimum), float(maximum))

    def put_distribution(self, key: SeriesKey, second: float, hist: Histogram, count: float,
                         unit: str | None = None) -> None:
        self._bucket(key, math.floor(second), unit).add_distribution(hist, float(count))

    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]], now: float) -> None:
        """``PutMetricData``'s ``MetricData`` (already validated), timestamps defaulting to ``now``."""
        for item in metric_data:
            key = series_key(namespace, item["MetricName"], item.get("Dimensions") or ())
            self.note_order(key, item.get("Dimensions") or ())
            ts = item.get("Timestamp")
            second = epoch_seconds(ts) if ts is not None else now
            unit = item.get("Unit")
            if item.get("Values"):
                counts = item.get("Counts") or [1.0] * len(item["Values"])
                for value, count in zip(item["Values"], counts, strict=True):
                    self.put_value(key, second, float(value), unit, float(count))
            elif item.get("StatisticValues"):
                s = item["StatisticValues"]
                self.put_statistics(key, second, float(s["Sum"]), float(s["SampleCount"]), float(s["Minimum"]),
                                    float(s["Maximum"]), unit)
            else:
                self.put_value(key, second, float(item.get("Value", 0.0)), unit)

    def prune(self, before: float) -> int:
        """Drop every second older than ``before``; returns how many buckets went."""
        cutoff = math.floor(before)
        dropped = 0
        for key in list(self.series):
            seconds = self.series[key]
            old = [s for s in seconds if s < cutoff]
            for s in old:
                dropped += len(_slot_buckets(seconds.pop(s)))
            if not seconds:
                del self.series[key]
                self.published_order.pop(key, None)
        return dropped

    def roll_up(self, before: float) -> int:
        """Merge the seconds of every whole minute older than ``before`` into one bucket at the
        minute (CloudWatch keeps high-resolution data for a while, then 1-minute aggregates);
        returns how many buckets went."""
        cutoff = math.floor(before) // 60 * 60
        if cutoff <= self.rolled_up_to:
            return 0
        start, self.rolled_up_to = self.rolled_up_to, cutoff
        dropped = 0
        for seconds in self.series.values():
            old = [s for s in seconds if start <= s < cutoff]
            if not old:
                continue
            merged: dict[tuple[int, str | None], Bucket] = {}
            for s in old:
                for bucket in _slot_buckets(seconds.pop(s)):
                    dropped += 1
                    target = merged.get((s // 60 * 60, bucket.unit))
                    if target is None:
                        target = merged[(s // 60 * 60, bucket.unit)] = Bucket(bucket.unit)
                    target.merge(bucket)
            for (minute, _), bucket in merged.items():
                dropped -= 1
                slot = seconds.get(minute)
                seconds[minute] = bucket if slot is None else [*_slot_buckets(slot), bucket]
        return dropped

    def keys(self, namespace: str | None = None, name: str | None = None,
             dimensions: Iterable[Mapping[str, Any]] = ()) -> list[SeriesKey]:
        """``ListMetrics``: every series with all the given dimensions (a dimension without Value
        matches any value)."""
        wanted = [(str(d.get("Name")), d.get("Value")) for d in dimensions or ()]
        out = []
        for key in self.series:
            ns, metric, dims = key
            if (namespace and ns != namespace) or (name and metric != name):
                continue
            names = {n for n, _ in dims}  # a name may appear with several values
            if all((n, str(v)) in dims if v is not None else n in names for n, v in wanted):
                out.append(key)
        return sorted(out)

    def _seconds(self, key: SeriesKey, start: int, end: int) -> list[int]:
        seconds = self.series.get(key)
        if not seconds or end <= start:
            return []
        if end - start <= len(seconds):
            return [s for s in range(start, end) if s in seconds]
        return sorted(s for s in seconds if start <= s < end)

    def window(self, key: SeriesKey, start: int, end: int, unit: str | None = None) -> Bucket | None:
        """Everything the series holds for ``start <= second < end`` (with ``unit``, only that unit)."""
        merged: Bucket | None = None
        seconds = self.series.get(key) or {}
        for s in self._seconds(key, start, end):
            for bucket in _slot_buckets(seconds[s]):
                if unit is not None and bucket.unit != unit:
                    continue
                if merged is None:
                    merged = Bucket()
                merged.merge(bucket)
        return merged

    def datapoints(self, key: SeriesKey, start: float, end: float, period: int,
                   unit: str | None = None) -> Iterator[tuple[int, Bucket]]:
        """(period start, merged bucket) for each period with data, oldest first. ``start`` is
        inclusive and rounded down as CloudWatch does, ``end`` exclusive."""
        period = max(int(period), 1)
        first = align_start(math.ceil(start - _EPS), period)
        last = math.ceil(end - _EPS)
        seconds = self._seconds(key, first, last)
        if not seconds:
            return
        series = self.series[key]
        current: int | None = None
        merged: Bucket | None = None
        for s in seconds:
            slot = first + (s - first) // period * period
            if slot != current:
                if merged is not None and current is not None:
                    yield current, merged
                current, merged = slot, None
            for bucket in _slot_buckets(series[s]):
                if unit is not None and bucket.unit != unit:
                    continue
                if merged is None:
                    merged = Bucket()
                merged.merge(bucket)
        if merged is not None and current is not None:
            yield current, merged

    def bucket_count(self) -> int:
        return sum(len(_slot_buckets(slot)) for seconds in self.series.values() for slot in seconds.values())

    def units(self, key: SeriesKey) -> set[str | None]:
        return {b.unit for slot in (self.series.get(key) or {}).values() for b in _slot_buckets(slot)}


# --------------------------------------------------------------------------------------------
# alarms

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"

COMPARISONS: dict[str, tuple[str, Any]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}

# CloudWatch looks further back than EvaluationPeriods (its "evaluation range") to find datapoints.
EXTRA_PERIODS = 2


@dataclass(frozen=True)
class AlarmSpec:
    """A metric alarm on one metric (not metric maths), as the evaluator needs it."""

    name: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int
    evaluation_periods: int
    threshold: float
    comparison: str
    datapoints_to_alarm: int | None = None
    treat_missing: str = "missing"
    low_sample: str | None = None
    unit: str | None = None
    extended: bool = False

    @property
    def key(self) -> SeriesKey:
        return series_key(self.namespace, self.metric_name, self.dimensions)

    @property
    def m(self) -> int:
        return min(self.datapoints_to_alarm or self.evaluation_periods, self.evaluation_periods)

    @property
    def evaluable(self) -> bool:
        return (self.comparison in COMPARISONS and self.period > 0 and self.evaluation_periods > 0
                and bool(self.metric_name) and bool(self.stat))


@dataclass(frozen=True)
class AlarmDecision:
    state: str
    reason: str
    reason_data: dict[str, Any]


def evaluation_interval(period: int) -> int:
    """CloudWatch evaluates alarms every minute; high-resolution alarms (periods under 60 s) every period."""
    return max(int(period), 1) if period < 60 else 60


def java_double(x: float) -> str:
    """A number as CloudWatch's (Java) messages print it: ``50.0``, ``0.25``, ``1.0E7``."""
    x = float(x)
    if x == 0:
        return "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(x)
        return text if ("." in text or "e" in text) else text + ".0"
    mantissa, exponent = f"{x:.15E}".split("E")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}E{int(exponent)}"


def _reason_time(second: int) -> str:
    return utc(second).strftime("%d/%m/%y %H:%M:%S")


def _iso(second: float) -> str:
    t = utc(second)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def evaluate_alarm(spec: AlarmSpec, store: MetricStore | None, at: int,
                   query_time: float | None = None) -> AlarmDecision | None:
    """The alarm's state after evaluating at ``at`` (a period boundary), or None when it keeps
    its state without a new reason (``ignore`` with nothing to go on, low-sample percentiles).

    Model (after CloudWatch's documentation of missing data): datapoints are taken from the
    evaluation range, the ``EvaluationPeriods + 2`` periods ending at ``at``. With at least
    EvaluationPeriods real datapoints the most recent ones decide and TreatMissingData plays no
    part; with none, ``missing`` → INSUFFICIENT_DATA, ``ignore`` → unchanged, ``breaching`` →
    ALARM, ``notBreaching`` → OK; in between, the missing ones are filled in as TreatMissingData
    says (``missing``/``ignore`` fill nothing: the alarm fires when the real ones reach
    DatapointsToAlarm, and ``ignore`` keeps its state when the result cannot be decided)."""
    if not spec.evaluable:
        return None
    stat = parse_stat(spec.stat)
    n, m, p = spec.evaluation_periods, spec.m, spec.period
    words, breaches = COMPARISONS[spec.comparison]
    real: list[tuple[int, float, float]] = []  # (period start, value, sample count), newest first
    for k in range(n + EXTRA_PERIODS):
        start = at - (k + 1) * p
        bucket = store.window(spec.key, start, start + p, spec.unit) if store is not None else None
        value = compute(bucket, stat)
        if value is not None and bucket is not None:
            real.append((start, value, bucket.count))
    if (stat.needs_points and spec.low_sample == "ignore" and real
            and real[0][2] < _significant_samples(stat)):
        return None
    used = real[:n]
    missing = n - len(used)
    treat = spec.treat_missing or "missing"
    filled_breaching = missing if treat == "breaching" and missing else 0
    filled_ok = missing if treat == "notBreaching" and missing else 0
    bad = [d for d in used if breaches(d[1], spec.threshold)]
    good = [d for d in used if not breaches(d[1], spec.threshold)]
    data = _reason_data(spec, stat, at, used, query_time)
    if not used:
        if treat == "ignore":
            return None
        if treat == "missing":
            return AlarmDecision(INSUFFICIENT_DATA, f"Insufficient Data: {_plural(n, 'datapoint')} "
                                 f"{'was' if n == 1 else 'were'} unknown.", data)
        state = ALARM if treat == "breaching" else OK
        label = "Breaching" if treat == "breaching" else "NonBreaching"
        return AlarmDecision(state, f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} "
                             f"and {_plural(n, 'missing datapoint')} {'was' if n == 1 else 'were'} "
                             f"treated as [{label}].", data)
    if len(bad) + filled_breaching >= m:
        state, listed, negate = ALARM, bad, ""
    elif treat == "ignore" and len(bad) + missing >= m:
        return None
    else:
        state, listed, negate = OK, good, "not "
    points = ", ".join(f"{java_double(v)} ({_reason_time(s)})" for s, v, _ in listed)
    shown = len(listed)
    if shown == n or m == n:
        head = f"{_plural(shown, 'datapoint')}"
    else:
        head = f"{shown} out of the last {_plural(n, 'datapoint')}"
    reason = (f"Threshold Crossed: {head} [{points}] {'was' if shown == 1 else 'were'} {negate}{words} "
              f"the threshold ({java_double(spec.threshold)})")
    filled = filled_breaching if state == ALARM else filled_ok
    if filled:
        reason += (f" and {_plural(filled, 'missing datapoint')} {'was' if filled == 1 else 'were'} treated as "
                   f"[{'Breaching' if state == ALARM else 'NonBreaching'}]")
    if m < n:
        need = m if state == ALARM else n - m + 1
        reason += (f" (minimum {_plural(need, 'datapoint')} for "
                   f"{'OK -> ALARM' if state == ALARM else 'ALARM -> OK'} transition)")
    return AlarmDecision(state, reason + ".", data)


def _significant_samples(stat: Stat) -> float:
    """CloudWatch's threshold for a statistically significant percentile sample."""
    p = (stat.high if stat.kind != "p" else stat.low) or 0.0
    fraction = p / 100.0
    if fraction >= 1.0:
        return math.inf
    if fraction >= 0.5:
        return 10.0 / (1.0 - fraction)
    return 10.0 / fraction if fraction > 0 else math.inf


def _reason_data(spec: AlarmSpec, stat: Stat, at: int, used: list[tuple[int, float, float]],
                 query_time: float | None) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "1.0", "queryDate": _iso(query_time if query_time is not None else at),
                            "startDate": _iso(at - spec.evaluation_periods * spec.period)}
    data["extendedStatistic" if spec.extended else "statistic"] = stat.text
    if spec.unit:
        data["unit"] = spec.unit
    data["period"] = spec.period
    data["recentDatapoints"] = [v for _, v, _ in reversed(used)]
    data["threshold"] = float(spec.threshold)
    data["evaluatedDatapoints"] = [{"timestamp": _iso(s), "sampleCount": float(c), "value": v} for s, v, c in used]
    return data


@dataclass
class AlarmSchedule:
    """When each alarm is evaluated next: at period boundaries (every minute for periods of 60 s
    or more), and a state set by ``SetAlarmState`` holds until the first boundary ``hold``
    seconds after it was set."""

    last: dict[str, int] = field(default_factory=dict)
    hold_until: dict[str, float] = field(default_factory=dict)

    def due(self, key: str, period: int, now: float) -> int | None:
        interval = evaluation_interval(period)
        boundary = math.floor(now) // interval * interval
        last = self.last.get(key)
        if last is None:
            self.last[key] = boundary
            return None
        if boundary <= last or boundary < self.hold_until.get(key, -math.inf):
            return None
        self.last[key] = boundary
        return boundary

    def hold(self, key: str, now: float, seconds: float) -> None:
        self.hold_until[key] = now + max(seconds, 0.0)

    def forget(self, key: str) -> None:
        self.last.pop(key, None)
        self.hold_until.pop(key, None)

    def reset(self) -> None:
        self.last.clear()
        self.hold_until.clear()
