"""The local stack's traffic model and CloudWatch fidelity through boto3: weighted listeners turn
into per-target-group ALB metrics, percentiles come from the stored samples, the namespace is
honoured, alarms are evaluated from the data, and faults can be injected."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from pipeline_py.local.moto_ext import traffic as moto_traffic
from tests.integration.deploy_fixtures import Project, client, project, wait_for

__all__ = ["project"]

NS = "AWS/ApplicationELB"


# ---- helpers


def lb_dims(p: Project) -> list[dict[str, str]]:
    return [{"Name": "LoadBalancer", "Value": p.infra.load_balancer_arn.split(":loadbalancer/", 1)[1]}]


def tg_dims(p: Project, colour: str) -> list[dict[str, str]]:
    return [*lb_dims(p), {"Name": "TargetGroup", "Value": p.infra.target_groups[colour].split(":", 5)[5]}]


def set_weights(p: Project, blue: int, green: int) -> Any:
    return client("elbv2").modify_listener(ListenerArn=p.infra.listeners["80"], DefaultActions=[{
        "Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": p.infra.target_groups["blue"], "Weight": blue},
            {"TargetGroupArn": p.infra.target_groups["green"], "Weight": green}]}}])


def weights(p: Project) -> dict[str, int]:
    listener = client("elbv2").describe_listeners(ListenerArns=[p.infra.listeners["80"]])["Listeners"][0]
    return {g["TargetGroupArn"].split("/")[1].rsplit("-", 1)[-1]: g["Weight"]
            for g in listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]}


def quiet_test_listener(p: Project) -> None:
    """The test listener forwards to green; on AWS it carries no production traffic."""
    client("elbv2").add_tags(ResourceArns=[p.infra.listeners["8080"]],
                             Tags=[{"Key": moto_traffic.RATE_TAG, "Value": "0"}])


def deploy_green(p: Project, scenario: str, count: int = 2) -> None:
    ecs = client("ecs")
    td = ecs.describe_task_definition(taskDefinition=p.infra.task_definition_arn)["taskDefinition"]
    containers = td["containerDefinitions"]
    containers[0]["environment"] = [{"name": "APP_SCENARIO", "value": scenario}]
    arn = ecs.register_task_definition(
        family=td["family"], containerDefinitions=containers, networkMode=td["networkMode"],
        requiresCompatibilities=td["requiresCompatibilities"], cpu=td["cpu"], memory=td["memory"],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=p.infra.cluster, service=p.infra.green, taskDefinition=arn, desiredCount=count)
    tg = p.infra.target_groups["green"]

    def healthy() -> bool:
        states = [t["TargetHealth"]["State"] for t in
                  client("elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]]
        return states.count("healthy") == count and len(states) == count

    wait_for(healthy, timeout=30, what=f"{count} healthy green targets running {scenario}")


def next_second() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=0) + timedelta(seconds=1)


def stat_query(qid: str, name: str, dims: list[dict[str, str]], stat: str, period: int,
               namespace: str = NS) -> dict[str, Any]:
    return {"Id": qid, "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
                                      "Period": period, "Stat": stat}}


def metric_data(queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, list[float]]:
    resp = client("cloudwatch").get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                                ScanBy="TimestampAscending")
    return {r["Id"]: r["Values"] for r in resp["MetricDataResults"]}


def wait_for_window(p: Project, start: datetime, end: datetime) -> None:
    """Until every second of [start, end) has been published (the load balancer always has traffic)."""
    seconds = int((end - start).total_seconds())
    wait_for(lambda: len(metric_data([stat_query("r", "RequestCount", lb_dims(p), "Sum", 1)], start, end)["r"])
             == seconds, timeout=seconds + 10, what=f"{seconds} seconds of ALB metrics")


def alarm(name: str) -> dict[str, Any]:
    return client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def control(p: Any, route: str, method: str = "GET", body: Any = None) -> requests.Response:
    return requests.request(method, f"{p.url}/_pipeline_py/{route}", json=body, timeout=10)


# ---- traffic → metrics


def test_weighted_split_shows_each_versions_error_rate(project: Project) -> None:
    quiet_test_listener(project)
    deploy_green(project, "error-rate=0.2")
    set_weights(project, 90, 10)
    start = next_second()
    end = start + timedelta(seconds=5)
    wait_for_window(project, start, end)
    # 1-s periods: a 5-s period would be aligned to the epoch and could reach back before `start`
    got = metric_data([stat_query(f"{m}_{c}", name, tg_dims(project, c), "Sum", 1)
                       for c in ("blue", "green")
                       for m, name in (("r", "RequestCount"), ("e", "HTTPCode_Target_5XX_Count"),
                                       ("ok", "HTTPCode_Target_2XX_Count"))], start, end)
    assert sum(got["r_green"]) == pytest.approx(100, abs=1)  # 200/s × 10 % × 5 s
    assert sum(got["r_blue"]) == pytest.approx(900, abs=1)
    assert sum(got["e_green"]) / sum(got["r_green"]) == pytest.approx(0.2, abs=0.02)
    assert got["e_blue"] == [] and sum(got["ok_blue"]) == sum(got["r_blue"])


def test_p99_from_stored_samples_through_both_apis(project: Project) -> None:
    quiet_test_listener(project)
    deploy_green(project, "p99-ms=900")
    set_weights(project, 50, 50)
    start = next_second()
    end = start + timedelta(seconds=3)
    wait_for_window(project, start, end)
    stats = client("cloudwatch").get_metric_statistics(
        Namespace=NS, MetricName="TargetResponseTime", Dimensions=tg_dims(project, "green"), StartTime=start,
        EndTime=end, Period=1, ExtendedStatistics=["p99", "p50", "p99.9"])
    assert len(stats["Datapoints"]) == 3
    for dp in stats["Datapoints"]:
        assert dp["ExtendedStatistics"]["p99"] == pytest.approx(0.9, rel=0.01)
        assert dp["ExtendedStatistics"]["p50"] == pytest.approx(0.02, rel=0.01)
        assert dp["ExtendedStatistics"]["p99.9"] > 0.9 and dp["Unit"] == "Seconds"
    got = metric_data([stat_query("green", "TargetResponseTime", tg_dims(project, "green"), "p99", 3),
                       stat_query("blue", "TargetResponseTime", tg_dims(project, "blue"), "p99", 3),
                       stat_query("count", "TargetResponseTime", tg_dims(project, "green"), "SampleCount", 3)],
                      start, end)
    assert got["green"] == [pytest.approx(0.9, rel=0.01)]
    assert got["blue"] == [pytest.approx(0.06, rel=0.01)]
    assert got["count"] == [pytest.approx(300, abs=1)]


def test_weight_changes_show_within_a_second(project: Project) -> None:
    quiet_test_listener(project)
    deploy_green(project, "healthy")
    set_weights(project, 0, 100)
    changed = next_second()
    end = changed + timedelta(seconds=1)
    wait_for_window(project, changed, end)
    got = metric_data([stat_query("g", "RequestCount", tg_dims(project, "green"), "Sum", 1),
                       stat_query("b", "RequestCount", tg_dims(project, "blue"), "Sum", 1)], changed, end)
    assert got["g"] == [pytest.approx(200, abs=1)] and got["b"] == []


def test_weight_without_healthy_targets_is_answered_by_the_alb(project: Project) -> None:
    quiet_test_listener(project)
    set_weights(project, 50, 50)  # green runs no tasks
    start = next_second()
    end = start + timedelta(seconds=2)
    wait_for_window(project, start, end)
    got = metric_data([stat_query("elb", "HTTPCode_ELB_5XX_Count", lb_dims(project), "Sum", 2),
                       stat_query("r", "RequestCount", tg_dims(project, "green"), "Sum", 2),
                       stat_query("h", "HealthyHostCount", tg_dims(project, "green"), "Maximum", 2),
                       stat_query("hb", "HealthyHostCount", tg_dims(project, "blue"), "Minimum", 2)], start, end)
    assert got["elb"] == [pytest.approx(200, abs=1)] and got["r"] == []
    assert got["h"] == [0.0] and got["hb"] == [2.0]


# ---- CloudWatch fixes


def test_namespace_dimensions_and_statistic_sets(aws: Any) -> None:
    cw = client("cloudwatch")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    dims = [{"Name": "Service", "Value": "api"}]
    cw.put_metric_data(Namespace="Team/A", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": now, "Values": [0.1, 0.2, 3.0],
         "Counts": [90, 9, 1], "Unit": "Seconds"}])
    cw.put_metric_data(Namespace="Team/B", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": now, "Value": 7.0, "Unit": "Seconds"},
        {"MetricName": "Latency", "Timestamp": now, "Unit": "Seconds",
         "StatisticValues": {"Sum": 10, "SampleCount": 4, "Minimum": 1, "Maximum": 5}}])
    window = {"StartTime": now - timedelta(minutes=1), "EndTime": now + timedelta(minutes=1)}
    got = metric_data([stat_query("a", "Latency", dims, "Sum", 60, "Team/A"),
                       stat_query("b", "Latency", dims, "Sum", 60, "Team/B"),
                       stat_query("ap99", "Latency", dims, "p99", 60, "Team/A"),
                       stat_query("nodims", "Latency", [], "p50", 60, "Team/B")],
                      window["StartTime"], window["EndTime"])
    assert got["a"] == [pytest.approx(9 + 1.8 + 3.0)] and got["b"] == [7.0]
    assert got["ap99"] == [0.2] and got["nodims"] == []  # a spread statistic set has no percentiles
    stats = cw.get_metric_statistics(Namespace="Team/B", MetricName="Latency", Period=60, Statistics=["Sum", "Maximum"],
                                      **window)["Datapoints"]
    assert [(d["Sum"], d["Maximum"]) for d in stats] == [(10.0, 5.0)]
    ext = cw.get_metric_statistics(Namespace="Team/B", MetricName="Latency", Period=60, ExtendedStatistics=["p50"],
                                   **window)["Datapoints"]
    assert len(ext) == 1 and ext[0].get("ExtendedStatistics", {}) == {}
    with pytest.raises(ClientError) as both:
        cw.get_metric_statistics(Namespace="Team/B", MetricName="Latency", Period=60, Statistics=["Sum"],
                                 ExtendedStatistics=["p99"], **window)
    assert both.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(ClientError) as bad:
        metric_data([stat_query("x", "Latency", dims, "p123", 60, "Team/A")], window["StartTime"], window["EndTime"])
    assert bad.value.response["Error"]["Code"] == "InvalidParameterValue"
    listed = cw.list_metrics(Namespace="Team/B")["Metrics"]
    assert sorted(len(m["Dimensions"]) for m in listed) == [0, 1]
    assert len(cw.list_metrics(Dimensions=[{"Name": "Service"}])["Metrics"]) == 2


def test_alarm_is_evaluated_from_the_data_and_a_set_state_holds_until_the_next_evaluation(project: Project) -> None:
    quiet_test_listener(project)
    deploy_green(project, "error-rate=0.5")
    cw = client("cloudwatch")
    cw.put_metric_alarm(AlarmName="green-5xx", Namespace=NS, MetricName="HTTPCode_Target_5XX_Count",
                        Dimensions=tg_dims(project, "green"), Statistic="Sum", Period=10, EvaluationPeriods=1,
                        Threshold=5, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    assert alarm("green-5xx")["StateValue"] == "INSUFFICIENT_DATA"
    set_weights(project, 50, 50)
    wait_for(lambda: alarm("green-5xx")["StateValue"] == "ALARM", timeout=30, what="the alarm to fire")
    a = alarm("green-5xx")
    assert re.fullmatch(r"Threshold Crossed: 1 datapoint \[\d+\.0 \(\d\d/\d\d/\d\d \d\d:\d\d:\d0\)\] was greater "
                        r"than the threshold \(5\.0\)\.", a["StateReason"]), a["StateReason"]
    data = json.loads(a["StateReasonData"])
    assert data["statistic"] == "Sum" and data["period"] == 10 and data["threshold"] == 5.0
    assert data["recentDatapoints"][0] > 5 and data["evaluatedDatapoints"][0]["value"] > 5
    assert a["StateTransitionedTimestamp"] == a["StateUpdatedTimestamp"]
    history = cw.describe_alarm_history(AlarmName="green-5xx", HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert history[0]["HistorySummary"].endswith(" to ALARM")
    cw.set_alarm_state(AlarmName="green-5xx", StateValue="OK", StateReason="silenced by the test")
    assert alarm("green-5xx")["StateReason"] == "silenced by the test"
    wait_for(lambda: alarm("green-5xx")["StateValue"] == "ALARM", timeout=30, what="the next evaluation")
    items = cw.describe_alarm_history(AlarmName="green-5xx")["AlarmHistoryItems"]
    kinds = [h["HistorySummary"] for h in items]
    assert kinds[:2] == ["Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK"]
    # the state set by hand held at least alarm_set_state_hold (5 s), by the alarm's own history
    assert (items[0]["Timestamp"] - items[1]["Timestamp"]).total_seconds() >= 5.0 - 0.5
    assert kinds[-1] == 'Alarm "green-5xx" created'


def test_updating_an_alarm_keeps_its_state(aws: Any) -> None:
    cw = client("cloudwatch")
    kw = dict(AlarmName="x", Namespace="N", MetricName="m", Statistic="Sum", Period=60, EvaluationPeriods=1,
              ComparisonOperator="GreaterThanThreshold")
    cw.put_metric_alarm(Threshold=1, **kw)
    cw.set_alarm_state(AlarmName="x", StateValue="ALARM", StateReason="manual")
    cw.put_metric_alarm(Threshold=2, **kw)
    a = alarm("x")
    assert (a["StateValue"], a["StateReason"], a["Threshold"]) == ("ALARM", "manual", 2.0)


# ---- control routes


def test_fault_injection_keeps_the_old_weights(project: Project, aws: Any) -> None:
    r = control(aws, "faults", "POST", {"elbv2.ignore_weight_changes": 1})
    assert r.status_code == 200 and r.json()["faults"] == {"elbv2.ignore_weight_changes": 1}
    assert control(aws, "faults").json()["faults"] == {"elbv2.ignore_weight_changes": 1}
    # a plain forward (the test listener) is not a weight change: it is applied and uses no fault
    client("elbv2").modify_listener(ListenerArn=project.infra.listeners["8080"], DefaultActions=[
        {"Type": "forward", "TargetGroupArn": project.infra.target_groups["blue"]}])
    resp = set_weights(project, 50, 50)
    shown = resp["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    assert sorted(g["Weight"] for g in shown) == [50, 50]  # the answer says it worked ...
    assert weights(project) == {"blue": 100, "green": 0}  # ... but nothing changed
    assert control(aws, "faults").json()["faults"] == {}
    set_weights(project, 50, 50)
    assert weights(project) == {"blue": 50, "green": 50}
    control(aws, "faults", "POST", {"elbv2.ignore_weight_changes": 3})
    assert control(aws, "faults", "DELETE").json()["faults"] == {}
    control(aws, "faults", "POST", {"elbv2.ignore_weight_changes": 3})
    requests.post(aws.url + "/moto-api/reset", timeout=10)
    assert control(aws, "faults").json()["faults"] == {}
    assert control(aws, "faults", "POST", {"elbv2.drop_everything": 1}).status_code == 400
    assert control(aws, "faults", "POST", {"elbv2.ignore_weight_changes": -1}).status_code == 400


def test_traffic_route_sets_rates(project: Project, aws: Any) -> None:
    status = control(aws, "traffic").json()
    assert status["rate"] == 200.0
    assert {r["route"] for r in status["routes"]} == {"task-api-local:80", "task-api-local:8080",
                                                      "task-api-local:81"}
    r = control(aws, "traffic", "POST", {"listeners": {"task-api-local:80": 50, "task-api-local:8080": 0}})
    assert r.status_code == 200 and r.json()["overrides"] == {"task-api-local:80": 50, "task-api-local:8080": 0}
    start = next_second()
    end = start + timedelta(seconds=2)
    wait_for_window(project, start, end)
    got = metric_data([stat_query("b", "RequestCount", tg_dims(project, "blue"), "Sum", 1),
                       stat_query("elb", "HTTPCode_ELB_5XX_Count", lb_dims(project), "Sum", 1)], start, end)
    assert got["b"] == [pytest.approx(50, abs=1)] * 2 and got["elb"] == []
    assert control(aws, "traffic", "POST", {"rate": -1}).status_code == 400
    assert control(aws, "traffic", "POST", {"listeners": {"x": "fast"}}).status_code == 400
    assert control(aws, "traffic", "POST", {"speed": 1}).status_code == 400
    off = control(aws, "traffic", "PUT", {"rate": 0}).json()
    assert off["overrides"] == {} and {r["rate"] for r in off["routes"]} == {0.0}
    quiet = next_second() + timedelta(seconds=1)
    wait_for(lambda: cw_max_second(project) >= quiet.timestamp(), timeout=10, what="host counts past the switch-off")
    assert metric_data([stat_query("r", "RequestCount", lb_dims(project), "Sum", 1)], quiet,
                       quiet + timedelta(seconds=1))["r"] == []
    assert control(aws, "traffic", "DELETE").json()["rate"] == 200.0


def cw_max_second(p: Project) -> float:
    """The newest second published (host counts are published every second, traffic or not)."""
    now = datetime.now(timezone.utc)
    resp = client("cloudwatch").get_metric_data(
        MetricDataQueries=[stat_query("h", "HealthyHostCount", tg_dims(p, "blue"), "Maximum", 1)],
        StartTime=now - timedelta(seconds=30), EndTime=now + timedelta(seconds=5), ScanBy="TimestampDescending")
    stamps = resp["MetricDataResults"][0]["Timestamps"]
    return stamps[0].timestamp() if stamps else 0.0
