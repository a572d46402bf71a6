"""The services port on ECS: services, task definitions and tasks through one boto3 client.

Batching (``DescribeServices`` takes up to 10 services, ``DescribeTasks`` up to 100) lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from pipeline_py import taskdef
from pipeline_py.aws import AwsFactory, error_code
from pipeline_py.clock import Clock, SystemClock
from pipeline_py.deploy.views import ServiceDeploymentView, ServiceView, StoppedTask, td_label
from pipeline_py.errors import BadInput

DESCRIBE_SERVICES_BATCH = 10
DESCRIBE_TASKS_BATCH = 100
MISSING_HINT = (" (on AWS, the environment's terraform creates it: `pipeline-py terraform plan/apply`; on the local "
                "stack, `pipeline-py local infra --env <env>`)")


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


UPDATE_ATTEMPTS = 8
UPDATE_BACKOFF = 0.2  # seconds, doubled per attempt
_THROTTLING = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
                         "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottledException"})


def _throttled(exc: BaseException) -> bool:
    return error_code(exc) in _THROTTLING


def _transient(exc: BaseException) -> bool:
    """Worth another try: throttling, a 5xx, or the connection failing on the way."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return _throttled(exc) or status >= 500
    return isinstance(exc, BotoConnectionError | HTTPClientError)


class EcsServices:
    def __init__(self, aws: AwsFactory, clock: Clock | None = None) -> None:
        self.aws = aws
        self.clock: Clock = clock or SystemClock()

    @property
    def ecs(self) -> Any:
        return self.aws.client("ecs")

    def describe(self, cluster: str, names: Iterable[str]) -> dict[str, ServiceView]:
        out: dict[str, ServiceView] = {}
        for batch in _chunks(list(dict.fromkeys(names)), DESCRIBE_SERVICES_BATCH):
            try:
                resp = self.ecs.describe_services(cluster=cluster, services=batch, include=["TAGS"])
            except ClientError as exc:
                if error_code(exc) == "ClusterNotFoundException":
                    raise BadInput(f"ECS cluster {cluster!r} not found{MISSING_HINT}") from None
                raise
            for s in resp.get("services", []):
                if s.get("status") == "INACTIVE":
                    continue
                out[s["serviceName"]] = ServiceView.from_api(cluster, s)
        return out

    def get(self, cluster: str, name: str) -> ServiceView:
        found = self.describe(cluster, [name])
        if name not in found:
            raise BadInput(f"ECS service {name!r} not found in cluster {cluster!r}{MISSING_HINT}")
        return found[name]

    def update(self, cluster: str, name: str, *, task_definition: str | None = None,
               desired_count: int | None = None, force_new_deployment: bool = False,
               deployment_configuration: dict[str, Any] | None = None,
               load_balancers: list[dict[str, Any]] | None = None) -> ServiceView:
        kwargs: dict[str, Any] = {}
        if task_definition is not None:
            kwargs["taskDefinition"] = task_definition
        if desired_count is not None:
            kwargs["desiredCount"] = desired_count
        if force_new_deployment:
            kwargs["forceNewDeployment"] = True
        if deployment_configuration is not None:
            kwargs["deploymentConfiguration"] = deployment_configuration
        if load_balancers is not None:
            kwargs["loadBalancers"] = load_balancers
        if task_definition is None and not force_new_deployment and deployment_configuration is None:
            # only the desired count: repeating the call changes nothing, botocore may retry it
            resp = self.ecs.update_service(cluster=cluster, service=name, **kwargs)
            return ServiceView.from_api(cluster, resp["service"])
        return self._update_once(cluster, name, kwargs)

    def _update_once(self, cluster: str, name: str, kwargs: dict[str, Any]) -> ServiceView:
        """``UpdateService`` that starts at most one deployment. An UpdateService that ECS applied but
        whose answer was lost (a 5xx, a dropped connection) must not be sent again as is: with
        ``forceNewDeployment`` or a new revision a second deployment would start. So the call goes
        through a client that never retries by itself; after an ambiguous failure the service is read
        again, and a deployment that was not there before means the update was applied."""
        before = {d.id for d in self.get(cluster, name).deployments}
        client = self.aws.client("ecs", retries=False)
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            try:
                resp = client.update_service(cluster=cluster, service=name, **kwargs)
                return ServiceView.from_api(cluster, resp["service"])
            except (ClientError, BotoCoreError) as exc:
                if not _transient(exc) or attempt == UPDATE_ATTEMPTS:
                    raise
                if not _throttled(exc):  # a throttled call was refused; any other may have been applied
                    view = self.get(cluster, name)
                    if any(d.id not in before for d in view.deployments):
                        return view
                self.clock.sleep(min(UPDATE_BACKOFF * 2 ** (attempt - 1), 5.0))
        raise AssertionError("unreachable")  # the loop returns or raises

    def service_deployments(self, cluster: str, service: str, statuses: Iterable[str] = ()) -> list[str]:
        kwargs: dict[str, Any] = {"cluster": cluster, "service": service}
        if statuses:
            kwargs["status"] = list(statuses)
        arns: list[str] = []
        while True:
            resp = self.ecs.list_service_deployments(**kwargs)
            arns.extend(d["serviceDeploymentArn"] for d in resp.get("serviceDeployments", []))
            if not resp.get("nextToken"):
                return arns
            kwargs["nextToken"] = resp["nextToken"]

    def describe_service_deployments(self, arns: list[str]) -> list[ServiceDeploymentView]:
        if not arns:
            return []
        resp = self.ecs.describe_service_deployments(serviceDeploymentArns=arns)
        return [ServiceDeploymentView.from_api(d) for d in resp.get("serviceDeployments", [])]

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        self.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action=action)

    def stop_service_deployment(self, arn: str, stop_type: str = "ROLLBACK") -> None:
        self.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType=stop_type)

    def task_definition(self, arn: str) -> dict[str, Any] | None:
        try:
            return dict(self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"])
        except ClientError as exc:
            if error_code(exc) in ("ClientException", "InvalidParameterException"):
                return None
            raise

    def live_task_definition(self, arn: str) -> dict[str, Any]:
        return taskdef.from_live(self.ecs, arn)

    def register(self, task_definition: dict[str, Any]) -> tuple[str, bool]:
        return taskdef.register(self.ecs, task_definition)

    def family_revisions(self, family: str) -> list[str]:
        arns: list[str] = []
        kwargs: dict[str, Any] = {"familyPrefix": family, "status": "ACTIVE", "sort": "DESC"}
        while True:
            resp = self.ecs.list_task_definitions(**kwargs)
            arns.extend(resp.get("taskDefinitionArns", []))
            if not resp.get("nextToken"):
                break
            kwargs["nextToken"] = resp["nextToken"]
        # familyPrefix matches other families that start with the same text
        return [a for a in arns if td_label(a).rpartition(":")[0] == family]

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        self.ecs.tag_resource(resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()])

    def untag(self, arn: str, keys: Iterable[str]) -> None:
        self.ecs.untag_resource(resourceArn=arn, tagKeys=list(keys))

    def list_task_arns(self, cluster: str, *, started_by: str | None = None, service: str | None = None,
                       family: str | None = None, desired_status: str = "RUNNING") -> list[str]:
        kwargs: dict[str, Any] = {"cluster": cluster, "desiredStatus": desired_status}
        if started_by:
            kwargs["startedBy"] = started_by
        elif service:
            kwargs["serviceName"] = service
        if family:
            kwargs["family"] = family
        arns: list[str] = []
        while True:
            resp = self.ecs.list_tasks(**kwargs)
            arns.extend(resp.get("taskArns", []))
            token = resp.get("nextToken")
            if not token:
                return arns
            kwargs["nextToken"] = token

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        for batch in _chunks(arns, DESCRIBE_TASKS_BATCH):
            tasks.extend(self.ecs.describe_tasks(cluster=cluster, tasks=batch).get("tasks", []))
        return tasks

    def stopped_tasks(self, cluster: str, deployment_id: str) -> list[StoppedTask]:
        arns = self.list_task_arns(cluster, started_by=deployment_id, desired_status="STOPPED")
        if not arns:
            return []
        return [StoppedTask.from_api(t) for t in self.describe_tasks(cluster, arns)]

    def running_tasks(self, cluster: str, deployment_id: str) -> list[dict[str, Any]]:
        arns = self.list_task_arns(cluster, started_by=deployment_id, desired_status="RUNNING")
        return self.describe_tasks(cluster, arns) if arns else []

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self.ecs.run_task(**kwargs))

    def stop_task(self, cluster: str, task: str, reason: str) -> None:
        self.ecs.stop_task(cluster=cluster, task=task, reason=reason[:255])
