"""moto internals the CloudWatch module (pipeline_py.local.moto_ext.cloudwatch) reads, calls or
replaces, and the gaps in moto its patches fill.

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from pipeline_py.local.moto_ext import cloudwatch as moto_cloudwatch
from tests.unit.moto_pins._helpers import REGION, original


def _cw_backend(account: str = "000000000043") -> Any:
    from moto.cloudwatch.models import CloudWatchBackend

    return CloudWatchBackend(REGION, account)



def test_cloudwatch_backend_shapes() -> None:
    from moto.cloudwatch import exceptions
    from moto.cloudwatch.metric_data_expression_parser import parse_expression
    from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
    from moto.cloudwatch.responses import CloudWatchResponse

    backend = _cw_backend()
    assert (backend.account_id, backend.region_name) == ("000000000043", REGION)
    assert isinstance(backend.alarms, dict) and isinstance(backend.metric_data, list)
    from moto.s3.models import s3_backends

    s3_backends[backend.account_id]["aws"].create_bucket("pin-metrics", REGION)  # S3 provides metrics
    try:
        provided = {(m.namespace, m.name, m.value, m.unit): sorted((d.name, d.value) for d in m.dimensions)
                    for m in backend.aws_metric_data}
    finally:
        s3_backends[backend.account_id]["aws"].delete_bucket("pin-metrics")
    assert provided[("AWS/S3", "NumberOfObjects", 0, "Count")] == [("BucketName", "pin-metrics"),
                                                                   ("StorageType", "AllStorageTypes")]
    assert callable(backend._validate_parameters_put_metric_data)
    with pytest.raises(exceptions.InvalidParameterValue):
        backend._validate_parameters_put_metric_data({"MetricName": "x", "Value": float("nan")}, 1)
    assert list(inspect.signature(original(CloudWatchBackend, "put_metric_data")).parameters) == [
        "self", "namespace", "metric_data"]
    assert list(inspect.signature(original(CloudWatchBackend, "set_alarm_state")).parameters) == [
        "self", "alarm_name", "reason", "reason_data", "state_value"]
    put_alarm = inspect.signature(original(CloudWatchBackend, "put_metric_alarm")).parameters
    assert {"name", "namespace", "metric_name", "comparison_operator", "evaluation_periods", "period",
            "threshold", "statistic", "dimensions", "extended_statistic", "datapoints_to_alarm",
            "treat_missing_data", "evaluate_low_sample_count_percentile", "unit", "rule",
            "metric_data_queries"} <= set(put_alarm)
    assert parse_expression("m1", [{"id": "m1", "values": [1.0], "timestamps": ["t"]}]) == ([1.0], ["t"])
    assert isinstance(CloudWatchResponse.__dict__.get("cloudwatch_backend"), property)
    for name in ("InvalidParameterValue", "InvalidParameterCombination", "ValidationError", "ResourceNotFound"):
        assert hasattr(exceptions, name), name
    assert isinstance(cloudwatch_backends, dict)


def test_cloudwatch_alarm_shapes_and_spec() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    backend = _cw_backend()
    alarm = original(CloudWatchBackend, "put_metric_alarm")(
        backend, name="a", namespace="AWS/ApplicationELB", metric_name="HTTPCode_Target_5XX_Count",
        comparison_operator="GreaterThanThreshold", evaluation_periods=3, period=10, threshold=50.0,
        statistic="Sum", description="d", dimensions=[{"Name": "LoadBalancer", "Value": "app/x/1"}],
        alarm_actions=[], datapoints_to_alarm=2, treat_missing_data="notBreaching")
    assert backend.alarms["a"] is alarm and alarm.alarm_arn.endswith(":alarm:a")
    for attr in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history",
                 "configuration_updated_timestamp", "unit", "extended_statistic", "rule", "metric_data_queries"):
        assert hasattr(alarm, attr), attr
    assert [(d.name, d.value) for d in alarm.dimensions] == [("LoadBalancer", "app/x/1")]
    spec = moto_cloudwatch.alarm_spec(alarm)
    assert spec is not None and spec.key == ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count",
                                             (("LoadBalancer", "app/x/1"),))
    assert (spec.stat, spec.period, spec.evaluation_periods, spec.m, spec.threshold, spec.treat_missing) == (
        "Sum", 10, 3, 2, 50.0, "notBreaching")


def test_moto_still_starts_alarms_ok_and_never_evaluates_them() -> None:
    """CloudWatch starts an alarm in INSUFFICIENT_DATA and evaluates it from data; moto starts it
    OK and leaves it there. Drop our alarm handling when moto evaluates alarms itself."""
    from moto.cloudwatch import models
    from moto.cloudwatch.models import CloudWatchBackend

    backend = _cw_backend()
    alarm = original(CloudWatchBackend, "put_metric_alarm")(
        backend, name="a", namespace="N", metric_name="m", comparison_operator="GreaterThanThreshold",
        evaluation_periods=1, period=10, threshold=1.0, statistic="Sum", description="", dimensions=[],
        alarm_actions=[])
    assert alarm.state_value == "OK"
    source = inspect.getsource(models)
    assert "def evaluate" not in source and "treat_missing_data ==" not in source


def test_moto_still_expands_counts_into_one_object_per_sample() -> None:
    """What made a per-request latency feed unaffordable in moto: 1000 counts are 1000 objects."""
    from moto.cloudwatch.models import CloudWatchBackend

    backend = _cw_backend()
    original(CloudWatchBackend, "put_metric_data")(
        backend, "N", [{"MetricName": "m", "Values": [0.1, 0.2], "Counts": [600.0, 400.0]}])
    assert len(backend.metric_data) == 1000


def _moto_datum(namespace: str, value: float, dims: list[dict[str, str]]) -> Any:
    from datetime import datetime, timezone

    from moto.cloudwatch.models import MetricDatum

    return MetricDatum(namespace, "m", value, dims, datetime(2026, 1, 1, 0, 0, 5, tzinfo=timezone.utc))


def test_moto_get_metric_data_still_ignores_the_namespace_with_dimensions_and_has_no_percentiles() -> None:
    from datetime import datetime, timezone

    backend = _cw_backend()
    dims = [{"Name": "LoadBalancer", "Value": "app/x/1"}]
    backend.metric_data += [_moto_datum("A", 1.0, dims), _moto_datum("B", 10.0, dims)]
    start, end = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc)

    def query(stat: str) -> list[Any]:
        [result] = backend.get_metric_data(
            queries=[{"Id": "q", "MetricStat": {"Metric": {"Namespace": "A", "MetricName": "m", "Dimensions": dims},
                                                "Period": 60, "Stat": stat}}],
            start_time=start, end_time=end)
        return result["values"]

    assert query("Sum") == [11.0], "moto now honours the namespace: our patch may go"
    assert query("p99") == [None], "moto now computes percentiles in get_metric_data: our patch may go"


def test_moto_get_metric_statistics_still_ignores_extended_statistics_and_matches_dimension_subsets() -> None:
    from datetime import datetime, timezone

    from moto.cloudwatch.responses import CloudWatchResponse

    backend = _cw_backend()
    lb = [{"Name": "LoadBalancer", "Value": "app/x/1"}]
    backend.metric_data += [_moto_datum("A", 1.0, lb),
                            _moto_datum("A", 10.0, [*lb, {"Name": "TargetGroup", "Value": "targetgroup/t/2"}])]
    assert "extended_statistics" not in inspect.signature(backend.get_metric_statistics).parameters
    assert "extended_statistics" not in inspect.getsource(CloudWatchResponse.get_metric_statistics).split(
        "get_metric_statistics(", 2)[-1], "moto now passes ExtendedStatistics on: compare with our patch"
    [stats] = backend.get_metric_statistics("A", "m", datetime(2026, 1, 1, tzinfo=timezone.utc),
                                            datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc), 60, ["Sum"], lb)
    assert stats.sum == 11.0, "moto now matches dimension sets exactly: CloudWatch counts only 1.0 here"


def test_cloudwatch_operations_we_serve_exist_in_botocore_model() -> None:
    from moto.core.utils import get_service_model

    model = get_service_model("cloudwatch")
    for op in ("DescribeAlarmHistory", "GetMetricData", "GetMetricStatistics", "ListMetrics"):
        assert op in model.operation_names
    assert "StateTransitionedTimestamp" in model.shape_for("MetricAlarm").members
    assert "ExtendedStatistics" in model.shape_for("Datapoint").members
