"""The ECS rollout simulator and ELB target health through boto3, against the in-process local stack.

Tests run on a fast timing model (set through the control route, restored afterwards) and wait on
conditions with bounded timeouts; only ``test_default_timing_*`` measures the default model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import wait_for

ACCOUNT, REGION = "123456789012", "us-east-1"
FAST = {"scale": 0.002, "provisioning": 0.02, "pending": 0.04, "activating": 0.02, "stopping": 0.02,
        "deprovisioning": 0.02, "crash_delay": 0.02}


@dataclass
class Infra:
    url: str
    ecs: Any
    elb: Any
    ec2: Any
    ecr: Any
    vpc: str
    subnets: list[str]
    sg: str
    lb: str
    cluster: str = "sim"
    ports: list[int] = field(default_factory=lambda: [80])

    @property
    def network(self) -> dict[str, Any]:
        return {"awsvpcConfiguration": {"subnets": self.subnets, "securityGroups": [self.sg],
                                        "assignPublicIp": "DISABLED"}}

    def control(self, route: str, method: str = "GET", payload: dict[str, Any] | None = None) -> requests.Response:
        return requests.request(method, f"{self.url}/_pipeline_py/{route}", json=payload, timeout=10)

    def target_group(self, name: str, *, interval: int = 5, healthy: int = 2, unhealthy: int = 2,
                     dereg: int = 10, attach: bool = True) -> str:
        arn = self.elb.create_target_group(
            Name=name, Protocol="HTTP", Port=8080, VpcId=self.vpc, TargetType="ip", HealthCheckPath="/health",
            HealthCheckIntervalSeconds=interval, HealthyThresholdCount=healthy,
            UnhealthyThresholdCount=unhealthy)["TargetGroups"][0]["TargetGroupArn"]
        self.elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(dereg)}])
        if attach:
            self.ports.append(self.ports[-1] + 1)
            self.elb.create_listener(LoadBalancerArn=self.lb, Protocol="HTTP", Port=self.ports[-1],
                                     DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])
        return arn

    def taskdef(self, scenario: str = "healthy", *, image: str = "task-api:v1", family: str = "app",
                health_check: dict[str, Any] | None = None) -> str:
        container: dict[str, Any] = {
            "name": "app", "image": image, "essential": True, "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "APP_SCENARIO", "value": scenario}]}
        if health_check:
            container["healthCheck"] = health_check
        return self.ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]

    def create_service(self, name: str = "api", *, td: str | None = None, tg: str | None = None, desired: int = 2,
                       breaker: bool = True, rollback: bool = True, grace: int = 0, min_healthy: int = 100,
                       max_percent: int = 200) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if tg:
            kwargs["loadBalancers"] = [{"targetGroupArn": tg, "containerName": "app", "containerPort": 8080}]
            kwargs["healthCheckGracePeriodSeconds"] = grace
        return self.ecs.create_service(
            cluster=self.cluster, serviceName=name, taskDefinition=td or self.taskdef(), desiredCount=desired,
            launchType="FARGATE", networkConfiguration=self.network,
            deploymentConfiguration={"minimumHealthyPercent": min_healthy, "maximumPercent": max_percent,
                                     "deploymentCircuitBreaker": {"enable": breaker, "rollback": rollback}},
            **kwargs)["service"]

    def service(self, name: str = "api") -> dict[str, Any]:
        return self.ecs.describe_services(cluster=self.cluster, services=[name])["services"][0]

    def steady(self, name: str = "api") -> bool:
        s = self.service(name)
        return (len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED"
                and s["runningCount"] == s["desiredCount"] and s["pendingCount"] == 0
                and "has reached a steady state" in s["events"][0]["message"])

    def tasks(self, **filters: Any) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=self.cluster, **filters)["taskArns"]
        return self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"] if arns else []

    def health(self, tg: str) -> list[dict[str, Any]]:
        return self.elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]

    def messages(self, name: str = "api") -> list[str]:
        return [e["message"] for e in reversed(self.service(name)["events"])]


@pytest.fixture
def infra(aws: Any) -> Any:
    ec2, elb, ecs, ecr = (boto3.client(s, region_name=REGION) for s in ("ec2", "elbv2", "ecs", "ecr"))
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{az}")[
        "Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    sg = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    lb = elb.create_load_balancer(Name="sim", Subnets=subnets, SecurityGroups=[sg])["LoadBalancers"][0][
        "LoadBalancerArn"]
    ecs.create_cluster(clusterName="sim")
    infra = Infra(aws.url, ecs, elb, ec2, ecr, vpc, subnets, sg, lb)
    assert infra.control("timing", "POST", FAST).ok
    yield infra
    infra.control("timing", "DELETE")


def test_service_creation_launches_tasks_and_reaches_a_steady_state(infra: Infra) -> None:
    tg = infra.target_group("api")
    td = infra.taskdef()
    created = infra.create_service(td=td, tg=tg)
    [dep] = created["deployments"]
    assert dep["status"] == "PRIMARY" and dep["rolloutState"] == "IN_PROGRESS" and dep["id"].startswith("ecs-svc/")
    assert (created["desiredCount"], created["runningCount"], created["pendingCount"]) == (2, 0, 2)
    assert created["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert created["deploymentController"] == {"type": "ECS"} and created["taskDefinition"] == td
    wait_for(infra.steady, what="steady state")
    svc = infra.service()
    [dep] = svc["deployments"]
    assert dep["rolloutStateReason"] == f"ECS deployment {dep['id']} completed."
    assert (dep["runningCount"], dep["pendingCount"], dep["failedTasks"]) == (2, 0, 0)
    assert svc["currentServiceDeployment"].startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/sim/api/")
    tasks = infra.tasks(serviceName="api")
    assert len(tasks) == 2
    msgs = infra.messages()
    ids = sorted(t["taskArn"].rsplit("/", 1)[1] for t in tasks)
    assert msgs[0].startswith("(service api) has started 2 tasks: ") and msgs[0].endswith(").")
    assert sorted(re.findall(r"\(task ([0-9a-f]{32})\)", msgs[0])) == ids
    assert msgs[1] == f"(service api) registered 2 targets in (target-group {tg})"
    assert msgs[-2:] == [f"(service api) (deployment {dep['id']}) deployment completed.",
                         "(service api) has reached a steady state."]
    ips = set()
    for t in tasks:
        assert (t["lastStatus"], t["desiredStatus"], t["healthStatus"]) == ("RUNNING", "RUNNING", "UNKNOWN")
        assert t["startedBy"] == dep["id"] and t["group"] == "service:api" and t["taskDefinitionArn"] == td
        assert t["launchType"] == "FARGATE" and t["platformVersion"] == "1.4.0"
        assert t["taskArn"].startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/sim/")
        assert t["containers"][0]["name"] == "app" and t["containers"][0]["lastStatus"] == "RUNNING"
        assert t["createdAt"] <= t["pullStartedAt"] <= t["pullStoppedAt"] <= t["startedAt"]
        [att] = t["attachments"]
        details = {d["name"]: d["value"] for d in att["details"]}
        assert att["type"] == "ElasticNetworkInterface" and att["status"] == "ATTACHED"
        assert details["subnetId"] in infra.subnets
        eni = infra.ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])[
            "NetworkInterfaces"][0]
        assert eni["PrivateIpAddress"] == details["privateIPv4Address"] and eni["SubnetId"] == details["subnetId"]
        ips.add(details["privateIPv4Address"])
    health = infra.health(tg)
    assert {(h["Target"]["Id"], h["Target"]["Port"]) for h in health} == {(ip, 8080) for ip in ips}
    assert {h["TargetHealth"]["State"] for h in health} == {"healthy"}
    assert {h["Target"]["AvailabilityZone"] for h in health} <= {f"{REGION}a", f"{REGION}b"}


def test_rolling_update_starts_new_tasks_and_drains_old_ones(infra: Infra) -> None:
    tg = infra.target_group("api", dereg=150)  # 150 AWS s = 0.3 s of draining
    infra.create_service(tg=tg)
    wait_for(infra.steady)
    old = infra.tasks(serviceName="api")
    td2 = infra.taskdef()
    updated = infra.ecs.update_service(cluster="sim", service="api", taskDefinition=td2)["service"]
    assert (updated["deployments"][0]["status"], updated["deployments"][0]["taskDefinition"]) == ("PRIMARY", td2)
    assert updated["deployments"][1]["status"] == "ACTIVE" and updated["taskDefinition"] == td2
    new_id = updated["deployments"][0]["id"]
    draining = wait_for(lambda: [h for h in infra.health(tg) if h["TargetHealth"]["State"] == "draining"],
                        what="old targets draining")
    assert draining[0]["TargetHealth"] == {"State": "draining", "Reason": "Target.DeregistrationInProgress",
                                           "Description": "Target deregistration is in progress"}
    wait_for(infra.steady, what="rolled out")
    stopped = infra.ecs.describe_tasks(cluster="sim", tasks=[t["taskArn"] for t in old])["tasks"]
    for t in stopped:
        assert (t["lastStatus"], t["desiredStatus"], t["stopCode"]) == ("STOPPED", "STOPPED",
                                                                        "ServiceSchedulerInitiated")
        assert t["stoppedReason"] == f"Scaling activity initiated by (deployment {new_id})"
        assert (t["stoppedAt"] - t["stoppingAt"]).total_seconds() >= 0.3
        eni = next(d["value"] for d in t["attachments"][0]["details"] if d["name"] == "networkInterfaceId")
        with pytest.raises(ClientError):
            infra.ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])
    assert {t["taskArn"] for t in old} <= {t["taskArn"] for t in infra.tasks(desiredStatus="STOPPED")}
    assert {t["taskDefinitionArn"] for t in infra.tasks(serviceName="api")} == {td2}
    assert len(infra.health(tg)) == 2
    msgs = infra.messages()
    drain = msgs.index("(service api) has begun draining connections on 2 tasks.")
    assert msgs[drain + 1] == f"(service api) deregistered 2 targets in (target-group {tg})"
    assert any(m.startswith("(service api) has stopped 2 running tasks: (task ") for m in msgs[drain:])


def test_default_timing_rolls_out_two_tasks_behind_aws_default_target_groups(infra: Infra) -> None:
    """The default timing model scales AWS's durations (a 300 s deregistration delay, 5 × 30 s health
    checks) so a rollout completes; how long it takes is measured by benchmarks/rolling.py, not asserted."""
    infra.control("timing", "DELETE")
    tg = infra.target_group("api", interval=30, healthy=5, unhealthy=2, dereg=300)  # the AWS defaults
    infra.create_service(tg=tg)
    wait_for(infra.steady, timeout=30)
    old = {t["taskArn"] for t in infra.tasks(serviceName="api")}
    dep = infra.ecs.update_service(cluster="sim", service="api", forceNewDeployment=True)["service"]["deployments"][0]
    wait_for(lambda: infra.steady() and infra.service()["deployments"][0]["id"] == dep["id"], timeout=30,
             what="the forced deployment at steady state")
    new = {t["taskArn"] for t in infra.tasks(serviceName="api")}
    assert len(new) == 2 and not new & old
    assert [t["startedBy"] for t in infra.tasks(serviceName="api")] == [dep["id"]] * 2


def test_desired_count_change_only_scales_the_primary_deployment(infra: Infra) -> None:
    infra.create_service(tg=infra.target_group("api"))
    wait_for(infra.steady)
    dep = infra.service()["deployments"][0]["id"]
    out = infra.ecs.update_service(cluster="sim", service="api", desiredCount=3,
                                   taskDefinition=infra.service()["taskDefinition"])["service"]
    assert [d["id"] for d in out["deployments"]] == [dep] and out["desiredCount"] == 3
    wait_for(lambda: infra.steady() and infra.service()["runningCount"] == 3)
    assert [d["id"] for d in infra.service()["deployments"]] == [dep]
    assert infra.messages().count("(service api) has reached a steady state.") == 2


def test_crash_on_start_trips_the_circuit_breaker_and_rolls_back(infra: Infra) -> None:
    infra.create_service(tg=infra.target_group("api"))
    wait_for(infra.steady)
    good = infra.service()["deployments"][0]
    before = {t["taskArn"] for t in infra.tasks(serviceName="api")}
    bad_td = infra.taskdef("crash,exit-code=3")
    bad = infra.ecs.update_service(cluster="sim", service="api", taskDefinition=bad_td)["service"]["deployments"][0]
    primary = wait_for(lambda: next((d for d in infra.service()["deployments"] if d["status"] == "PRIMARY"
                                    and d["id"] not in (good["id"], bad["id"])), None),
                       what="the rollback deployment")
    assert primary["rolloutStateReason"] in (
        f"ECS deployment circuit breaker: rolling back to deploymentId {good['id']}.",
        f"ECS deployment {primary['id']} completed.")
    # the failed deployment stays listed, ACTIVE/FAILED, while the rollback replaces its tasks (the rollback
    # deployment is seen above before it completes, so the failed one is always still there at this point)
    states = {d["id"]: (d["status"], d["rolloutState"]) for d in infra.service()["deployments"]}
    assert states.get(bad["id"]) == ("ACTIVE", "FAILED") or states == {primary["id"]: ("PRIMARY", "COMPLETED")}
    wait_for(infra.steady, what="settled on the old revision")
    svc = infra.service()
    [rollback] = svc["deployments"]
    assert rollback["taskDefinition"] == good["taskDefinition"] == svc["taskDefinition"]
    assert {t["taskArn"] for t in infra.tasks(serviceName="api")} == before
    crashed = infra.tasks(startedBy=bad["id"], desiredStatus="STOPPED")
    assert len(crashed) >= 3
    for t in crashed:
        assert t["containers"][0]["exitCode"] == 3 and "startedAt" not in t
        assert (t["stopCode"], t["stoppedReason"]) == ("EssentialContainerExited", "Essential container in task exited")
    msgs = infra.messages()
    i = msgs.index(f"(service api) (deployment {bad['id']}) deployment failed: tasks failed to start.")
    assert msgs[i + 1] == f"(service api) rolling back to deployment {good['id']}."
    assert "(service api) is unable to consistently start tasks successfully." in msgs
    sds = infra.ecs.list_service_deployments(cluster="sim", service="api")["serviceDeployments"]
    assert [s["status"] for s in sds] == ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]
    [sd] = infra.ecs.describe_service_deployments(serviceDeploymentArns=[sds[0]["serviceDeploymentArn"]])[
        "serviceDeployments"]
    assert sd["rollback"]["serviceRevisionArn"] == sds[1]["targetServiceRevisionArn"]
    assert sd["deploymentCircuitBreaker"] == {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}
    assert sd["statusReason"] == "ECS deployment circuit breaker: tasks failed to start."


def test_failing_health_checks_mark_targets_unhealthy_and_the_breaker_fails_the_deployment(infra: Infra) -> None:
    tg = infra.target_group("api")
    infra.create_service(tg=tg, rollback=False, grace=100)  # unhealthy after 2×5 AWS s, replaced after 100
    wait_for(infra.steady)
    infra.ecs.update_service(cluster="sim", service="api", taskDefinition=infra.taskdef("unhealthy"))
    unhealthy = wait_for(lambda: [h for h in infra.health(tg) if h["TargetHealth"]["State"] == "unhealthy"])
    assert unhealthy[0]["TargetHealth"] == {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                                            "Description": "Health checks failed with these codes: [503]"}
    wait_for(lambda: infra.service()["deployments"][0]["rolloutState"] == "FAILED", what="circuit breaker")
    svc = infra.service()
    assert [(d["status"], d["rolloutState"]) for d in svc["deployments"]] == [("PRIMARY", "FAILED"),
                                                                              ("ACTIVE", "COMPLETED")]
    assert svc["runningCount"] >= 2
    replaced = infra.tasks(startedBy=svc["deployments"][0]["id"], desiredStatus="STOPPED")
    assert replaced and all(t["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})"
                            for t in replaced)
    assert any(" is unhealthy in (target-group " in m and "(reason Health checks failed with these codes: [503])."
               in m for m in infra.messages())
    sds = infra.ecs.list_service_deployments(cluster="sim", service="api", status=["STOPPED"])["serviceDeployments"]
    assert len(sds) == 1 and sds[0]["statusReason"] == "ECS deployment circuit breaker: tasks failed to start."


def test_images_missing_from_ecr_cannot_be_pulled(infra: Infra) -> None:
    infra.ecr.create_repository(repositoryName="task-api")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + "a" * 64, "size": 1},
                           "layers": [{"digest": "sha256:" + "b" * 64, "size": 1}]})
    digest = infra.ecr.put_image(repositoryName="task-api", imageManifest=manifest, imageTag="v1")["image"][
        "imageId"]["imageDigest"]
    repo = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/task-api"
    infra.create_service(td=infra.taskdef(image=f"{repo}@{digest}"), tg=infra.target_group("api"), rollback=False)
    wait_for(infra.steady)
    assert {t["containers"][0]["imageDigest"] for t in infra.tasks(serviceName="api")} == {digest}
    infra.ecs.update_service(cluster="sim", service="api", taskDefinition=infra.taskdef(image=f"{repo}:v2"))
    failed = wait_for(lambda: infra.tasks(desiredStatus="STOPPED"), what="a task that failed to start")[0]
    message = (f"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref "
               f"{repo}:v2: {repo}:v2: not found")
    assert (failed["stopCode"], failed["stoppedReason"]) == ("TaskFailedToStart", message)
    assert failed["containers"][0]["reason"] == message and "startedAt" not in failed
    wait_for(lambda: infra.service()["deployments"][0]["rolloutState"] == "FAILED")
    assert "(service api) is unable to consistently start tasks successfully." in infra.messages()


@pytest.mark.parametrize("grace, passes", [(0, False), (200, True)])
def test_slow_start_needs_a_long_enough_grace_period(infra: Infra, grace: int, passes: bool) -> None:
    tg = infra.target_group("api")
    infra.create_service(td=infra.taskdef("slow-start=60"), tg=tg, desired=1, rollback=False, grace=grace)
    if passes:
        wait_for(infra.steady, what="slow tasks to pass within the grace period")
        assert infra.service()["deployments"][0]["failedTasks"] == 0
        assert infra.tasks(desiredStatus="STOPPED") == []
    else:
        wait_for(lambda: infra.service()["deployments"][0]["rolloutState"] == "FAILED")
        assert {t["stoppedReason"] for t in infra.tasks(desiredStatus="STOPPED")} == {
            f"Task failed ELB health checks in (target-group {tg})"}


def test_run_task_runs_a_one_off_task_to_its_exit_code(infra: Infra) -> None:
    td = infra.taskdef("healthy", family="job")
    override = {"name": "app", "command": ["migrate", "up"],
                "environment": [{"name": "APP_SCENARIO", "value": "run-seconds=60,exit-code=5"}]}
    resp = infra.ecs.run_task(cluster="sim", taskDefinition=td, launchType="FARGATE",
                              networkConfiguration=infra.network, startedBy="pipeline-py",
                              overrides={"containerOverrides": [override]})
    assert resp["failures"] == []
    [task] = resp["tasks"]
    assert (task["lastStatus"], task["desiredStatus"]) == ("PROVISIONING", "RUNNING")
    assert task["group"] == "family:job" and task["startedBy"] == "pipeline-py"
    arn = task["taskArn"]
    wait_for(lambda: infra.ecs.describe_tasks(cluster="sim", tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING")
    assert infra.ecs.list_tasks(cluster="sim", startedBy="pipeline-py")["taskArns"] == [arn]
    done = wait_for(lambda: [t for t in infra.ecs.describe_tasks(cluster="sim", tasks=[arn])["tasks"]
                             if t["lastStatus"] == "STOPPED"])[0]
    assert done["containers"][0]["exitCode"] == 5
    assert done["stopCode"] == "EssentialContainerExited"
    assert done["stoppedReason"] == "Essential container in task exited"
    assert done["overrides"]["containerOverrides"][0]["command"] == ["migrate", "up"]
    assert (done["executionStoppedAt"] - done["pullStoppedAt"]).total_seconds() >= 0.12
    assert infra.ecs.list_tasks(cluster="sim", family="job", desiredStatus="STOPPED")["taskArns"] == [arn]
    assert infra.ecs.list_tasks(cluster="sim", family="job")["taskArns"] == []


def test_run_task_validation(infra: Infra) -> None:
    td = infra.taskdef()
    with pytest.raises(ClientError, match="Network Configuration must be provided when networkMode 'awsvpc'"):
        infra.ecs.run_task(cluster="sim", taskDefinition=td, launchType="FARGATE")
    with pytest.raises(ClientError, match="No Container Instances were found in your cluster"):
        infra.ecs.run_task(cluster="sim", taskDefinition=td, launchType="EC2", networkConfiguration=infra.network)
    with pytest.raises(ClientError, match="ClusterNotFoundException"):
        infra.ecs.run_task(cluster="nope", taskDefinition=td, launchType="FARGATE", networkConfiguration=infra.network)
    with pytest.raises(ClientError, match="subnet-nope"):
        infra.ecs.run_task(cluster="sim", taskDefinition=td, launchType="FARGATE",
                           networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-nope"]}})


def test_stop_task_list_filters_and_missing_tasks(infra: Infra) -> None:
    infra.create_service(tg=infra.target_group("api"))
    wait_for(infra.steady)
    victim = infra.tasks(serviceName="api")[0]["taskArn"]
    out = infra.ecs.stop_task(cluster="sim", task=victim, reason="testing")["task"]
    assert (out["desiredStatus"], out["stopCode"], out["stoppedReason"]) == ("STOPPED", "UserInitiated", "testing")
    wait_for(lambda: infra.steady() and victim not in {t["taskArn"] for t in infra.tasks(serviceName="api")})
    stopped = infra.ecs.describe_tasks(cluster="sim", tasks=[victim.rsplit("/", 1)[1]])["tasks"][0]
    assert stopped["lastStatus"] == "STOPPED" and stopped["containers"][0]["exitCode"] == 143
    assert victim in infra.ecs.list_tasks(cluster="sim", serviceName="api", desiredStatus="STOPPED")["taskArns"]
    assert infra.service()["deployments"][0]["failedTasks"] == 0
    page = infra.ecs.list_tasks(cluster="sim", maxResults=1)
    assert len(page["taskArns"]) == 1 and page["nextToken"]
    assert len(infra.ecs.list_tasks(cluster="sim", maxResults=1, nextToken=page["nextToken"])["taskArns"]) == 1
    with pytest.raises(ClientError, match="ServiceNotFoundException"):
        infra.ecs.list_tasks(cluster="sim", serviceName="nope")
    missing = infra.ecs.describe_tasks(cluster="sim", tasks=["0" * 32])
    assert missing["tasks"] == [] and missing["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError, match="The referenced task was not found"):
        infra.ecs.stop_task(cluster="sim", task="0" * 32)


def test_service_deployment_and_revision_apis(infra: Infra) -> None:
    infra.create_service(tg=infra.target_group("api"), desired=1)
    wait_for(infra.steady)
    infra.ecs.update_service(cluster="sim", service="api", taskDefinition=infra.taskdef("slow-start=3600"),
                             healthCheckGracePeriodSeconds=7200)
    sds = infra.ecs.list_service_deployments(cluster="sim", service="api")["serviceDeployments"]
    assert [s["status"] for s in sds] == ["IN_PROGRESS", "SUCCESSFUL"]
    assert sds[0]["createdAt"] >= sds[1]["createdAt"]
    full = infra.ecs.describe_service_deployments(serviceDeploymentArns=[s["serviceDeploymentArn"] for s in sds]
                                                  + ["arn:aws:ecs:us-east-1:123456789012:service-deployment/x/y/z"])
    assert full["failures"] == [{"arn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/x/y/z",
                                 "reason": "MISSING"}]
    current, first = full["serviceDeployments"]
    assert current["sourceServiceRevisions"][0]["arn"] == first["targetServiceRevision"]["arn"]
    assert current["deploymentCircuitBreaker"]["status"] == "MONITORING"
    revisions = infra.ecs.describe_service_revisions(serviceRevisionArns=[current["targetServiceRevision"]["arn"]])
    assert revisions["serviceRevisions"][0]["taskDefinition"] == infra.service()["taskDefinition"]
    infra.ecs.stop_service_deployment(serviceDeploymentArn=current["serviceDeploymentArn"], stopType="ROLLBACK")
    wait_for(infra.steady)
    [done] = infra.ecs.describe_service_deployments(serviceDeploymentArns=[current["serviceDeploymentArn"]])[
        "serviceDeployments"]
    assert done["status"] == "ROLLBACK_SUCCESSFUL" and done["rollback"]["serviceRevisionArn"] == first[
        "targetServiceRevision"]["arn"]
    [first_revision] = infra.ecs.describe_service_revisions(
        serviceRevisionArns=[first["targetServiceRevision"]["arn"]])["serviceRevisions"]
    assert infra.service()["taskDefinition"] == first_revision["taskDefinition"]
    with pytest.raises(ClientError, match="ServiceNotFoundException"):
        infra.ecs.list_service_deployments(cluster="sim", service="nope")


def test_create_service_validation(infra: Infra) -> None:
    loose = infra.target_group("loose", attach=False)
    with pytest.raises(ClientError, match="does not have an associated load balancer"):
        infra.create_service(tg=loose)
    tg = infra.target_group("api")
    td = infra.taskdef()
    with pytest.raises(ClientError, match="did not have a container port 9090 defined"):
        infra.ecs.create_service(cluster="sim", serviceName="api", taskDefinition=td, desiredCount=1,
                                 launchType="FARGATE", networkConfiguration=infra.network,
                                 loadBalancers=[{"targetGroupArn": tg, "containerName": "app",
                                                 "containerPort": 9090}])
    with pytest.raises(ClientError, match="Network Configuration must be provided"):
        infra.ecs.create_service(cluster="sim", serviceName="api", taskDefinition=td, desiredCount=1,
                                 launchType="FARGATE")
    infra.create_service(tg=tg)
    with pytest.raises(ClientError, match="Creation of service was not idempotent"):
        infra.create_service(tg=tg)


def test_targets_registered_by_hand_get_health_checked_and_drain(infra: Infra) -> None:
    tg = infra.target_group("manual", dereg=150)
    infra.elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.20.1.99", "Port": 8080}])
    [h] = infra.health(tg)
    assert h["TargetHealth"] == {"State": "initial", "Reason": "Elb.InitialHealthChecking",
                                 "Description": "Initial health checks in progress"}
    wait_for(lambda: infra.health(tg)[0]["TargetHealth"]["State"] == "healthy")
    infra.elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "10.20.1.99", "Port": 8080}])
    assert infra.health(tg)[0]["TargetHealth"]["State"] == "draining"
    wait_for(lambda: infra.health(tg) == [])
    [gone] = infra.elb.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": "10.20.1.99", "Port": 8080}])[
        "TargetHealthDescriptions"]
    assert gone["TargetHealth"]["Reason"] == "Target.NotRegistered"
    loose = infra.target_group("loose", attach=False)
    infra.elb.register_targets(TargetGroupArn=loose, Targets=[{"Id": "10.20.1.98", "Port": 8080}])
    wait_for(lambda: infra.health(loose)[0]["TargetHealth"].get("Reason") == "Target.NotInUse")


def test_delete_service_drains_tasks_then_goes_inactive(infra: Infra) -> None:
    tg = infra.target_group("api")
    infra.create_service(tg=tg)
    wait_for(infra.steady)
    deleted = infra.ecs.delete_service(cluster="sim", service="api", force=True)["service"]
    assert deleted["status"] == "DRAINING"
    wait_for(lambda: infra.service()["status"] == "INACTIVE")
    assert infra.health(tg) == [] and infra.tasks(serviceName="api") == []
    with pytest.raises(ClientError, match="ServiceNotActiveException"):
        infra.ecs.update_service(cluster="sim", service="api", desiredCount=1)


def test_control_routes_report_status_and_change_timing(infra: Infra) -> None:
    infra.create_service(tg=infra.target_group("api"), desired=1)
    wait_for(infra.steady)
    status = infra.control("status").json()
    assert status["ok"] is True and status["timing"]["scale"] == FAST["scale"]
    [svc] = status["services"]
    assert svc["serviceName"] == "api" and svc["steady"] is True and svc["runningCount"] == 1
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert status["tasks"]["running"] == 1 and len(status["targets"]) == 1
    assert infra.control("timing", "POST", {"pending": 0.5}).json()["timing"]["pending"] == 0.5
    assert infra.control("timing").json()["timing"]["scale"] == FAST["scale"]
    assert infra.control("timing", "PUT", {"pending": 0.3}).json()["timing"]["scale"] == 0.004
    bad = infra.control("timing", "POST", {"warp": 9})
    assert bad.status_code == 400 and "unknown timing knob 'warp'" in bad.json()["error"]
    assert infra.control("nope").status_code == 404


def test_moto_reset_clears_the_simulator(infra: Infra) -> None:
    infra.create_service(tg=infra.target_group("api"), desired=1)
    infra.ecs.run_task(cluster="sim", taskDefinition=infra.taskdef(), launchType="FARGATE",
                       networkConfiguration=infra.network)
    assert infra.control("status").json()["tasks"]["total"] == 2
    infra.control("timing", "POST", {"pending": 0.7})
    requests.post(infra.url + "/moto-api/reset", timeout=10)
    status = infra.control("status").json()
    assert status["services"] == [] and status["tasks"]["total"] == 0 and status["targets"] == []
    assert status["timing"]["pending"] != 0.7  # back to the timing the server was started with
    with pytest.raises(ClientError, match="ClusterNotFoundException"):
        infra.ecs.list_tasks(cluster="sim")
