"""ECS: the rollout simulator (:mod:`pipeline_py.local.ecs_sim`) wired into moto's ECS responses."""


from __future__ import annotations

import ipaddress
import logging
import random
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pipeline_py.local import ecs_sim
from pipeline_py.local.ecs_sim import (
    ContainerDef,
    DeploymentConfig,
    Eni,
    LoadBalancerRef,
    ServiceSpec,
    Task,
    TaskDefinition,
)
from pipeline_py.local.elb_sim import Target, TargetGroupConfig
from pipeline_py.local.moto_ext import ecs_native
from pipeline_py.local.moto_ext.core import current, original_of, patch_moto
from pipeline_py.local.moto_ext.elbv2 import load_balancers_using

log = logging.getLogger("pipeline_py.local")




class ServiceView:
    """moto's ``Service`` with the simulator's fields on top, for moto's response serializer
    (which looks attributes up by the API's camelCase name and its snake_case form)."""

    def __init__(self, service: Any, overrides: dict[str, Any]) -> None:
        self.__dict__["_service"] = service
        self.__dict__["_overrides"] = overrides

    def __getattr__(self, name: str) -> Any:
        overrides = self.__dict__["_overrides"]
        if name in overrides:
            return overrides[name]
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
        if camel in overrides:
            return overrides[camel]
        return getattr(self.__dict__["_service"], name)


# moto internals used here (pinned in tests/unit/moto_pins/):
#   moto.ecs.responses.EC2ContainerServiceResponse: ecs_backend, _get_param, _get_int_param and the
#     action methods create_service, update_service, delete_service, describe_services, run_task,
#     describe_tasks, list_tasks, stop_task (wrapped or replaced)
#   EC2ContainerServiceBackend: _get_cluster, _get_service, describe_task_definition, services,
#     tasks, container_instances, list_tasks
#   Cluster: arn, name, default_capacity_provider_strategy; Service: arn, name, status, desired_count
#   TaskDefinition: arn, family, revision, container_definitions, network_mode, compatibilities, cpu, memory
#   moto.ecs.exceptions: ECSException, EcsClientException, InvalidParameterException,
#     ServiceNotFoundException
#   moto.core.responses.ActionResult(.result), EmptyResult
#   for moto's own tasks (EC2 placement, task sets) and the members AWS always returns:
#     EC2ContainerServiceResponse: describe_clusters (wrapped), current_account, _include_in_response,
#       _exclude_from_response; moto.ecs.responses.DESCRIBE_TASKS_TAGS
#     EC2ContainerServiceBackend: _get_resource(arn, parsed_arn) and create_task_set(service, cluster_str, ...)
#       and register_task_definition (wrapped), _calculate_task_resource_requirements, account_id
#     ContainerInstance: status, container_instance_arn, remaining_resources (name/integerValue/stringSetValue)
#     Task (moto's): task_arn, group, last_status, advance(); Service: role_arn (set with the other members)
#     TaskDefinition: execution_role_arn, task_role_arn (read), registered_at/registered_by/requires_attributes (set)


def install() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as R

    patch_moto(R, "create_service", _ecs_create_service)
    patch_moto(R, "update_service", _ecs_update_service)
    patch_moto(R, "delete_service", _ecs_delete_service)
    patch_moto(R, "describe_services", _ecs_describe_services)
    patch_moto(R, "run_task", _ecs_run_task)
    patch_moto(R, "describe_tasks", _ecs_describe_tasks)
    patch_moto(R, "list_tasks", _ecs_list_tasks)
    patch_moto(R, "stop_task", _ecs_stop_task)
    patch_moto(R, "list_service_deployments", _ecs_list_service_deployments)
    patch_moto(R, "describe_service_deployments", _ecs_describe_service_deployments)
    patch_moto(R, "describe_service_revisions", _ecs_describe_service_revisions)
    patch_moto(R, "stop_service_deployment", _ecs_stop_service_deployment)
    patch_moto(R, "describe_clusters", _ecs_describe_clusters)
    from moto.ecs.models import EC2ContainerServiceBackend as B

    patch_moto(B, "_get_resource", _ecs_get_resource)
    patch_moto(B, "create_task_set", _ecs_create_task_set)
    patch_moto(B, "register_task_definition", _ecs_register_task_definition)


def _ecs_errors() -> Any:
    from moto.ecs import exceptions

    return exceptions


def _invalid(message: str) -> Exception:
    return _ecs_errors().InvalidParameterException(message)


def _client_error(message: str) -> Exception:
    return _ecs_errors().EcsClientException(message)


def _error(code: str, message: str) -> Exception:
    return _ecs_errors().ECSException(code, message)


def taskdef_from_moto(td: Any) -> TaskDefinition:
    return TaskDefinition(
        arn=td.arn, family=td.family, revision=int(td.revision),
        containers=tuple(ContainerDef.from_api(c) for c in td.container_definitions),
        network_mode=td.network_mode or "bridge", compatibilities=tuple(td.compatibilities or ()),
        cpu=td.cpu, memory=td.memory)


def _is_fargate(launch_type: str | None, strategy: tuple[dict[str, Any], ...]) -> bool:
    if strategy:
        return any(str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategy)
    return launch_type == "FARGATE"


def _launch_settings(cluster: Any, launch_type: str | None,
                     strategy: list[dict[str, Any]] | None) -> tuple[str | None, tuple[dict[str, Any], ...]]:
    """ECS: an explicit launch type or capacity provider strategy, else the cluster's default
    strategy, else the EC2 launch type."""
    if strategy:
        return None, tuple(strategy)
    if launch_type:
        return launch_type, ()
    default = getattr(cluster, "default_capacity_provider_strategy", None)
    if default:
        return None, tuple(default)
    return "EC2", ()


def _check_launch_request(launch_type: str | None, strategy: list[dict[str, Any]] | None) -> None:
    """What RunTask checks before it looks anything up (an unknown cluster is reported after these)."""
    if launch_type and launch_type not in ("EC2", "FARGATE", "EXTERNAL"):
        raise _invalid("launch type should be one of [EC2,FARGATE,EXTERNAL]")
    if launch_type and strategy:
        # "If a capacityProviderStrategy is specified, the launchType parameter must be omitted." (RunTask)
        raise _invalid("Specify either Launch Type or Capacity Provider Strategy, but not both.")


def _on_container_instances(backend: Any, cluster: Any, launch_type: str | None,
                            strategy: tuple[dict[str, Any], ...]) -> bool:
    """The EC2 launch type (or an EC2 capacity provider) on a cluster with registered container instances:
    tasks must be placed on an instance."""
    if _is_fargate(launch_type, strategy) or launch_type == "EXTERNAL":
        return False
    return bool(backend.container_instances.get(cluster.name))


def _placement_error(backend: Any, cluster: Any, launch_type: str | None,
                     strategy: tuple[dict[str, Any], ...]) -> str | None:
    if _is_fargate(launch_type, strategy) or launch_type == "EXTERNAL":
        return None
    if backend.container_instances.get(cluster.name):
        return None
    return "No Container Instances were found in your cluster."


EC2_SERVICES_UNSUPPORTED = (
    "The local stack does not place service tasks on EC2 container instances: a service with the EC2 launch type "
    "(or an EC2 capacity provider) on a cluster with registered container instances is not modelled. Use FARGATE; "
    "RunTask places EC2 tasks with moto's placement model (CPU, memory, host ports).")


def _refuse_ec2_service(backend: Any, cluster: Any, launch_type: str | None,
                        strategy: tuple[dict[str, Any], ...]) -> None:
    if _on_container_instances(backend, cluster, launch_type, strategy):
        raise _error("UnsupportedFeatureException", EC2_SERVICES_UNSUPPORTED)


def _validate_launch(td: TaskDefinition, launch_type: str | None, strategy: tuple[dict[str, Any], ...],
                     network: dict[str, Any] | None, account: str, region: str) -> None:
    if _is_fargate(launch_type, strategy) and "FARGATE" not in td.compatibilities:
        raise _client_error("Task definition does not support launch_type FARGATE.")
    if td.network_mode == "awsvpc":
        conf = (network or {}).get("awsvpcConfiguration")
        if not conf or conf.get("subnets") is None:
            raise _invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
        if not conf["subnets"]:
            raise _invalid("subnets can not be empty.")
        _validate_network(network or {}, account, region)


def _validate_network(network: dict[str, Any], account: str, region: str) -> None:
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account][region]
    conf = network.get("awsvpcConfiguration") or {}
    for subnet in conf.get("subnets") or []:
        try:
            ec2.get_subnet(subnet)
        except Exception:
            raise _invalid(f"Error retrieving subnet information for [{subnet}]: The subnet ID '{subnet}' "
                           f"does not exist (ErrorCode: InvalidSubnetID.NotFound)") from None
    known = {sg.id for sgs in ec2.groups.values() for sg in sgs.values()}
    for sg in conf.get("securityGroups") or []:
        if sg not in known:
            raise _invalid(f"Error retrieving security group information for [{sg}]: The security group "
                           f"'{sg}' does not exist (ErrorCode: InvalidGroup.NotFound)")


def _validate_load_balancers(td: TaskDefinition, lbs: list[LoadBalancerRef], world: MotoWorld) -> None:
    for lb in lbs:
        if not lb.target_group_arn:
            continue
        tg = world.target_group(lb.target_group_arn)
        if tg is None:
            raise _invalid("Unable to assume role and validate the specified targetGroupArn. Please verify that "
                           "the ECS service role being passed has the proper permissions.")
        if not tg.in_use:
            raise _invalid(f"The target group with targetGroupArn {lb.target_group_arn} does not have an "
                           f"associated load balancer.")
        container = td.container(lb.container_name)
        if container is None:
            raise _invalid(f"The container {lb.container_name} does not exist in the task definition.")
        if lb.container_port not in container.container_ports:
            raise _invalid(f"The container {lb.container_name} did not have a container port "
                           f"{lb.container_port} defined.")
        if td.network_mode == "awsvpc" and tg.target_type != "ip":
            raise _invalid(f"The provided target group {lb.target_group_arn} has target type {tg.target_type}, "
                           f"which is incompatible with the awsvpc network mode specified in the task definition.")


def _account_region(resp: Any) -> tuple[str, str]:
    return resp.current_account, resp.region


def _ecs_create_service(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        backend = self.ecs_backend
        controller = (self._get_param("deploymentController") or {}).get("type", "ECS")
        scheduling = self._get_param("schedulingStrategy") or "REPLICA"
        td_str = self._get_param("taskDefinition")
        if controller != "ECS" or scheduling != "REPLICA" or not td_str:
            result = original_of(type(self), "create_service")(self)
            _complete_service(result.result["service"], self)
            return result
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        name = self._get_param("serviceName")
        existing = backend.services.get(f"{cluster.name}:{name}")
        if existing is not None and existing.status == "ACTIVE":
            raise _invalid("Creation of service was not idempotent.")
        if existing is not None:
            sim_old = fid.ecs.services.get(existing.arn)
            if sim_old is not None and sim_old.status == ecs_sim.DRAINING_SERVICE:
                raise _invalid("Unable to Start a service that is still Draining.")
        td = taskdef_from_moto(backend.describe_task_definition(td_str))
        account, region = _account_region(self)
        if self._get_param("launchType") and self._get_param("capacityProviderStrategy"):
            raise _invalid("Specify either Launch Type or Capacity Provider Strategy, but not both.")
        launch_type, strategy = _launch_settings(cluster, self._get_param("launchType"),
                                                 self._get_param("capacityProviderStrategy"))
        network = self._get_param("networkConfiguration")
        _validate_launch(td, launch_type, strategy, network, account, region)
        ecs_native.validate_request(self, None)
        lbs = [LoadBalancerRef.from_api(lb) for lb in self._get_param("loadBalancers") or []]
        _validate_load_balancers(td, lbs, fid.world)
        _refuse_ec2_service(backend, cluster, launch_type, strategy)
        result = original_of(type(self), "create_service")(self)
        service = result.result["service"]
        _complete_service(service, self)
        if strategy:
            service.launch_type = None
            service.capacity_provider_strategy = list(strategy)
        spec = ServiceSpec(
            arn=service.arn, name=service.name, cluster_arn=cluster.arn, task_definition=td,
            desired_count=int(self._get_int_param("desiredCount") or 0), launch_type=launch_type,
            capacity_provider_strategy=strategy, platform_version=self._get_param("platformVersion"),
            network_configuration=network, load_balancers=tuple(lbs),
            deployment_config=DeploymentConfig().merged(self._get_param("deploymentConfiguration")),
            health_check_grace_period=int(self._get_param("healthCheckGracePeriodSeconds") or 0),
            placement_error=_placement_error(backend, cluster, launch_type, strategy))
        fid.ecs.create_service(spec, fid.now())
        fid.ecs.advance(fid.now())
        return ActionResult({"service": fid.service_view(service)})


def _complete_service(service: Any, resp: Any) -> None:
    """Members DescribeServices always returns that moto's Service lacks: the placement settings (empty lists
    when none were given), who created the service, whether ECS Exec is on, and the role ECS uses for the load
    balancer (the ECS service-linked role unless one was given)."""
    account = resp.current_account
    service.placement_constraints = resp._get_param("placementConstraints") or []
    service.placement_strategy = resp._get_param("placementStrategy") or []
    service.enable_execute_command = bool(resp._get_param("enableExecuteCommand"))
    service.created_by = f"arn:aws:iam::{account}:root"
    if not getattr(service, "role_arn", None):
        service.role_arn = f"arn:aws:iam::{account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"


def _ecs_register_task_definition(self: Any, *args: Any, **kwargs: Any) -> Any:
    """What ECS adds to a registered revision and moto does not: when and by whom it was registered, and the
    container-instance attributes it requires (derived from the definition as ECS derives them)."""
    td = original_of(type(self), "register_task_definition")(self, *args, **kwargs)
    td.registered_at = datetime.now(timezone.utc)
    td.registered_by = f"arn:aws:iam::{self.account_id}:root"
    td.requires_attributes = [{"name": n} for n in required_attributes(td)]
    return td


def required_attributes(td: Any) -> list[str]:
    """``requiresAttributes`` of a task definition: the capabilities its settings need (Amazon ECS developer
    guide, "Amazon ECS container agent" capabilities; a subset: remote API, task ENI, log drivers, execution
    role, ECR, task role, secrets, container health checks)."""
    names = ["com.amazonaws.ecs.capability.docker-remote-api.1.18"]
    execution_role = getattr(td, "execution_role_arn", None)
    for c in td.container_definitions or []:
        log_driver = (c.get("logConfiguration") or {}).get("logDriver")
        if log_driver:
            names.append(f"com.amazonaws.ecs.capability.logging-driver.{log_driver}")
            if log_driver == "awslogs" and execution_role:
                names.append("ecs.capability.execution-role-awslogs")
        if ".dkr.ecr." in str(c.get("image") or ""):
            names.append("com.amazonaws.ecs.capability.ecr-auth")
            if execution_role:
                names.append("ecs.capability.execution-role-ecr-pull")
        if c.get("healthCheck"):
            names.append("ecs.capability.container-health-check")
        for secret in c.get("secrets") or []:
            source = str(secret.get("valueFrom") or "")
            names.append("ecs.capability.secrets.ssm.environment-variables" if ":ssm:" in source or ":" not in source
                         else "ecs.capability.secrets.asm.environment-variables")
    if getattr(td, "task_role_arn", None):
        names.append("com.amazonaws.ecs.capability.task-iam-role")
    if td.network_mode == "awsvpc":
        names.append("ecs.capability.task-eni")
    return list(dict.fromkeys(names))


def _ecs_update_service(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        backend = self.ecs_backend
        cluster_str = self._get_param("cluster", "default")
        service = backend._get_service(cluster_str, self._get_param("service"))
        sim = fid.ecs.services.get(service.arn)
        if sim is None:
            return original_of(type(self), "update_service")(self)
        if sim.status != "ACTIVE":
            raise _error("ServiceNotActiveException", "Service was not ACTIVE.")
        td_str = self._get_param("taskDefinition")
        td = taskdef_from_moto(backend.describe_task_definition(td_str)) if td_str else None
        account, region = _account_region(self)
        network = self._get_param("networkConfiguration")
        launch_type = self._get_param("launchType")
        strategy = self._get_param("capacityProviderStrategy")
        effective_td = td or sim.primary.task_definition
        if td is not None or network is not None or launch_type or strategy:
            if strategy:
                effective_launch, effective_strategy = None, tuple(strategy)
            elif launch_type:
                effective_launch, effective_strategy = launch_type, ()
            else:
                effective_launch, effective_strategy = sim.launch_type, sim.capacity_provider_strategy
            effective_network = network if network is not None else sim.network_configuration
            _validate_launch(effective_td, effective_launch, effective_strategy, effective_network, account, region)
            _refuse_ec2_service(backend, backend._get_cluster(cluster_str), effective_launch, effective_strategy)
        ecs_native.validate_request(self, sim)
        raw_lbs = self._get_param("loadBalancers")
        lbs = [LoadBalancerRef.from_api(lb) for lb in raw_lbs] if raw_lbs is not None else None
        _validate_load_balancers(effective_td, list(lbs if lbs is not None else sim.load_balancers), fid.world)
        desired = self._get_param("desiredCount")
        result = original_of(type(self), "update_service")(self)
        service = result.result["service"]
        fid.ecs.update_service(
            service.arn, fid.now(), task_definition=td,
            desired_count=int(desired) if desired is not None else None,
            force_new_deployment=bool(self._get_param("forceNewDeployment")),
            deployment_configuration=self._get_param("deploymentConfiguration"),
            network_configuration=network, load_balancers=lbs,
            health_check_grace_period=self._get_param("healthCheckGracePeriodSeconds"),
            platform_version=self._get_param("platformVersion"), launch_type=launch_type,
            capacity_provider_strategy=strategy)
        fid.ecs.advance(fid.now())
        return ActionResult({"service": fid.service_view(service)})


def _ecs_delete_service(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        result = original_of(type(self), "delete_service")(self)
        service = result.result["service"]
        fid.ecs.delete_service(service.arn, fid.now())
        fid.ecs.advance(fid.now())
        return ActionResult({"service": fid.service_view(service)})


def _ecs_describe_services(self: Any) -> Any:
    fid = current()
    with fid.lock:
        fid.ecs.advance(fid.now())
        result = original_of(type(self), "describe_services")(self)
        result.result["services"] = [fid.service_view(s) for s in result.result["services"]]
        return result


def _ecs_run_task(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        backend = self.ecs_backend
        _check_launch_request(self._get_param("launchType"), self._get_param("capacityProviderStrategy"))
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        td = taskdef_from_moto(backend.describe_task_definition(self._get_param("taskDefinition")))
        count = self._get_int_param("count", 1)
        if not 1 <= count <= 10:
            raise _invalid("The value for count must be between 1 and 10.")
        account, region = _account_region(self)
        launch_type, strategy = _launch_settings(cluster, self._get_param("launchType"),
                                                 self._get_param("capacityProviderStrategy"))
        network = self._get_param("networkConfiguration")
        _validate_launch(td, launch_type, strategy, network, account, region)
        if _on_container_instances(backend, cluster, launch_type, strategy):
            return _run_on_container_instances(self, backend, cluster, count)
        placement = _placement_error(backend, cluster, launch_type, strategy)
        if placement:
            raise _invalid(placement)
        tasks = fid.ecs.run_task(
            cluster.arn, td, fid.now(), count=count, overrides=self._get_param("overrides") or {},
            network=network, launch_type=launch_type, capacity_provider=ecs_sim._capacity_provider(strategy),
            started_by=self._get_param("startedBy") or "", group=self._get_param("group"),
            tags=self._get_param("tags") or [], platform_version=self._get_param("platformVersion"))
        return ActionResult({"tasks": [fid.ecs.task_view(t) for t in tasks], "failures": []})


def _run_on_container_instances(resp: Any, backend: Any, cluster: Any, count: int) -> Any:
    """EC2 placement as moto models it (the task's CPU, memory and host ports reserved on the first registered
    instance they fit on, released by StopTask), plus the failures ECS reports for the tasks that did not fit:
    one per active container instance, ``RESOURCE:CPU``, ``RESOURCE:MEMORY`` or ``RESOURCE:PORTS``. These
    tasks are moto's: RUNNING at once, outside the simulator (no lifecycle, no runtime)."""
    result = original_of(type(resp), "run_task")(resp)
    if len(result.result["tasks"]) < count:
        td = backend.describe_task_definition(resp._get_param("taskDefinition"))
        need = backend._calculate_task_resource_requirements(td)
        failures = []
        for instance in backend.container_instances.get(cluster.name, {}).values():
            reason = _missing_resource(instance, need) if instance.status == "ACTIVE" else None
            if reason:
                failures.append({"arn": instance.container_instance_arn, "reason": reason})
        result.result["failures"] = failures
    return result


def _missing_resource(instance: Any, need: dict[str, Any]) -> str | None:
    remaining = {r.get("name"): r for r in instance.remaining_resources}
    if need.get("CPU", 0) > (remaining.get("CPU") or {}).get("integerValue", 0):
        return "RESOURCE:CPU"
    if need.get("MEMORY", 0) > (remaining.get("MEMORY") or {}).get("integerValue", 0):
        return "RESOURCE:MEMORY"
    taken = set((remaining.get("PORTS") or {}).get("stringSetValue") or [])
    if any(str(port) in taken for port in need.get("PORTS") or []):
        return "RESOURCE:PORTS"
    return None


def _moto_tasks(backend: Any, cluster: Any) -> dict[str, Any]:
    """Tasks moto itself holds (``StartTask`` on container instances); the simulator has the rest."""
    return dict(backend.tasks.get(cluster.name, {}))


def _ecs_describe_tasks(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        refs = self._get_param("tasks") or []
        if not refs:
            raise _invalid("Tasks cannot be empty.")
        include_tags = "TAGS" in (self._get_param("include") or [])
        # moto's serializer drops or keeps the tags of its own tasks by this switch (as moto's describe_tasks)
        from moto.ecs.responses import DESCRIBE_TASKS_TAGS

        if include_tags:
            self._include_in_response(DESCRIBE_TASKS_TAGS)
        else:
            self._exclude_from_response(DESCRIBE_TASKS_TAGS)
        account, region = _account_region(self)
        own = _moto_tasks(backend, cluster)
        fid.ecs.advance(fid.now())
        tasks: list[Any] = []
        failures = []
        for ref in refs:
            task = fid.ecs.find_task(ref, cluster.arn)
            if task is not None:
                tasks.append(fid.ecs.task_view(task, include_tags=include_tags))
                continue
            match = next((t for arn, t in own.items() if arn == ref or arn.endswith("/" + ref.rsplit("/", 1)[-1])),
                         None)
            if match is not None:
                match.advance()  # moto's state manager moves its tasks along per describe, as moto's describe_tasks
                tasks.append(match)
                continue
            arn = ref if ref.startswith("arn:") else f"arn:aws:ecs:{region}:{account}:task/{cluster.name}/{ref}"
            failures.append({"arn": arn, "reason": "MISSING"})
        return ActionResult({"tasks": tasks, "failures": failures})


def _ecs_list_tasks(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        desired = self._get_param("desiredStatus") or "RUNNING"
        service_name = self._get_param("serviceName")
        family = self._get_param("family")
        started_by = self._get_param("startedBy")
        container_instance = self._get_param("containerInstance")
        if service_name:
            backend._get_service(cluster.name, service_name)  # ServiceNotFoundException, as ECS answers
        fid.ecs.advance(fid.now())
        arns: list[str] = []
        if not container_instance:
            arns = [t.arn for t in fid.ecs.list_tasks(cluster.arn, service_name=service_name, family=family,
                                                      desired_status=desired, started_by=started_by,
                                                      launch_type=self._get_param("launchType"))]
        if _moto_tasks(backend, cluster):
            # moto's own tasks: EC2 placements and the tasks of task sets (services on the EXTERNAL controller,
            # marked with their service's group by _ecs_create_task_set)
            group = f"service:{service_name.rsplit('/', 1)[-1]}" if service_name else None
            arns += [t.task_arn for t in backend.list_tasks(cluster.name, container_instance, family, started_by,
                                                            None, desired)
                     if t.task_arn not in arns and (group is None or t.group == group)]
        limit = int(self._get_param("maxResults") or 100)
        start = int(self._get_param("nextToken") or 0)
        page = arns[start:start + limit]
        out: dict[str, Any] = {"taskArns": page}
        if start + limit < len(arns):
            out["nextToken"] = str(start + limit)
        return ActionResult(out)


def _ecs_stop_task(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        ref = self._get_param("task") or ""
        task = fid.ecs.find_task(ref, cluster.arn)
        if task is None:
            own = _moto_tasks(backend, cluster)
            if any(arn.endswith(ref.rsplit("/", 1)[-1]) for arn in own):
                return original_of(type(self), "stop_task")(self)
            raise _invalid("The referenced task was not found.")
        fid.ecs.stop_task(task, fid.now(), self._get_param("reason"))
        fid.ecs.advance(fid.now())
        return ActionResult({"task": fid.ecs.task_view(task)})


def _ecs_describe_clusters(self: Any) -> Any:
    """``runningTasksCount`` and ``pendingTasksCount`` count the cluster's tasks: the simulator's (PENDING means
    PROVISIONING, PENDING or ACTIVATING, the states before RUNNING) and moto's own (EC2 placements, task sets).
    moto's counters would instead add a service's desired count as soon as the service exists."""
    fid = current()
    with fid.lock:
        fid.ecs.advance(fid.now())
        result = original_of(type(self), "describe_clusters")(self)
        backend = self.ecs_backend
        views = []
        for cluster in result.result["clusters"]:
            running = pending = 0
            for task in fid.ecs.all_tasks():
                if task.cluster_arn == cluster.arn:
                    running += task.last_status == "RUNNING"
                    pending += task.last_status in ecs_sim.STARTING_STATES
            for task in backend.tasks.get(cluster.name, {}).values():
                status = task.last_status
                running += status == "RUNNING"
                pending += status in ecs_sim.STARTING_STATES
            views.append(ServiceView(cluster, {"runningTasksCount": running, "pendingTasksCount": pending}))
        result.result["clusters"] = views
        return result


def _ecs_get_resource(self: Any, resource_arn: str, parsed_arn: dict[str, str]) -> Any:
    """Tag operations (TagResource, UntagResource, ListTagsForResource) on a simulated task find the
    simulator's task, whose ``tags`` they read and write."""
    if parsed_arn.get("service") == "task":
        fid = current()
        with fid.lock:
            task = fid.ecs.find_task(resource_arn)
        if task is not None:
            return task
        if not any(t.task_arn == resource_arn for t in self.list_tasks()):
            raise _invalid("The specified task was not found.")
    return original_of(type(self), "_get_resource")(self, resource_arn, parsed_arn)


def _ecs_create_task_set(self: Any, service: str, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
    """moto starts a task set's tasks as its own; they are marked with their service's group
    (``service:<name>``), as ECS marks every task of a service, so that ``ListTasks(serviceName=)`` finds them."""
    cluster = self._get_cluster(cluster_str)
    before = set(self.tasks.get(cluster.name, {}))
    task_set = original_of(type(self), "create_task_set")(self, service, cluster_str, *args, **kwargs)
    for arn, task in self.tasks.get(cluster.name, {}).items():
        if arn not in before:
            task.group = f"service:{service.rsplit('/', 1)[-1]}"
    return task_set


def _ecs_list_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        backend = self.ecs_backend
        service = backend._get_service(self._get_param("cluster", "default"), self._get_param("service"))
        fid.ecs.advance(fid.now())
        sim = fid.ecs.services.get(service.arn)
        records = sorted(sim.service_deployments.values(), key=lambda r: r.created_at, reverse=True) if sim else []
        wanted = set(self._get_param("status") or [])
        created = self._get_param("createdAt") or {}
        out = []
        for record in records:
            if wanted and record.status not in wanted:
                continue
            at = fid.ecs.wall(record.created_at)
            if created.get("after") is not None and at < _aware(created["after"]):
                continue
            if created.get("before") is not None and at > _aware(created["before"]):
                continue
            out.append(fid.ecs.service_deployment_view(record, brief=True))
        limit = int(self._get_param("maxResults") or 20)
        start = int(self._get_param("nextToken") or 0)
        result: dict[str, Any] = {"serviceDeployments": out[start:start + limit]}
        if start + limit < len(out):
            result["nextToken"] = str(start + limit)
        return ActionResult(result)


def _aware(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value))


def _ecs_describe_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        arns = self._get_param("serviceDeploymentArns") or []
        fid.ecs.advance(fid.now())
        found, failures = _described(arns, fid.ecs.find_service_deployment, fid.ecs.service_deployment_view)
        return ActionResult({"serviceDeployments": found, "failures": failures})


def _ecs_describe_service_revisions(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        found, failures = _described(self._get_param("serviceRevisionArns") or [], fid.ecs.find_revision,
                                     fid.ecs.revision_view)
        return ActionResult({"serviceRevisions": found, "failures": failures})


def _described(arns: list[str], find: Callable[[str], Any | None],
               view: Callable[[Any], dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """A describe call's answer: the views of what was found, a MISSING failure for each ARN that was not."""
    found, failures = [], []
    for arn in arns:
        item = find(arn)
        if item is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(view(item))
    return found, failures


def _ecs_stop_service_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = current()
    with fid.lock:
        arn = self._get_param("serviceDeploymentArn")
        stop_type = self._get_param("stopType") or "ROLLBACK"
        record = fid.ecs.find_service_deployment(arn)
        if record is None:
            raise _error("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
        if stop_type != "ROLLBACK":
            raise _invalid(f"stopType {stop_type} is not modelled by the local stack; use ROLLBACK.")
        try:
            fid.ecs.stop_service_deployment(record, fid.now())
        except ValueError as exc:
            raise _error("ConflictException", str(exc)) from None
        fid.ecs.advance(fid.now())
        return ActionResult({"serviceDeploymentArn": arn})


# ---- the world the simulator sees: moto's ELBv2, ECR and EC2 backends


_ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                        r"(?P<repo>[^:@]+)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


class MotoWorld:
    """:class:`~pipeline_py.local.ecs_sim.World` backed by moto's backends (called under the lock)."""

    def __init__(self) -> None:
        self._rng = random.Random()
        self._spread = 0
        # with a container runtime, the task's address comes from it (a loopback address per task)
        self.address_source: Callable[[Task], str] | None = None

    @staticmethod
    def _split(arn: str) -> tuple[str, str]:
        parts = arn.split(":")
        return parts[4], parts[3]

    def _target_group(self, arn: str) -> tuple[Any, Any] | tuple[None, None]:
        from moto.elbv2.models import elbv2_backends

        try:
            account, region = self._split(arn)
            backend = elbv2_backends[account][region]
        except (IndexError, KeyError):
            return None, None
        return backend, backend.target_groups.get(arn)

    def target_group(self, arn: str) -> TargetGroupConfig | None:
        backend, tg = self._target_group(arn)
        if tg is None:
            return None
        return TargetGroupConfig(
            arn=arn, target_type=tg.target_type or "instance", port=int(tg.port) if tg.port else None,
            protocol=tg.protocol, health_check_enabled=bool(tg.health_check_enabled),
            health_check_port=str(tg.health_check_port or "traffic-port"),
            interval=float(tg.health_check_interval_seconds or 30),
            healthy_threshold=int(tg.healthy_threshold_count or 5),
            unhealthy_threshold=int(tg.unhealthy_threshold_count or 2),
            deregistration_delay=float(tg.attributes.get("deregistration_delay.timeout_seconds", 300)),
            in_use=bool(load_balancers_using(backend, arn)),
            health_check_path=str(tg.health_check_path or "/"),
            health_check_protocol=str(tg.health_check_protocol or "HTTP"),
            health_check_timeout=float(tg.health_check_timeout_seconds or 5),
            matcher=str((getattr(tg, "matcher", None) or {}).get("HttpCode") or "200"))

    def resolve_image(self, image: str, account: str, region: str) -> tuple[str | None, str | None]:
        from moto.ecr.models import ecr_backends

        m = _ECR_IMAGE.match(image or "")
        if not m or m["account"] != account or m["region"] != region:
            return None, None
        try:
            repo = ecr_backends[account][region].repositories.get(m["repo"])
        except KeyError:
            return None, None
        if repo is None:
            return None, None
        digest, tag = m["digest"], m["tag"]
        for img in repo.images:
            if digest and img.image_digest == digest:
                return None, digest
            if not digest and (tag or "latest") in (img.image_tags or []):
                return None, img.image_digest
        return ecs_sim._pull_error_message(image), None

    def attach_eni(self, task: Task) -> Eni | None:
        from moto.ec2.models import ec2_backends

        conf = (task.network or {}).get("awsvpcConfiguration") or {}
        subnets = conf.get("subnets") or []
        if not subnets:
            return None
        subnet_id = subnets[self._spread % len(subnets)]
        self._spread += 1
        try:
            ec2 = ec2_backends[task.account][task.region]
            subnet = ec2.get_subnet(subnet_id)
            ip = self.address_source(task) if self.address_source is not None else self._free_ip(ec2, subnet)
            eni = ec2.create_network_interface(
                subnet=subnet_id, private_ip_address=ip, group_ids=list(conf.get("securityGroups") or []),
                description=f"arn:aws:ecs:{task.region}:{task.account}:attachment/{task.attachment_id}")
            eni.status = "in-use"
            eni.requester_managed = True
            dns = getattr(eni, "private_dns_name", None) or _private_dns(ip, task.region)
            return Eni(eni.id, ip, str(subnet_id), eni.mac_address, dns, subnet.availability_zone)
        except Exception:
            log.exception("could not create the ENI of task %s in %s", task.id, subnet_id)
            ip = (self.address_source(task) if self.address_source is not None
                  else f"10.{self._rng.randrange(256)}.{self._rng.randrange(256)}.{self._rng.randrange(4, 255)}")
            return Eni(f"eni-{self._rng.getrandbits(68):017x}", ip, subnet_id, "", _private_dns(ip, task.region), "")

    def _free_ip(self, ec2: Any, subnet: Any) -> str:
        network = ipaddress.ip_network(subnet.cidr_block, strict=False)
        used = {e.private_ip_address for e in ec2.enis.values()
                if getattr(getattr(e, "subnet", None), "id", None) == subnet.id}
        for _ in range(200):
            ip = str(network.network_address + self._rng.randrange(4, max(network.num_addresses - 1, 5)))
            if ip not in used:
                return ip
        raise RuntimeError(f"subnet {subnet.id} has no free address")

    def release_eni(self, task: Task) -> None:
        from moto.ec2.models import ec2_backends

        if task.eni is None:
            return
        try:
            ec2_backends[task.account][task.region].delete_network_interface(task.eni.id)
        except Exception:  # already gone (deleted by hand, or moto was reset)
            pass

    def targets_changed(self, added: list[Target], removed: list[Target]) -> None:
        for target in added:
            _, tg = self._target_group(target.target_group_arn)
            if tg is not None:
                tg.targets[target.id] = {"Id": target.id, "Port": target.port}
                tg.deregistered_targets.pop(target.id, None)
        for target in removed:
            _, tg = self._target_group(target.target_group_arn)
            if tg is not None and int(tg.targets.get(target.id, {}).get("Port", -1)) == target.port:
                tg.deregistered_targets[target.id] = tg.targets.pop(target.id)


def _private_dns(ip: str, region: str) -> str:
    host = "ip-" + ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"
