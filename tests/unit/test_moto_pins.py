"""Fail loudly when moto changes under pipeline_py.local.moto_ext.

Every moto internal the extensions read, call or replace is exercised here on fresh in-memory
backends (no server): if a release renames an attribute, changes a signature or starts shipping an
operation we add ourselves, one of these tests names it.
"""

from __future__ import annotations

import inspect
import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from pipeline_py.local import moto_ext

ACCOUNT, REGION = "123456789012", "us-east-1"
REPO = Path(__file__).resolve().parents[2]

WRAPPED_ECS = ["create_service", "update_service", "delete_service", "describe_services", "run_task",
               "describe_tasks", "list_tasks", "stop_task"]
ADDED_ECS = ["list_service_deployments", "describe_service_deployments", "describe_service_revisions",
             "stop_service_deployment"]
WRAPPED_ELBV2 = ["describe_target_health", "register_targets", "deregister_targets", "modify_listener", "modify_rule"]
REPLACED_CLOUDWATCH = ["get_metric_statistics", "get_metric_data", "list_metrics", "describe_alarms"]
ADDED_CLOUDWATCH = ["describe_alarm_history"]
WRAPPED_CLOUDWATCH_BACKEND = ["put_metric_data", "put_metric_alarm", "set_alarm_state"]


def test_installed_moto_is_in_the_tested_range() -> None:
    installed = version("moto")
    assert moto_ext.moto_version_supported(installed), (
        f"moto {installed} is outside {moto_ext.MOTO_RANGE}: re-run the simulator tests against it, fix "
        f"moto_ext.py, then widen MOTO_RANGE and the pins in pyproject.toml")
    assert moto_ext.moto_version_supported("5.2.1") and moto_ext.moto_version_supported("5.2.99")
    assert not moto_ext.moto_version_supported("5.2.0") and not moto_ext.moto_version_supported("5.3.0")


def test_pyproject_pins_the_same_range() -> None:
    text = (REPO / "pyproject.toml").read_text()
    pin = "moto[server]" + ",".join(moto_ext.MOTO_RANGE)
    assert text.count(f'"{pin}"') >= 2, f"pyproject.toml should pin {pin} in the local and dev extras"


def test_patches_replace_existing_actions_and_add_only_missing_ones() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.elbv2.responses import ELBV2Response

    moto_ext.install()
    recorded = {(p.owner, p.name): p for p in moto_ext.patches()}
    for name in WRAPPED_ECS:
        patch = recorded[(EC2ContainerServiceResponse, name)]
        assert inspect.isfunction(patch.original), f"moto no longer implements ECS {name}"
        assert list(inspect.signature(patch.original).parameters) == ["self"], name
    for name in ADDED_ECS:
        patch = recorded[(EC2ContainerServiceResponse, name)]
        assert patch.original is None, f"moto now implements ECS {name}: compare with ours and drop or adapt it"
    for name in WRAPPED_ELBV2:
        patch = recorded[(ELBV2Response, name)]
        assert inspect.isfunction(patch.original), f"moto no longer implements ELBv2 {name}"
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    for name in REPLACED_CLOUDWATCH:
        patch = recorded[(CloudWatchResponse, name)]
        assert inspect.isfunction(patch.original), f"moto no longer implements CloudWatch {name}"
        assert list(inspect.signature(patch.original).parameters) == ["self"], name
    for name in ADDED_CLOUDWATCH:
        assert recorded[(CloudWatchResponse, name)].original is None, (
            f"moto now implements CloudWatch {name}: compare with ours and drop or adapt it")
    for name in WRAPPED_CLOUDWATCH_BACKEND:
        assert inspect.isfunction(recorded[(CloudWatchBackend, name)].original), name
    for (owner, name), patch in recorded.items():
        assert owner.__dict__[name] is patch.replacement
    assert len(recorded) == len(moto_ext.patches()), "an action is patched twice"


def test_patched_actions_are_dispatchable() -> None:
    """moto dispatches to methods found by ``method_names_from_class`` (plain functions on the class)."""
    from moto.core.utils import camelcase_to_underscores, method_names_from_class
    from moto.ecs.responses import EC2ContainerServiceResponse

    moto_ext.install()
    names = method_names_from_class(EC2ContainerServiceResponse)
    for op in ("ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions",
               "StopServiceDeployment", "RunTask", "DescribeServices"):
        assert camelcase_to_underscores(op) in names


def test_ecs_operations_exist_in_botocore_model() -> None:
    from moto.core.utils import get_service_model

    model = get_service_model("ecs")
    for op in ("ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions",
               "StopServiceDeployment"):
        assert op in model.operation_names


def test_ecs_backend_shapes() -> None:
    from moto.ecs import exceptions
    from moto.ecs.models import EC2ContainerServiceBackend

    backend = EC2ContainerServiceBackend(REGION, ACCOUNT)
    for attr in ("services", "tasks", "container_instances"):
        assert isinstance(getattr(backend, attr), dict), attr
    cluster = backend.create_cluster("c")
    assert backend._get_cluster("c") is cluster
    assert cluster.arn.endswith(":cluster/c") and cluster.name == "c"
    assert hasattr(cluster, "default_capacity_provider_strategy")
    td = backend.register_task_definition(
        "app", [{"name": "app", "image": "img", "memory": 512, "portMappings": [{"containerPort": 80}],
                 "environment": [{"name": "APP_SCENARIO", "value": "healthy"}]}],
        network_mode="awsvpc", requires_compatibilities=["FARGATE"], cpu="256", memory="512")
    assert backend.describe_task_definition("app:1") is td
    assert (td.family, td.revision, td.network_mode, td.cpu, td.memory) == ("app", 1, "awsvpc", "256", "512")
    assert "FARGATE" in td.compatibilities and td.arn.endswith(":task-definition/app:1")
    assert td.container_definitions[0]["environment"] == [{"name": "APP_SCENARIO", "value": "healthy"}]
    sim_td = moto_ext.taskdef_from_moto(td)
    assert sim_td.essential.environment == (("APP_SCENARIO", "healthy"),) and sim_td.essential.container_ports == (80,)
    service = backend.create_service("c", "api", 1, task_definition_str="app:1", launch_type="FARGATE")
    assert backend.services["c:api"] is service and backend._get_service("c", "api") is service
    assert backend._get_service("c", service.arn) is service
    assert service.arn.endswith(":service/c/api") and service.status == "ACTIVE" and service.name == "api"
    deleted = backend.delete_service("c", "api", force=True)
    assert deleted.status == "INACTIVE"
    assert list(inspect.signature(backend.list_tasks).parameters)[:6] == [
        "cluster_str", "container_instance", "family", "started_by", "service_name", "desiredStatus"]
    for name in ("ECSException", "EcsClientException", "InvalidParameterException", "ServiceNotFoundException"):
        assert hasattr(exceptions, name), name
    err = exceptions.ECSException("ServiceNotActiveException", "Service was not ACTIVE.")
    assert (err.code, err.message) == ("ServiceNotActiveException", "Service was not ACTIVE.")


def test_ecs_response_helpers_exist() -> None:
    from moto.core.responses import ActionResult, BaseResponse, EmptyResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    assert ActionResult({"x": 1}).result == {"x": 1}
    assert EmptyResult
    for name in ("_get_param", "_get_int_param", "_get_params"):
        assert callable(getattr(BaseResponse, name)), name
    assert isinstance(EC2ContainerServiceResponse.__dict__.get("ecs_backend"), property)
    source = inspect.getsource(BaseResponse.setup_class)
    assert "self.current_account" in source and "self.region" in source


def test_serializer_reads_service_views_and_plain_dicts() -> None:
    """Responses mix moto models, our ServiceView proxies and dicts; the serializer must read all."""
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model
    from moto.ecs.models import EC2ContainerServiceBackend

    backend = EC2ContainerServiceBackend(REGION, ACCOUNT)
    backend.create_cluster("c")
    backend.register_task_definition("app", [{"name": "app", "image": "img", "memory": 512}])
    service = backend.create_service("c", "api", 2, task_definition_str="app:1")
    view = moto_ext.ServiceView(service, {"runningCount": 7, "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY"}],
                                          "events": [{"id": "e", "message": "hello"}]})
    model = get_service_model("ecs")
    serializer = get_serializer_class("ecs", model.protocol)(
        operation_model=model.operation_model("DescribeServices"), pretty_print=False,
        value_picker=XFormedAttributePicker())
    body = json.loads(serializer.serialize({"services": [view], "failures": []})["body"])
    out = body["services"][0]
    assert out["runningCount"] == 7 and out["serviceName"] == "api"
    assert out["deployments"] == [{"id": "ecs-svc/1", "status": "PRIMARY"}]
    assert out["events"] == [{"id": "e", "message": "hello"}]


def test_elbv2_backend_shapes() -> None:
    from moto.ec2.models import ec2_backends
    from moto.elbv2 import exceptions
    from moto.elbv2.models import ELBv2Backend

    account = "000000000042"  # ELBv2 looks subnets up in the global EC2 backends: keep clear of the tests' account
    ec2 = ec2_backends[account][REGION]
    vpc = ec2.create_vpc("10.9.0.0/16")
    subnet = ec2.create_subnet(vpc.id, "10.9.1.0/24", availability_zone=f"{REGION}a")
    backend = ELBv2Backend(REGION, account)
    tg = backend.create_target_group("tg", vpc_id=vpc.id, protocol="HTTP", port=8080, target_type="ip",
                                     healthcheck_interval_seconds=10, healthy_threshold_count=2)
    assert backend.target_groups[tg.arn] is tg
    for attr in ("targets", "deregistered_targets", "attributes", "port", "protocol", "target_type",
                 "health_check_enabled", "health_check_port", "health_check_interval_seconds",
                 "healthy_threshold_count", "unhealthy_threshold_count", "load_balancer_arns"):
        assert hasattr(tg, attr), attr
    assert tg.attributes["deregistration_delay.timeout_seconds"] == 300
    lb = backend.create_load_balancer("lb", security_groups=[], subnet_ids=[subnet.id])
    assert backend.load_balancers[lb.arn] is lb
    assert moto_ext.load_balancers_using(backend, tg.arn) == set()
    backend.create_listener(lb.arn, "HTTP", 80, None, None, [{"Type": "forward", "TargetGroupArn": tg.arn}])
    listener = next(iter(lb.listeners.values()))
    assert listener.default_actions[0].data["TargetGroupArn"] == tg.arn
    assert all(hasattr(rule, "actions") for rule in listener.rules.values())
    assert moto_ext.load_balancers_using(backend, tg.arn) == {lb.arn}
    backend.register_targets(tg.arn, [{"Id": "10.9.1.10", "Port": 8080}])
    assert tg.targets["10.9.1.10"] == {"Id": "10.9.1.10", "Port": 8080}
    [health] = backend.describe_target_health(tg.arn, [])
    assert (health.instance_id, int(health.port), health.status) == ("10.9.1.10", 8080, "healthy")
    assert moto_ext._moto_health(health)["TargetHealth"] == {"State": "healthy"}
    tg.deregister([{"Id": "10.9.1.10"}])
    assert "10.9.1.10" in tg.deregistered_targets
    [gone] = backend.describe_target_health(tg.arn, [{"Id": "10.9.1.10", "Port": 8080}])
    assert (gone.status, gone.reason, gone.description) == ("unused", "Target.NotRegistered",
                                                            "Target is not registered to the target group")
    assert exceptions.TargetGroupNotFoundError and exceptions.InvalidTargetError


def test_ec2_network_interface_shapes() -> None:
    from moto.ec2.models import EC2Backend

    ec2 = EC2Backend(REGION, ACCOUNT)
    vpc = ec2.create_vpc("10.8.0.0/16")
    subnet = ec2.create_subnet(vpc.id, "10.8.1.0/24", availability_zone=f"{REGION}b")
    sg = ec2.create_security_group("sg", "sg", vpc_id=vpc.id)
    assert ec2.get_subnet(subnet.id) is subnet and subnet.availability_zone == f"{REGION}b"
    assert subnet.cidr_block == "10.8.1.0/24"
    assert sg.id in {g.id for groups in ec2.groups.values() for g in groups.values()}
    params = inspect.signature(ec2.create_network_interface).parameters
    assert {"subnet", "private_ip_address", "group_ids", "description"} <= set(params)
    eni = ec2.create_network_interface(subnet=subnet.id, private_ip_address="10.8.1.20", group_ids=[sg.id],
                                       description="arn:aws:ecs:attachment/x")
    assert ec2.enis[eni.id] is eni and eni.private_ip_address == "10.8.1.20" and eni.subnet is subnet
    assert re.fullmatch(r"[0-9a-f:]{17}", eni.mac_address)
    for attr in ("status", "requester_managed"):
        assert hasattr(eni, attr)
    ec2.delete_network_interface(eni.id)
    assert eni.id not in ec2.enis


def test_ecr_image_shapes() -> None:
    from moto.ecr.models import ECRBackend

    ecr = ECRBackend(REGION, ACCOUNT)
    ecr.create_repository("app", None, None, None, None, None, None)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + "1" * 64, "size": 1},
                           "layers": [{"digest": "sha256:" + "2" * 64, "size": 1}]})
    ecr.put_image("app", manifest, "v1")
    repo = ecr.repositories["app"]
    [image] = repo.images
    assert image.image_tags == ["v1"] and re.fullmatch(r"sha256:[0-9a-f]{64}", image.image_digest)
    world = moto_ext.MotoWorld()
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app"
    from moto.ecr.models import ecr_backends

    ecr_backends[ACCOUNT][REGION].repositories["app"] = repo
    try:
        assert world.resolve_image(f"{uri}:v1", ACCOUNT, REGION) == (None, image.image_digest)
        assert world.resolve_image(f"{uri}@{image.image_digest}", ACCOUNT, REGION) == (None, image.image_digest)
        error, _ = world.resolve_image(f"{uri}:v2", ACCOUNT, REGION)
        assert error and error.startswith("CannotPullContainerError:")
        assert world.resolve_image(f"{uri.replace('/app', '/other')}:v1", ACCOUNT, REGION) == (None, None)
        assert world.resolve_image("busybox:latest", ACCOUNT, REGION) == (None, None)
    finally:
        ecr_backends[ACCOUNT][REGION].repositories.pop("app", None)


def test_moto_reset_also_resets_the_simulator() -> None:
    from moto.core.base_backend import BackendDict

    fidelity = moto_ext.install()
    patch = next(p for p in moto_ext.patches() if p.owner is BackendDict and p.name == "reset")
    assert isinstance(patch.original, classmethod), "moto's BackendDict.reset is no longer a classmethod"
    assert "backend_lock" in inspect.getsource(patch.original.__func__)
    fidelity.ecs.standalone["marker"] = object()  # type: ignore[assignment]
    BackendDict.reset()
    assert fidelity.ecs.standalone == {}


@pytest.mark.parametrize("module", ["moto.ecs.responses", "moto.elbv2.responses", "moto.cloudwatch.responses"])
def test_response_classes_use_automated_parameter_parsing(module: str) -> None:
    """Our wrappers read parameters with ``_get_param(camelCaseName)`` as moto's parser delivers them."""
    import importlib

    cls: Any = next(c for _, c in inspect.getmembers(importlib.import_module(module), inspect.isclass)
                    if c.__module__ == module and c.__name__.endswith("Response"))
    assert "automated_parameter_parsing = True" in inspect.getsource(cls.__init__)


# ---- CloudWatch: the internals we use, and the gaps in moto our patches fill


def _cw_backend(account: str = "000000000043") -> Any:
    from moto.cloudwatch.models import CloudWatchBackend

    return CloudWatchBackend(REGION, account)


def _original(owner: type, name: str) -> Any:
    moto_ext.install()
    return next(p.original for p in moto_ext.patches() if p.owner is owner and p.name == name)


def test_cloudwatch_backend_shapes() -> None:
    from moto.cloudwatch import exceptions
    from moto.cloudwatch.metric_data_expression_parser import parse_expression
    from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
    from moto.cloudwatch.responses import CloudWatchResponse

    backend = _cw_backend()
    assert (backend.account_id, backend.region_name) == ("000000000043", REGION)
    assert isinstance(backend.alarms, dict) and isinstance(backend.metric_data, list)
    assert list(backend.aws_metric_data) == [] or all(hasattr(m, "namespace") for m in backend.aws_metric_data)
    assert callable(backend._validate_parameters_put_metric_data)
    with pytest.raises(exceptions.InvalidParameterValue):
        backend._validate_parameters_put_metric_data({"MetricName": "x", "Value": float("nan")}, 1)
    assert list(inspect.signature(_original(CloudWatchBackend, "put_metric_data")).parameters) == [
        "self", "namespace", "metric_data"]
    assert list(inspect.signature(_original(CloudWatchBackend, "set_alarm_state")).parameters) == [
        "self", "alarm_name", "reason", "reason_data", "state_value"]
    put_alarm = inspect.signature(_original(CloudWatchBackend, "put_metric_alarm")).parameters
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
    alarm = _original(CloudWatchBackend, "put_metric_alarm")(
        backend, name="a", namespace="AWS/ApplicationELB", metric_name="HTTPCode_Target_5XX_Count",
        comparison_operator="GreaterThanThreshold", evaluation_periods=3, period=10, threshold=50.0,
        statistic="Sum", description="d", dimensions=[{"Name": "LoadBalancer", "Value": "app/x/1"}],
        alarm_actions=[], datapoints_to_alarm=2, treat_missing_data="notBreaching")
    assert backend.alarms["a"] is alarm and alarm.alarm_arn.endswith(":alarm:a")
    for attr in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history",
                 "configuration_updated_timestamp", "unit", "extended_statistic", "rule", "metric_data_queries"):
        assert hasattr(alarm, attr), attr
    assert [(d.name, d.value) for d in alarm.dimensions] == [("LoadBalancer", "app/x/1")]
    spec = moto_ext.alarm_spec(alarm)
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
    alarm = _original(CloudWatchBackend, "put_metric_alarm")(
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
    _original(CloudWatchBackend, "put_metric_data")(
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


def test_elbv2_listener_rule_and_tag_shapes_for_traffic_and_faults() -> None:
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import ELBv2Backend, elbv2_backends

    account = "000000000044"
    ec2 = ec2_backends[account][REGION]
    vpc = ec2.create_vpc("10.7.0.0/16")
    subnet = ec2.create_subnet(vpc.id, "10.7.1.0/24", availability_zone=f"{REGION}a")
    backend = ELBv2Backend(REGION, account)
    blue = backend.create_target_group("blue", vpc_id=vpc.id, protocol="HTTP", port=80, target_type="ip")
    green = backend.create_target_group("green", vpc_id=vpc.id, protocol="HTTP", port=80, target_type="ip")
    lb = backend.create_load_balancer("web", security_groups=[], subnet_ids=[subnet.id])
    assert lb.type == "application" and lb.name == "web"
    weighted = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue.arn, "Weight": 90}, {"TargetGroupArn": green.arn}]}}]
    listener = backend.create_listener(lb.arn, "HTTP", 80, None, None, weighted)
    assert lb.listeners[listener.arn] is listener and int(listener.port) == 80
    assert moto_ext.forward_groups(listener.default_actions) == ((blue.arn, 90), (green.arn, 1))
    assert moto_ext.forward_groups([{"Type": "forward", "TargetGroupArn": blue.arn}]) == ((blue.arn, 1),)
    [default_rule] = [r for r in listener.rules.values() if r.is_default]
    assert default_rule.actions is listener.default_actions
    rule = backend.create_rule(listener.arn, [{"Field": "path-pattern", "Values": ["/api/*"]}], 10,
                               [{"Type": "forward", "TargetGroupArn": green.arn}])
    assert not rule.is_default and rule.priority == 10 and listener.rules[rule.arn] is rule
    assert backend.describe_listeners(None, [listener.arn]) == [listener]
    assert backend.describe_rules(None, [rule.arn]) == [rule]
    # moto replaces the action lists (the fault wrapper restores the previous ones by reference)
    before = listener.default_actions
    backend.modify_listener(listener.arn, actions=[{"Type": "forward", "TargetGroupArn": green.arn}])
    assert listener.default_actions is not before and default_rule.actions is listener.default_actions
    before_rule = rule.actions
    backend.modify_rule(rule.arn, [], [{"Type": "forward", "TargetGroupArn": blue.arn}])
    assert rule.actions is not before_rule
    backend.add_tags([listener.arn], [{"Key": moto_ext.RATE_TAG, "Value": "0"}])
    assert backend.tagging_service.get_tag_dict_for_resource(listener.arn) == {moto_ext.RATE_TAG: "0"}
    assert isinstance(elbv2_backends, dict)


def test_elbv2_modify_responses_read_their_parameters() -> None:
    from moto.elbv2.responses import ELBV2Response

    moto_ext.install()
    listener_src = inspect.getsource(_original(ELBV2Response, "modify_listener"))
    rule_src = inspect.getsource(_original(ELBV2Response, "modify_rule"))
    assert '"DefaultActions"' in listener_src and '"ListenerArn"' in listener_src and '"Listeners"' in listener_src
    assert '"Actions"' in rule_src and '"RuleArn"' in rule_src and '"Rules"' in rule_src


def test_cloudwatch_operations_we_serve_exist_in_botocore_model() -> None:
    from moto.core.utils import get_service_model

    model = get_service_model("cloudwatch")
    for op in ("DescribeAlarmHistory", "GetMetricData", "GetMetricStatistics", "ListMetrics"):
        assert op in model.operation_names
    assert "StateTransitionedTimestamp" in model.shape_for("MetricAlarm").members
    assert "ExtendedStatistics" in model.shape_for("Datapoint").members


def test_moto_reset_also_clears_metrics_traffic_and_faults() -> None:
    from moto.core.base_backend import BackendDict

    fidelity = moto_ext.install()
    fidelity.metrics.store(ACCOUNT, REGION).put_value(("N", "m", ()), 1.0, 1.0)
    fidelity.faults.active["elbv2.ignore_weight_changes"] = 2
    fidelity.traffic.overrides["web:80"] = 1.0
    BackendDict.reset()
    assert fidelity.metrics.stores == {} and fidelity.faults.active == {} and fidelity.traffic.overrides == {}


# ---- section 7 (terraform): operations moto lacks, attributes it reports back differently

ADDED_FOR_TERRAFORM = {
    ("moto.applicationautoscaling.responses", "ApplicationAutoScalingResponse"): [
        "list_tags_for_resource", "tag_resource", "untag_resource"],
    ("moto.budgets.responses", "BudgetsResponse"): [
        "describe_subscribers_for_notification", "list_tags_for_resource", "tag_resource", "untag_resource"],
}
WRAPPED_FOR_TERRAFORM = {
    ("moto.applicationautoscaling.responses", "ApplicationAutoScalingResponse"): ["register_scalable_target"],
    ("moto.budgets.responses", "BudgetsResponse"): ["create_budget"],
    ("moto.rds.responses", "RDSResponse"): ["describe_db_parameters"],
}


def _cls(module: str, name: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), name)


def test_terraform_operations_are_still_missing_from_moto() -> None:
    """Unpatched moto answers these with NotImplementedError (HTTP 500). When a release ships one,
    compare it with ours and drop or adapt our patch."""
    from moto.core.utils import camelcase_to_underscores, get_service_model

    moto_ext.install()
    recorded = {(p.owner, p.name): p for p in moto_ext.patches()}
    for (module, name), ops in ADDED_FOR_TERRAFORM.items():
        cls = _cls(module, name)
        service = "application-autoscaling" if "autoscaling" in module else "budgets"
        model = get_service_model(service)
        for op in ops:
            assert recorded[(cls, op)].original is None, f"moto now implements {service} {op}: compare with ours"
            assert not any(op in vars(base) for base in cls.__mro__[1:]), f"moto now implements {service} {op}"
            assert op in {camelcase_to_underscores(o) for o in model.operation_names}, op
    for (module, name), ops in WRAPPED_FOR_TERRAFORM.items():
        cls = _cls(module, name)
        for op in ops:
            original = recorded[(cls, op)].original
            assert inspect.isfunction(original) and list(inspect.signature(original).parameters) == ["self"], op


def test_moto_still_drops_what_terraform_reads_back() -> None:
    """The echo fixes are still needed: moto's own code still loses these attributes."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.budgets.responses import BudgetsResponse
    from moto.core.responses import BaseResponse
    from moto.ec2.models.security_groups import SecurityGroupRule
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.rds.models import DBParameterGroup
    from moto.rds.responses import RDSResponse

    moto_ext.install()
    recorded = {(p.owner, p.name): p for p in moto_ext.patches()}
    assert '"Tags"' not in inspect.getsource(recorded[(ApplicationAutoScalingResponse,
                                                       "register_scalable_target")].original)
    assert "ResourceTags" not in inspect.getsource(recorded[(BudgetsResponse, "create_budget")].original)
    create_service = recorded[(EC2ContainerServiceResponse, "create_service")].original
    assert "enableECSManagedTags" not in inspect.getsource(create_service)
    assert "availabilityZoneRebalancing" not in inspect.getsource(create_service)
    assert recorded[(EC2ContainerServiceResponse, "serialized")].original is None
    assert list(inspect.signature(BaseResponse.serialized).parameters) == ["self", "action_result"]
    assert "Source" not in inspect.getsource(recorded[(RDSResponse, "describe_db_parameters")].original)
    update = recorded[(DBParameterGroup, "update_parameters")].original
    assert list(inspect.signature(update).parameters) == ["self", "new_parameters"]
    assert "Source" not in inspect.getsource(update)
    description = recorded[(SecurityGroupRule, "description")].original
    assert isinstance(description, property)
    rule = SecurityGroupRule.__new__(SecurityGroupRule)
    rule.ip_range, rule.source_group = {}, {"GroupId": "sg-1", "Description": "from b"}
    assert description.fget(rule) is None, "moto now reports group rules' descriptions: drop our property"
    assert SecurityGroupRule.description.fget(rule) == "from b"


def test_terraform_gap_backend_shapes() -> None:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeScalableTarget
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.budgets import exceptions as budget_errors
    from moto.budgets.models import BudgetsBackend
    from moto.budgets.responses import BudgetsResponse
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.rds.models import RDSBackend
    from moto.utilities.tagging_service import TaggingService

    account = "000000000045"
    ecs = EC2ContainerServiceBackend(REGION, account)
    ecs.create_cluster("c")
    ecs.register_task_definition("app", [{"name": "app", "image": "img", "memory": 64}])
    ecs.create_service("c", "api", 0, task_definition_str="app:1")
    aas = ApplicationAutoscalingBackend(REGION, account)
    aas.ecs_backend = ecs
    target = aas.register_scalable_target("ecs", "service/c/api", "ecs:service:DesiredCount", 1, 2, None, None)
    assert isinstance(target, FakeScalableTarget) and ":scalable-target/" in target.arn
    assert aas.targets["ecs:service:DesiredCount"]["service/c/api"] is target
    assert isinstance(ApplicationAutoScalingResponse.__dict__.get("applicationautoscaling_backend"), property)
    ecs.update_service({"cluster": "c", "service": "api", "availability_zone_rebalancing": "ENABLED"})
    assert ecs.services["c:api"].availability_zone_rebalancing == "ENABLED", \
        "moto's UpdateService no longer stores every field it gets"

    budgets = BudgetsBackend("aws", account)
    budgets.create_budget(account, {"BudgetName": "b", "BudgetLimit": {"Amount": "1", "Unit": "USD"},
                                    "BudgetType": "COST", "TimeUnit": "MONTHLY"},
                          [{"Notification": {"Threshold": 80}, "Subscribers": [{"Address": "a"}]}])
    [notification] = budgets.budgets[account]["b"].notifications
    assert (notification.details, notification.subscribers) == ({"Threshold": 80}, [{"Address": "a"}])
    assert isinstance(BudgetsResponse.__dict__.get("backend"), property)
    assert budget_errors.NotFoundException("x").error_type == "NotFoundException"

    rds = RDSBackend(REGION, account)
    rds.create_db_parameter_group({"db_parameter_group_name": "pg", "db_parameter_group_family": "postgres16",
                                   "description": "d"})
    group = rds.db_parameter_groups["pg"]
    group.update_parameters([{"ParameterName": "p", "ParameterValue": "1"}])
    assert group.parameters["p"]["ParameterValue"] == "1" and group.parameters["p"]["Source"] == "user"

    tags = TaggingService()
    tags.tag_resource("arn:x", [{"Key": "k", "Value": "v"}])
    assert tags.get_tag_dict_for_resource("arn:x") == {"k": "v"}
    assert tags.list_tags_for_resource("arn:x") == {"Tags": [{"Key": "k", "Value": "v"}]}
    tags.untag_resource_using_names("arn:x", ["k"])
    assert tags.get_tag_dict_for_resource("arn:x") == {}
