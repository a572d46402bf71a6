"""moto internals the ECS module (pipeline_py.local.moto_ext.ecs) reads, calls or replaces.

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server).
"""

from __future__ import annotations

import inspect
import json
import re

from pipeline_py.local.moto_ext import ecs as moto_ecs
from tests.unit.moto_pins._helpers import ACCOUNT, REGION


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
    sim_td = moto_ecs.taskdef_from_moto(td)
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
    view = moto_ecs.ServiceView(service, {"runningCount": 7, "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY"}],
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
    world = moto_ecs.MotoWorld()
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
