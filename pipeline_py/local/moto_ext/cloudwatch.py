"""CloudWatch: metrics and alarms answered from :mod:`pipeline_py.local.cloudwatch_sim`."""


from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline_py.local import cloudwatch_sim as cw
from pipeline_py.local.moto_ext.core import current, original_of, patch_moto
from pipeline_py.local.traffic_sim import MetricPoint

if TYPE_CHECKING:
    from pipeline_py.local.moto_ext.fidelity import Fidelity

log = logging.getLogger("pipeline_py.local")




# moto internals used here (pinned in tests/unit/moto_pins/):
#   moto.cloudwatch.responses.CloudWatchResponse: cloudwatch_backend, current_account, region,
#     _get_param, _get_int_param, _get_params and the actions get_metric_statistics, get_metric_data,
#     list_metrics (replaced), describe_alarms (wrapped) and describe_alarm_history (added; moto lacks it)
#   CloudWatchBackend: put_metric_data (replaced), put_metric_alarm and set_alarm_state (wrapped),
#     _validate_parameters_put_metric_data, alarms, aws_metric_data, account_id, region_name
#   Alarm: name, alarm_arn, namespace, metric_name, dimensions (Dimension.name/.value), statistic,
#     extended_statistic, period, evaluation_periods, datapoints_to_alarm, threshold,
#     comparison_operator, treat_missing_data, evaluate_low_sample_count_percentile, unit,
#     metric_data_queries, rule, state_value, state_reason, state_reason_data, state_updated_timestamp
#   MetricDatum.value / MetricAggregatedDatum.sum/min/max/sample_count with namespace, name,
#     dimensions, timestamp, unit (the data moto's metric providers such as S3 compute on the fly)
#   moto.cloudwatch.metric_data_expression_parser.parse_expression
#   moto.cloudwatch.exceptions: InvalidParameterValue, InvalidParameterCombination, ValidationError

HISTORY_KEPT = 100
_PRUNE_EVERY = 10.0


def install() -> None:
    from moto.cloudwatch.models import CloudWatchBackend as B
    from moto.cloudwatch.responses import CloudWatchResponse as R

    patch_moto(B, "put_metric_data", _cw_put_metric_data)
    patch_moto(B, "put_metric_alarm", _cw_put_metric_alarm)
    patch_moto(B, "set_alarm_state", _cw_set_alarm_state)
    patch_moto(R, "get_metric_statistics", _cw_get_metric_statistics)
    patch_moto(R, "get_metric_data", _cw_get_metric_data)
    patch_moto(R, "list_metrics", _cw_list_metrics)
    patch_moto(R, "describe_alarm_history", _cw_describe_alarm_history)
    patch_moto(R, "describe_alarms", _cw_describe_alarms)


def _cw_errors() -> Any:
    from moto.cloudwatch import exceptions

    return exceptions


def _backends(backend_dict: Any) -> list[tuple[str, str, Any]]:
    """(account, region, backend) of every backend moto has created, without creating any."""
    out = []
    for account, regional in list(dict.items(backend_dict)):
        for region, backend in list(dict.items(regional)):
            out.append((account, region, backend))
    return out


def alarm_spec(alarm: Any) -> cw.AlarmSpec | None:
    """What the evaluator needs of a moto alarm; None for composite and metric-maths alarms."""
    if getattr(alarm, "rule", None) is not None or getattr(alarm, "metric_data_queries", None):
        return None
    stat = alarm.extended_statistic or alarm.statistic
    if not alarm.metric_name or not stat or alarm.period is None or alarm.evaluation_periods is None:
        return None
    return cw.AlarmSpec(
        name=alarm.name, namespace=alarm.namespace or "", metric_name=alarm.metric_name,
        dimensions=tuple((str(d.name), str(d.value)) for d in alarm.dimensions or ()), stat=stat,
        period=int(alarm.period), evaluation_periods=int(alarm.evaluation_periods),
        threshold=float(alarm.threshold if alarm.threshold is not None else 0.0),
        comparison=alarm.comparison_operator or "",
        datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
        treat_missing=alarm.treat_missing_data or "missing", low_sample=alarm.evaluate_low_sample_count_percentile,
        unit=alarm.unit, extended=bool(alarm.extended_statistic))


class CloudWatchWorld:
    """Metric stores per account and region, alarm evaluation and alarm history (a ticker)."""

    def __init__(self, fid: Fidelity) -> None:
        self.fid = fid
        self.stores: dict[tuple[str, str], cw.MetricStore] = {}
        self.schedule = cw.AlarmSchedule()
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.evaluations = 0
        self._pruned_at = 0.0

    def store(self, account: str, region: str) -> cw.MetricStore:
        key = (account, region)
        store = self.stores.get(key)
        if store is None:
            store = self.stores[key] = cw.MetricStore()
        return store

    def sink(self, point: MetricPoint) -> None:
        store = self.store(point.account, point.region)
        key = cw.series_key(point.namespace, point.name, point.dimensions)
        if point.distribution:
            for hist, count in point.distribution:
                store.put_distribution(key, point.second, hist, count, point.unit)
        elif point.value is not None:
            store.put_value(key, point.second, point.value, point.unit)

    def tick(self, now: float) -> None:
        wall = self.fid.wall_seconds()
        if wall - self._pruned_at >= _PRUNE_EVERY:
            self._pruned_at = wall
            timing = self.fid.timing
            for store in self.stores.values():
                store.roll_up(wall - timing.metric_high_resolution)
                store.prune(wall - timing.metric_retention)
        self.evaluate(wall)

    def evaluate(self, wall: float) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        for account, region, backend in _backends(cloudwatch_backends):
            for alarm in list(backend.alarms.values()):
                spec = alarm_spec(alarm)
                if spec is None or not spec.evaluable:
                    continue
                at = self.schedule.due(alarm.alarm_arn, spec.period, wall)
                if at is None:
                    continue
                self.evaluations += 1
                try:
                    decision = cw.evaluate_alarm(spec, self.stores.get((account, region)), at, query_time=wall)
                except ValueError:  # a statistic CloudWatch would have refused: the alarm stays as it is
                    continue
                if decision is not None and decision.state != alarm.state_value:
                    self.set_state(alarm, decision.state, decision.reason, json.dumps(decision.reason_data), wall)

    def set_state(self, alarm: Any, state: str, reason: str, reason_data: str | None, wall: float,
                  *, force: bool = False) -> None:
        old_state, old_reason = alarm.state_value, alarm.state_reason
        if state == old_state and not force:
            return
        at = cw.utc(wall)
        alarm.state_value = state
        alarm.state_reason = reason
        alarm.state_reason_data = reason_data
        alarm.state_updated_timestamp = at
        if state != old_state:
            alarm.state_transitioned_timestamp = at
        new: dict[str, Any] = {"stateValue": state, "stateReason": reason}
        if reason_data:
            try:
                new["stateReasonData"] = json.loads(reason_data)
            except ValueError:
                pass
        self.record(alarm, at, "StateUpdate", f"Alarm updated from {old_state} to {state}",
                    {"version": "1.0", "oldState": {"stateValue": old_state, "stateReason": old_reason},
                     "newState": new})

    def record(self, alarm: Any, at: datetime, kind: str, summary: str, data: dict[str, Any]) -> None:
        items = self.history.setdefault(alarm.alarm_arn, [])
        items.append({"AlarmName": alarm.name, "AlarmType": "MetricAlarm" if alarm.rule is None else "CompositeAlarm",
                      "Timestamp": at, "HistoryItemType": kind, "HistorySummary": summary,
                      "HistoryData": json.dumps(data)})
        del items[:-HISTORY_KEPT]

    def reset(self) -> None:
        self.stores.clear()
        self.schedule.reset()
        self.history.clear()
        self.evaluations = 0

    def status(self) -> dict[str, Any]:
        return {"cloudwatch": {"series": sum(len(s.series) for s in self.stores.values()),
                               "buckets": sum(s.bucket_count() for s in self.stores.values()),
                               "alarm_evaluations": self.evaluations}}


def _metric_stores(resp_or_backend: Any) -> list[cw.MetricStore]:
    """Our store for the caller's account and region, plus what moto's metric providers (S3)
    compute on the fly."""
    backend = getattr(resp_or_backend, "cloudwatch_backend", resp_or_backend)
    fid = current()
    stores = [fid.metrics.store(backend.account_id, backend.region_name)]
    try:
        provided = list(backend.aws_metric_data)
    except Exception:  # a provider failing must not break CloudWatch
        log.exception("moto's CloudWatch metric providers failed")
        provided = []
    if provided:
        extra = cw.MetricStore()
        for md in provided:
            key = cw.series_key(md.namespace, md.name, [(d.name, d.value) for d in md.dimensions])
            extra.note_order(key, [(d.name, d.value) for d in md.dimensions])
            second = cw.epoch_seconds(md.timestamp)
            if hasattr(md, "value"):
                extra.put_value(key, second, float(md.value), md.unit)
            else:
                extra.put_statistics(key, second, float(md.sum), float(md.sample_count), float(md.min),
                                     float(md.max), md.unit)
        stores.append(extra)
    return stores


def _store_for(stores: list[cw.MetricStore], key: cw.SeriesKey) -> cw.MetricStore | None:
    return next((s for s in stores if key in s.series), None)


def _cw_put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    fid = current()
    for i, metric in enumerate(metric_data):
        self._validate_parameters_put_metric_data(metric, i + 1)
    with fid.lock:
        fid.metrics.store(self.account_id, self.region_name).put_metric_data(namespace, metric_data,
                                                                             fid.wall_seconds())


def _cw_put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
    fid = current()
    with fid.lock:
        name = kwargs.get("name", args[0] if args else None)
        old = self.alarms.get(name)
        alarm = original_of(type(self), "put_metric_alarm")(self, *args, **kwargs)
        wall = fid.wall_seconds()
        at = cw.utc(wall)
        alarm.configuration_updated_timestamp = at
        if old is not None:  # CloudWatch keeps the state of an alarm it updates
            for attr in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp",
                         "state_transitioned_timestamp", "history"):
                if hasattr(old, attr):
                    setattr(alarm, attr, getattr(old, attr))
        else:
            alarm.state_value = cw.INSUFFICIENT_DATA
            alarm.state_reason = "Unchecked: Initial alarm creation"
            alarm.state_updated_timestamp = alarm.state_transitioned_timestamp = at
        fid.metrics.schedule.forget(alarm.alarm_arn)
        fid.metrics.record(alarm, at, "ConfigurationUpdate",
                           f'Alarm "{name}" {"updated" if old is not None else "created"}',
                           {"version": "1.0", "type": "Update" if old is not None else "Create"})
        return alarm


def _cw_set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str | None, state_value: str) -> None:
    fid = current()
    with fid.lock:
        alarm = self.alarms.get(alarm_name)
        before = (alarm.state_value, alarm.state_reason) if alarm is not None else None
        original_of(type(self), "set_alarm_state")(self, alarm_name, reason, reason_data, state_value)
        alarm = self.alarms[alarm_name]
        wall = fid.wall_seconds()
        if before is not None:
            alarm.state_value, alarm.state_reason = before
        fid.metrics.set_state(alarm, state_value, reason, reason_data, wall, force=True)
        fid.metrics.schedule.hold(alarm.alarm_arn, wall, fid.timing.alarm_set_state_hold)


def _time_param(value: Any, name: str) -> float:
    try:
        return cw.epoch_seconds(value)
    except (TypeError, ValueError):
        raise _cw_errors().InvalidParameterValue(f"The parameter {name} is not a valid timestamp.") from None


def _stat(text: str, where: str) -> cw.Stat:
    try:
        return cw.parse_stat(text)
    except ValueError:
        raise _cw_errors().InvalidParameterValue(f"The value {text} for parameter {where} is not supported.") from None


def _series_unit(store: cw.MetricStore | None, key: cw.SeriesKey, unit: str | None) -> str:
    if unit:
        return unit
    units = store.units(key) if store is not None else set()
    named = {u for u in units if u is not None}
    return named.pop() if len(named) == 1 else "None"


def _cw_get_metric_statistics(self: Any) -> Any:
    from moto.core.responses import ActionResult

    errors = _cw_errors()
    fid = current()
    namespace = self._get_param("Namespace")
    metric_name = self._get_param("MetricName")
    period = self._get_int_param("Period")
    statistics = list(self._get_param("Statistics") or [])
    extended = list(self._get_param("ExtendedStatistics") or [])
    dimensions = self._get_param("Dimensions") or []
    unit = self._get_param("Unit")
    if not statistics and not extended:
        raise errors.InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if statistics and extended:
        raise errors.InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics, but not both.")
    for i, name in enumerate(statistics, 1):
        if name not in cw.BASIC_STATS:
            raise errors.InvalidParameterValue(f"The value {name} for parameter Statistics.member.{i} is not valid.")
    parsed = [(text, _stat(text, f"ExtendedStatistics.member.{i}")) for i, text in enumerate(extended, 1)]
    start = _time_param(self._get_param("StartTime"), "StartTime")
    end = _time_param(self._get_param("EndTime"), "EndTime")
    if math.floor(start) >= math.floor(end):  # whole seconds, as in get_metric_data
        raise errors.InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    if not period or period < 1:
        raise errors.InvalidParameterValue("The parameter Period must be greater than 0.")
    requested = math.ceil((end - cw.align_start(math.floor(start), period)) / period)
    if requested > 1440:
        raise errors.InvalidParameterCombination(
            f"You have requested up to {requested} datapoints, which exceeds the limit of 1440. You may reduce "
            "the datapoints requested by increasing Period, or decreasing the time range.")
    key = cw.series_key(namespace, metric_name, dimensions)
    with fid.lock:
        fid.advance_metrics()
        store = _store_for(_metric_stores(self), key)
        datapoints = []
        shown_unit = _series_unit(store, key, unit)
        for at, bucket in (store.datapoints(key, start, end, period, unit) if store else ()):
            point: dict[str, Any] = {"Timestamp": cw.utc(at), "Unit": shown_unit}
            for name in statistics:
                point[name] = cw.compute(bucket, name)
            if parsed:
                values = {text: cw.compute(bucket, stat) for text, stat in parsed}
                point["ExtendedStatistics"] = {k: v for k, v in values.items() if v is not None}
            datapoints.append(point)
    return ActionResult({"Label": metric_name, "Datapoints": datapoints})


def _cw_get_metric_data(self: Any) -> Any:
    from moto.cloudwatch.metric_data_expression_parser import parse_expression
    from moto.core.responses import ActionResult

    errors = _cw_errors()
    fid = current()
    params = self._get_params()
    start = _time_param(params.get("StartTime"), "StartTime")
    end = _time_param(params.get("EndTime"), "EndTime")
    # CloudWatch's time stamps are whole seconds (the API's ISO 8601 examples, one second the finest resolution):
    # a window whose start and end fall in the same second is empty, and refused as moto refuses it
    if math.floor(start) > math.floor(end):
        raise errors.ValidationError("The parameter EndTime must be greater than StartTime.")
    if math.floor(start) == math.floor(end):
        raise errors.ValidationError("The parameter StartTime must not equal parameter EndTime.")
    scan_by = params.get("ScanBy") or "TimestampDescending"
    queries = params.get("MetricDataQueries") or []
    plans: list[tuple[dict[str, Any], cw.Stat | None]] = []
    for i, query in enumerate(queries, 1):
        if "MetricStat" not in query and "Expression" not in query:
            raise errors.ValidationError(f"The parameter MetricDataQueries.member.{i}.MetricStat is required.\n")
        if "MetricStat" in query:
            ms = query["MetricStat"]
            plans.append((query, _stat(ms.get("Stat", ""), f"MetricDataQueries.member.{i}.MetricStat.Stat")))
        else:
            plans.append((query, None))
    results: list[dict[str, Any]] = []
    with fid.lock:
        fid.advance_metrics()
        stores = _metric_stores(self)
        for query, stat in plans:
            if stat is None:
                continue
            ms = query["MetricStat"]
            metric = ms["Metric"]
            key = cw.series_key(metric.get("Namespace", ""), metric.get("MetricName", ""),
                                metric.get("Dimensions") or [])
            store = _store_for(stores, key)
            values, stamps = [], []
            for at, bucket in (store.datapoints(key, start, end, int(ms.get("Period") or 60), ms.get("Unit"))
                               if store else ()):
                value = cw.compute(bucket, stat)
                if value is not None:
                    values.append(value)
                    stamps.append(cw.utc(at))
            results.append({"id": query["Id"], "label": query.get("Label") or f"{metric.get('MetricName')} {stat.text}",
                            "values": values, "timestamps": stamps, "query": query})
    for query, stat in plans:
        if stat is not None:
            continue
        expression = query["Expression"]
        if expression.strip().upper().startswith("SELECT"):
            results.extend(_insights_results(self, query, start, end))
            continue
        raw_values, stamps = parse_expression(expression, results)
        pairs = sorted(zip(stamps, [float(v) for v in raw_values], strict=True))
        stamps, values = [t for t, _ in pairs], [v for _, v in pairs]
        results.append({"id": query["Id"], "label": query.get("Label") or query["Id"], "values": values,
                        "timestamps": stamps, "query": query})
    out = []
    order = {q["Id"]: i for i, q in enumerate(queries)}
    for r in sorted(results, key=lambda r: order.get(r["id"], 0)):
        if r["query"].get("ReturnData", True) is False:
            continue
        values, stamps = list(r["values"]), list(r["timestamps"])
        if scan_by == "TimestampDescending":
            values.reverse()
            stamps.reverse()
        out.append({"Id": r["id"], "Label": r["label"], "Timestamps": stamps, "Values": values,
                    "StatusCode": "Complete", "Messages": []})
    return ActionResult({"MetricDataResults": out, "Messages": []})


def _insights_results(resp: Any, query: dict[str, Any], start: float, end: float) -> list[dict[str, Any]]:
    """A Metrics Insights query (:mod:`pipeline_py.local.metrics_insights`): one result per group, labelled with
    the group's values (the query's Id without GROUP BY); what the local stack does not model is refused."""
    from pipeline_py.local import metrics_insights

    errors = _cw_errors()
    try:
        parsed = metrics_insights.parse(query["Expression"])
    except metrics_insights.UnsupportedQuery as exc:
        raise errors.ValidationError(str(exc)) from None
    period = int(query.get("Period") or 0)
    if period < 1:
        raise errors.ValidationError(f"The parameter MetricDataQueries.member.Period is required for the "
                                     f"Metrics Insights query {query['Id']}.")
    fid = current()
    with fid.lock:
        series = metrics_insights.run(parsed, _metric_stores(resp), start, end, period)
    out = []
    for label, points in series:
        out.append({"id": query["Id"], "label": query.get("Label") or label or query["Id"],
                    "values": [v for _, v in points], "timestamps": [cw.utc(t) for t, _ in points], "query": query})
    return out


def _cw_describe_alarms(self: Any) -> Any:
    fid = current()
    with fid.lock:
        fid.advance_metrics()
        return original_of(type(self), "describe_alarms")(self)


def _cw_list_metrics(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    namespace = self._get_param("Namespace")
    metric_name = self._get_param("MetricName")
    dimensions = self._get_params().get("Dimensions") or []
    token = self._get_param("NextToken")
    try:
        offset = int(token) if token else 0
    except ValueError:
        raise _cw_errors().InvalidParameterValue("Request parameter NextToken is invalid") from None
    with fid.lock:
        keys: dict[cw.SeriesKey, tuple[tuple[str, str], ...]] = {}
        for store in _metric_stores(self):
            for key in store.keys(namespace, metric_name, dimensions):
                keys.setdefault(key, store.dimensions_of(key))
    ordered = sorted(keys)
    page = ordered[offset:offset + 500]
    metrics = [{"Namespace": key[0], "MetricName": key[1],
                "Dimensions": [{"Name": n, "Value": v} for n, v in keys[key]]} for key in page]
    result: dict[str, Any] = {"Metrics": metrics}
    if offset + 500 < len(ordered):
        result["NextToken"] = str(offset + 500)
    return ActionResult(result)


def _cw_describe_alarm_history(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    name = self._get_param("AlarmName")
    types = set(self._get_param("AlarmTypes") or [])
    kind = self._get_param("HistoryItemType")
    start = self._get_param("StartDate")
    end = self._get_param("EndDate")
    limit = int(self._get_param("MaxRecords") or 100)
    token = self._get_param("NextToken")
    scope = f":cloudwatch:{self.region}:{self.current_account}:alarm:"
    with fid.lock:
        fid.advance_metrics()
        items = [item for arn, history in fid.metrics.history.items() if scope in arn for item in history]
    items = [i for i in items if (not name or i["AlarmName"] == name) and (not types or i["AlarmType"] in types)
             and (not kind or i["HistoryItemType"] == kind)
             and (start is None or i["Timestamp"].timestamp() >= cw.epoch_seconds(start))
             and (end is None or i["Timestamp"].timestamp() < cw.epoch_seconds(end))]
    items.sort(key=lambda i: i["Timestamp"], reverse=(self._get_param("ScanBy") or "TimestampDescending")
               == "TimestampDescending")
    offset = int(token) if token and token.isdigit() else 0
    result: dict[str, Any] = {"AlarmHistoryItems": items[offset:offset + limit]}
    if offset + limit < len(items):
        result["NextToken"] = str(offset + limit)
    return ActionResult(result)
