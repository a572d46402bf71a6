"""Canary analysis: judging the new revision by its ALB metrics against absolute limits and against the
stable colour over the same windows, with statistics, so that noise neither rolls back a good version
nor promotes a bad one (Kayenta's and Argo Rollouts' approach). Separate from traffic routing: this
module never touches weights.

Within a step the counts accumulate from the first whole second after the weights were verified (so
no window mixes the old split with the new). At every look the 5XX rate carries a Wilson score
interval at ``confidence`` (one-sided):

- FAIL when the interval's lower bound is above ``max_error_rate`` (the canary is worse than the limit
  with confidence), when the canary is worse than the stable colour with significance (an exact
  one-sided conditional binomial test, and the ratio and absolute difference beyond
  ``max_error_rate_ratio`` and ``min_error_rate_delta``), or when its p99 exceeds the absolute or
  relative limit;
- PASS when the upper bound is under the limit and nothing else fails;
- otherwise INCONCLUSIVE: not enough evidence either way yet.

A step passes when its time is up without a failure; too little traffic (fewer than ``min_requests``)
follows the ``inconclusive`` policy.

``judge`` is pure; ``Analyzer`` samples the metrics port on an injectable clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from pipeline_py.clock import Clock, Deadline
from pipeline_py.config import AnalysisConfig
from pipeline_py.report import Reporter

if TYPE_CHECKING:
    from pipeline_py.deploy.alarm_guard import AlarmGuard
    from pipeline_py.deploy.ports import Metrics

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"


def z_for(confidence: float) -> float:
    """The one-sided normal quantile, e.g. 2.326 for 0.99."""
    return NormalDist().inv_cdf(confidence)


def wilson(errors: float, requests: float, z: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) without data."""
    n = requests
    if n <= 0:
        return 0.0, 1.0
    p = min(max(errors / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if errors <= 0 else max(0.0, centre - half)
    hi = 1.0 if errors >= n else min(1.0, centre + half)
    return lo, hi


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exactly (log-space sum of the smaller tail)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)

    def pmf(i: int) -> float:
        return math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq)

    if k > n * p:
        return min(1.0, sum(pmf(i) for i in range(k, n + 1)))
    return max(0.0, 1.0 - sum(pmf(i) for i in range(k)))


def worse_p(k1: float, n1: float, k2: float, n2: float) -> float:
    """One-sided p-value that rate 1 (canary) is above rate 2 (stable): the exact conditional test —
    given all ``k1 + k2`` errors, how likely are at least ``k1`` of them the canary's if both rates were
    equal (binomial with the canary's share of requests). Exact for the small counts early in a step,
    where a z-test calls one error against none significant."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    errors = round(k1 + k2)
    return binomial_sf(round(k1), errors, n1 / (n1 + n2))


@dataclass(frozen=True)
class Sample:
    requests: float
    errors: float
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    def __add__(self, other: Sample) -> Sample:
        p99s = [p for p in (self.p99_ms, other.p99_ms) if p is not None]
        return Sample(self.requests + other.requests, self.errors + other.errors, max(p99s) if p99s else None)

    def bounds(self, z: float) -> tuple[float, float]:
        return wilson(self.errors, self.requests, z)

    def to_dict(self, z: float | None = None) -> dict[str, Any]:
        rate = self.error_rate
        out: dict[str, Any] = {
            "requests": int(self.requests),
            "errors_5xx": int(self.errors),
            "error_rate": round(rate, 5) if rate is not None else None,
            "p99_ms": round(self.p99_ms, 1) if self.p99_ms is not None else None,
        }
        if z is not None and self.requests > 0:
            lo, hi = self.bounds(z)
            out["error_rate_bounds"] = [round(lo, 5), round(hi, 5)]
        return out


EMPTY = Sample(0, 0, None)


@dataclass(frozen=True)
class Verdict:
    result: str
    reasons: tuple[str, ...]
    canary: Sample
    stable: Sample | None
    confidence: float = 0.99

    def to_dict(self) -> dict[str, Any]:
        z = z_for(self.confidence)
        return {
            "result": self.result,
            "reasons": list(self.reasons),
            "confidence": self.confidence,
            "canary": self.canary.to_dict(z),
            "stable": self.stable.to_dict(z) if self.stable else None,
        }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _interval(s: Sample, z: float) -> str:
    lo, hi = s.bounds(z)
    return f"{_pct(s.error_rate)} [{_pct(lo)}–{_pct(hi)}]"


def judge(canary: Sample, stable: Sample | None, cfg: AnalysisConfig) -> Verdict:
    """The verdict on the counts so far, with the numbers and bounds behind it in the reasons."""
    conf = cfg.confidence
    z = z_for(conf)
    if canary.requests < max(cfg.min_requests, 1):
        return Verdict(INCONCLUSIVE, (f"{int(canary.requests)} requests < min_requests {cfg.min_requests}",),
                       canary, stable, conf)
    rate = canary.error_rate or 0.0
    lo, hi = canary.bounds(z)
    ci = f"{conf:.0%} CI"
    fails: list[str] = []
    if lo > cfg.max_error_rate:
        fails.append(f"5XX rate {_pct(rate)} ({ci} {_pct(lo)}–{_pct(hi)}) is above max {_pct(cfg.max_error_rate)} "
                     "with confidence")
    if cfg.max_p99_ms is not None and canary.p99_ms is not None and canary.p99_ms > cfg.max_p99_ms:
        fails.append(f"p99 {canary.p99_ms:.0f} ms > max {cfg.max_p99_ms:.0f} ms")
    comparable = stable is not None and stable.requests >= max(cfg.min_requests, 1)
    if comparable and stable is not None:
        srate = stable.error_rate or 0.0
        if (cfg.max_error_rate_ratio is not None and rate - srate >= cfg.min_error_rate_delta
                and rate > srate * cfg.max_error_rate_ratio):
            pv = worse_p(canary.errors, canary.requests, stable.errors, stable.requests)
            if pv < 1 - conf:
                fails.append(f"5XX rate {_pct(rate)} is more than {cfg.max_error_rate_ratio:g}× stable's "
                             f"{_pct(srate)} (p = {pv:.2g} < {1 - conf:.2g})")
        if (cfg.max_p99_ratio is not None and canary.p99_ms is not None and stable.p99_ms
                and canary.p99_ms - stable.p99_ms >= cfg.min_p99_delta_ms
                and canary.p99_ms > stable.p99_ms * cfg.max_p99_ratio):
            fails.append(f"p99 {canary.p99_ms:.0f} ms is more than {cfg.max_p99_ratio:g}× stable's "
                         f"{stable.p99_ms:.0f} ms")
    if fails:
        return Verdict(FAIL, tuple(fails), canary, stable, conf)
    notes = [f"5XX rate {_pct(rate)} ({ci} {_pct(lo)}–{_pct(hi)})"]
    if canary.p99_ms is not None:
        notes.append(f"p99 {canary.p99_ms:.0f} ms" + (f" ≤ {cfg.max_p99_ms:.0f} ms" if cfg.max_p99_ms else ""))
    if comparable and stable is not None:
        notes.append(f"stable: 5XX {_interval(stable, z)}, p99 "
                     + (f"{stable.p99_ms:.0f} ms" if stable.p99_ms is not None else "n/a"))
    if hi <= cfg.max_error_rate:
        return Verdict(PASS, (f"upper bound {_pct(hi)} ≤ max {_pct(cfg.max_error_rate)}", *notes), canary, stable,
                       conf)
    return Verdict(INCONCLUSIVE, (f"not yet confident: upper bound {_pct(hi)} > max {_pct(cfg.max_error_rate)}",
                                  *notes), canary, stable, conf)


def next_whole_second(t: datetime) -> datetime:
    """Windows are whole seconds: the first starts at the first whole second after ``t``, so it holds
    only requests routed by the weights in force at ``t``."""
    whole = t.replace(microsecond=0)
    return whole if whole == t else whole + timedelta(seconds=1)


def _whole_second(t: datetime) -> datetime:
    return t.replace(microsecond=0)


@dataclass
class StepResult:
    ok: bool
    reason: str | None
    samples: list[dict[str, Any]] = field(default_factory=list)


class Analyzer:
    """Looks every ``interval`` through a step's bake at the counts accumulated since the step began;
    counts failed looks across the whole rollout (``failure_limit``, ``consecutive_failure_limit``)."""

    def __init__(self, metrics: Metrics, guard: AlarmGuard | None, cfg: AnalysisConfig, reporter: Reporter,
                 clock: Clock, origin: float | None = None) -> None:
        self.metrics = metrics
        self.guard = guard
        self.cfg = cfg
        self.reporter = reporter
        self.clock = clock
        self.failures = 0
        self.consecutive = 0
        self.history: list[dict[str, Any]] = []
        self.started = clock.monotonic() if origin is None else origin

    def details(self) -> dict[str, Any]:
        """The result keys a strategy reports once analysis ran: every look, and the limits it judged by."""
        c = self.cfg
        return {"analysis_samples": self.history,
                "analysis_limits": {"max_error_rate": c.max_error_rate, "max_p99_ms": c.max_p99_ms,
                                    "confidence": c.confidence, "min_requests": c.min_requests}}

    def run_step(self, *, weight: int, canary_tg: str, stable_tg: str | None, bake_seconds: float) -> StepResult:
        cfg = self.cfg
        step = StepResult(True, None)
        step_start = next_whole_second(self.clock.utcnow())
        if cfg.initial_delay > 0:
            self.reporter.info(f"analysis: waiting {cfg.initial_delay:g}s for metrics to arrive")
            self.clock.sleep(cfg.initial_delay)
        deadline = Deadline(self.clock, bake_seconds)
        window_start = step_start
        totals = {"canary": EMPTY, "stable": EMPTY}
        last: Verdict | None = None
        extensions = 0
        while True:
            self.clock.sleep(cfg.interval)
            end = _whole_second(self.clock.utcnow())
            if end <= window_start:
                continue
            tgs = {"canary": canary_tg, **({"stable": stable_tg} if stable_tg else {})}
            window = self.metrics.sample(tgs, window_start, end)
            window_start = end
            for key in tgs:
                totals[key] = totals[key] + window.get(key, EMPTY)
            last = verdict = judge(totals["canary"], totals["stable"] if stable_tg else None, cfg)
            fired = self.guard.check() if self.guard is not None else None
            record = {"weight": weight, "at": end.isoformat(), "t": round(self.clock.monotonic() - self.started, 3),
                      "window": {k: v.to_dict() for k, v in window.items()}, **verdict.to_dict()}
            if fired:
                record["alarm"] = fired
            step.samples.append(record)
            self.history.append(record)
            self._narrate(weight, verdict, fired)
            if fired:
                return StepResult(False, fired, step.samples)
            if verdict.result == FAIL:
                self.failures += 1
                self.consecutive += 1
                if self.failures > cfg.failure_limit or self.consecutive >= cfg.consecutive_failure_limit:
                    return StepResult(False, f"canary analysis failed at {weight}%: {'; '.join(verdict.reasons)} "
                                             f"({self.failures} failed looks, {self.consecutive} in a row)",
                                      step.samples)
            else:
                self.consecutive = 0
            if not deadline.expired:
                continue
            if verdict.result == FAIL:
                return StepResult(False, f"canary analysis failed at {weight}% when its time was up: "
                                         f"{'; '.join(verdict.reasons)}", step.samples)
            if verdict.result == PASS or totals["canary"].requests >= max(cfg.min_requests, 1):
                return step  # time is up without a failure
            if cfg.inconclusive == "pass":
                self.reporter.warn(f"analysis at {weight}%: inconclusive (too little traffic); passing per policy")
                return step
            if cfg.inconclusive == "fail":
                return StepResult(False, f"canary analysis inconclusive at {weight}%: "
                                         f"{'; '.join(verdict.reasons)} (policy: fail)", step.samples)
            if extensions >= cfg.max_inconclusive_extensions:
                return StepResult(False, f"canary analysis still inconclusive at {weight}% after "
                                         f"{extensions} extensions: {'; '.join(last.reasons)}", step.samples)
            extensions += 1
            self.reporter.info(f"analysis at {weight}%: inconclusive, waiting {cfg.interval:g}s more "
                               f"({extensions}/{cfg.max_inconclusive_extensions})")

    def _narrate(self, weight: int, v: Verdict, fired: str | None) -> None:
        z = z_for(v.confidence)

        def nums(name: str, s: Sample) -> str:
            return (f"{name} {int(s.requests)} req, 5XX {_interval(s, z)}, p99 "
                    + (f"{s.p99_ms:.0f} ms" if s.p99_ms is not None else "n/a"))

        line = f"analysis at {weight}%: {v.result.upper()} — {nums('canary', v.canary)}"
        if v.stable is not None:
            line += " | " + nums("stable", v.stable)
        if v.result != PASS:
            line += " — " + v.reasons[0]
        if fired:
            line += f" — {fired}"
        if v.result == INCONCLUSIVE and not fired:
            self.reporter.progress(line, key=f"{weight}% inconclusive")
            return
        (self.reporter.warn if v.result == FAIL or fired else self.reporter.info)(line)
