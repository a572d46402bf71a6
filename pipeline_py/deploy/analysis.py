"""The *analysis* port: judging a canary by its ALB metrics against absolute limits and against
the stable colour over the same window, with a minimum-request guard and failure limits so one
noisy sample does not roll back a good version. Separate from traffic routing (Argo Rollouts'
split): this module never touches weights.

``judge`` is pure; ``Analyzer`` samples CloudWatch on an injectable clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pipeline_py.clock import Clock, Deadline
from pipeline_py.config import AnalysisConfig
from pipeline_py.report import Reporter

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Sample:
    requests: float
    errors: float
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.error_rate
        return {
            "requests": int(self.requests),
            "errors_5xx": int(self.errors),
            "error_rate": round(rate, 5) if rate is not None else None,
            "p99_ms": round(self.p99_ms, 1) if self.p99_ms is not None else None,
        }


@dataclass(frozen=True)
class Verdict:
    result: str
    reasons: tuple[str, ...]
    canary: Sample
    stable: Sample | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "reasons": list(self.reasons),
            "canary": self.canary.to_dict(),
            "stable": self.stable.to_dict() if self.stable else None,
        }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def judge(canary: Sample, stable: Sample | None, cfg: AnalysisConfig) -> Verdict:
    """One sample's verdict, with the numbers behind it in the reasons."""
    reasons: list[str] = []
    if canary.requests < max(cfg.min_requests, 1):
        return Verdict(INCONCLUSIVE, (f"{int(canary.requests)} requests < min_requests {cfg.min_requests}",),
                       canary, stable)
    rate = canary.error_rate or 0.0
    if rate > cfg.max_error_rate:
        reasons.append(f"5XX rate {_pct(rate)} > max {_pct(cfg.max_error_rate)}")
    if cfg.max_p99_ms is not None and canary.p99_ms is not None and canary.p99_ms > cfg.max_p99_ms:
        reasons.append(f"p99 {canary.p99_ms:.0f} ms > max {cfg.max_p99_ms:.0f} ms")
    comparable = stable is not None and stable.requests >= max(cfg.min_requests, 1)
    if comparable and stable is not None:
        srate = stable.error_rate or 0.0
        if (cfg.max_error_rate_ratio is not None and rate - srate >= cfg.min_error_rate_delta
                and rate > srate * cfg.max_error_rate_ratio):
            reasons.append(f"5XX rate {_pct(rate)} is more than {cfg.max_error_rate_ratio:g}× stable's {_pct(srate)}")
        if (cfg.max_p99_ratio is not None and canary.p99_ms is not None and stable.p99_ms
                and canary.p99_ms - stable.p99_ms >= cfg.min_p99_delta_ms
                and canary.p99_ms > stable.p99_ms * cfg.max_p99_ratio):
            reasons.append(f"p99 {canary.p99_ms:.0f} ms is more than {cfg.max_p99_ratio:g}× stable's "
                           f"{stable.p99_ms:.0f} ms")
    if reasons:
        return Verdict(FAIL, tuple(reasons), canary, stable)
    ok = [f"5XX rate {_pct(rate)} ≤ {_pct(cfg.max_error_rate)}"]
    if canary.p99_ms is not None:
        ok.append(f"p99 {canary.p99_ms:.0f} ms" + (f" ≤ {cfg.max_p99_ms:.0f} ms" if cfg.max_p99_ms else ""))
    if comparable and stable is not None:
        ok.append(f"stable: 5XX {_pct(stable.error_rate)}, p99 "
                  + (f"{stable.p99_ms:.0f} ms" if stable.p99_ms is not None else "n/a"))
    return Verdict(PASS, tuple(ok), canary, stable)


class MetricsSource(Protocol):
    def sample(self, target_groups: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]: ...


class CloudWatchMetrics:
    """Per-target-group ALB metrics (namespace AWS/ApplicationELB, dimensions LoadBalancer and
    TargetGroup) in one ``get_metric_data`` call per sample.

    The query uses the configured period (1 s high resolution, or 60 s — periods CloudWatch
    accepts); counts are summed over the window's datapoints and the window's p99 is the highest
    per-period p99, which errs on the side of failing a slow canary."""

    def __init__(self, cloudwatch: Any, load_balancer_arn: str, period: int) -> None:
        self.cw = cloudwatch
        self.lb_dimension = load_balancer_arn.split(":loadbalancer/", 1)[-1]
        self.period = period

    @staticmethod
    def tg_dimension(arn: str) -> str:
        return arn.split(":", 5)[-1]

    def sample(self, target_groups: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]:
        period = self.period
        queries = []
        for key, arn in target_groups.items():
            dims = [{"Name": "LoadBalancer", "Value": self.lb_dimension},
                    {"Name": "TargetGroup", "Value": self.tg_dimension(arn)}]
            for qid, metric, stat in (("r", "RequestCount", "Sum"), ("e", "HTTPCode_Target_5XX_Count", "Sum"),
                                      ("p", "TargetResponseTime", "p99")):
                queries.append({
                    "Id": f"{qid}_{key}",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": dims},
                        "Period": period,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                })
        resp = self.cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                       ScanBy="TimestampAscending")
        values: dict[str, list[float]] = {r["Id"]: list(r.get("Values", [])) for r in resp.get("MetricDataResults", [])}
        out = {}
        for key in target_groups:
            p = values.get(f"p_{key}", [])
            out[key] = Sample(
                requests=sum(values.get(f"r_{key}", [])),
                errors=sum(values.get(f"e_{key}", [])),
                p99_ms=max(p) * 1000.0 if p else None,
            )
        return out


def _whole_second(t: datetime) -> datetime:
    """CloudWatch windows are whole seconds; windows are contiguous so no request counts twice."""
    return t.replace(microsecond=0)


@dataclass
class StepResult:
    ok: bool
    reason: str | None
    samples: list[dict[str, Any]] = field(default_factory=list)


class Analyzer:
    """Samples every ``interval`` through a step's bake; counts failures across the whole rollout."""

    def __init__(self, metrics: MetricsSource, alarms: Any, cfg: AnalysisConfig, alarm_names: list[str],
                 reporter: Reporter, clock: Clock) -> None:
        self.metrics = metrics
        self.alarms = alarms
        self.cfg = cfg
        self.alarm_names = alarm_names
        self.reporter = reporter
        self.clock = clock
        self.failures = 0
        self.consecutive = 0
        self.history: list[dict[str, Any]] = []

    def run_step(self, *, weight: int, canary_tg: str, stable_tg: str | None, bake_seconds: float) -> StepResult:
        cfg = self.cfg
        step = StepResult(True, None)
        if cfg.initial_delay > 0:
            self.reporter.info(f"analysis: waiting {cfg.initial_delay:g}s for metrics to arrive")
            self.clock.sleep(cfg.initial_delay)
        deadline = Deadline(self.clock, bake_seconds)
        window_start = _whole_second(self.clock.utcnow())
        passes = 0
        extensions = 0
        while True:
            self.clock.sleep(cfg.interval)
            end = _whole_second(self.clock.utcnow())
            if end <= window_start:
                continue
            verdict, fired = self._sample(canary_tg, stable_tg, window_start, end)
            window_start = end
            record = {"weight": weight, "at": end.isoformat(), **verdict.to_dict()}
            if fired:
                record["alarms"] = fired
            step.samples.append(record)
            self.history.append(record)
            self._narrate(weight, verdict, fired)
            if fired:
                return StepResult(False, "alarm in ALARM: " + "; ".join(fired), step.samples)
            if verdict.result == FAIL:
                self.failures += 1
                self.consecutive += 1
                if self.failures > cfg.failure_limit or self.consecutive >= cfg.consecutive_failure_limit:
                    why = "; ".join(verdict.reasons)
                    return StepResult(False, f"canary analysis failed at {weight}%: {why} "
                                             f"({self.failures} failed samples, {self.consecutive} in a row)",
                                      step.samples)
            elif verdict.result == PASS:
                passes += 1
                self.consecutive = 0
            if deadline.expired:
                if passes > 0:
                    return step
                if cfg.inconclusive == "pass":
                    self.reporter.warn(f"analysis at {weight}%: inconclusive (too little traffic); passing per policy")
                    return step
                if cfg.inconclusive == "fail":
                    return StepResult(False, f"canary analysis inconclusive at {weight}%: "
                                             f"{'; '.join(verdict.reasons)} (policy: fail)", step.samples)
                if extensions >= cfg.max_inconclusive_extensions:
                    return StepResult(False, f"canary analysis still inconclusive at {weight}% after "
                                             f"{extensions} extensions: {'; '.join(verdict.reasons)}", step.samples)
                extensions += 1
                self.reporter.info(f"analysis at {weight}%: inconclusive, waiting {cfg.interval:g}s more "
                                   f"({extensions}/{cfg.max_inconclusive_extensions})")

    def _sample(self, canary_tg: str, stable_tg: str | None, start: datetime,
                end: datetime) -> tuple[Verdict, list[str]]:
        tgs = {"canary": canary_tg}
        if stable_tg:
            tgs["stable"] = stable_tg
        samples = self.metrics.sample(tgs, start, end)
        verdict = judge(samples["canary"], samples.get("stable"), self.cfg)
        fired = [f"{n} ({r})" for n, r in self.alarms.firing(self.alarm_names)] if self.alarm_names else []
        return verdict, fired

    def _narrate(self, weight: int, v: Verdict, fired: list[str]) -> None:
        c = v.canary
        nums = (f"canary {int(c.requests)} req, 5XX {_pct(c.error_rate)}, p99 "
                + (f"{c.p99_ms:.0f} ms" if c.p99_ms is not None else "n/a"))
        if v.stable is not None:
            s = v.stable
            nums += (f" | stable {int(s.requests)} req, 5XX {_pct(s.error_rate)}, p99 "
                     + (f"{s.p99_ms:.0f} ms" if s.p99_ms is not None else "n/a"))
        line = f"analysis at {weight}%: {v.result.upper()} — {nums}"
        if v.result != PASS:
            line += " — " + "; ".join(v.reasons)
        if fired:
            line += " — ALARM: " + "; ".join(fired)
        (self.reporter.warn if v.result == FAIL or fired else self.reporter.info)(line)
