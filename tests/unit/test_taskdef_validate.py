"""Validation: botocore's RegisterTaskDefinition model (with field paths) and the ECS rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipeline_py import taskdef
from pipeline_py.errors import BadInput


def td(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "family": "svc-staging",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {"name": "app", "image": "repo/app:1", "essential": True, "portMappings": [{"containerPort": 8080}]},
        ],
    }
    base.update(over)
    return base


def with_containers(*containers: dict[str, Any], **over: Any) -> dict[str, Any]:
    return td(containerDefinitions=list(containers), **over)


def problems(d: dict[str, Any], **kw: Any) -> list[str]:
    return taskdef.problems(d, **kw)


def test_valid_definition_passes() -> None:
    taskdef.validate(td())
    assert problems(td()) == []


def test_botocore_type_error_carries_the_field_path() -> None:
    d = td()
    d["containerDefinitions"][0]["portMappings"][0]["containerPort"] = "8080"
    assert problems(d) == [
        "containerDefinitions[0].portMappings[0].containerPort: Invalid type for parameter "
        "containerDefinitions[0].portMappings[0].containerPort, value: 8080, type: <class 'str'>, "
        "valid types: <class 'int'>"
    ]


def test_botocore_unknown_and_missing_fields() -> None:
    d = td()
    d["containerDefinitions"][0]["envirnoment"] = []
    d["containerDefinitions"].append({"image": "x"})
    del d["family"]
    errs = problems(d)
    assert "family: Missing required parameter in input: \"family\"" in errs
    assert any(e.startswith('containerDefinitions[0].envirnoment: Unknown parameter in containerDefinitions[0]: '
                            '"envirnoment", must be one of: name, image') for e in errs)


def test_integer_cpu_gets_a_hint() -> None:
    (err,) = problems(td(cpu=256))
    assert err.startswith("cpu: Invalid type for parameter cpu") and 'write "cpu": "{{ cpu }}"' in err


def test_validate_raises_bad_input_with_source_and_every_problem() -> None:
    d = td(memory="4096")
    d["containerDefinitions"].append({"name": "app", "image": "x"})
    with pytest.raises(BadInput) as info:
        taskdef.validate(d, "deploy/td.json.j2")
    lines = info.value.message.splitlines()
    assert lines[0] == "deploy/td.json.j2: invalid task definition:"
    assert len(lines) == 3


GIB = 1024
# The oracle: AWS's published table of Fargate task sizes ("Troubleshoot Amazon ECS task definition invalid
# CPU or memory errors", and RegisterTaskDefinition's `memory`), written out as AWS states it — never derived
# from taskdef.FARGATE_SIZES, the table under test.
AWS_FARGATE = {
    256: [512, 1 * GIB, 2 * GIB],                                # 512 MiB, 1 GB, 2 GB
    512: [1 * GIB, 2 * GIB, 3 * GIB, 4 * GIB],                   # 1–4 GB
    1024: [2 * GIB, 3 * GIB, 4 * GIB, 5 * GIB, 6 * GIB, 7 * GIB, 8 * GIB],  # 2–8 GB
    2048: [g * GIB for g in range(4, 16 + 1)],                   # between 4 and 16 GB in 1 GB increments
    4096: [g * GIB for g in range(8, 30 + 1)],                   # between 8 and 30 GB in 1 GB increments
    8192: [g * GIB for g in range(16, 60 + 1, 4)],               # between 16 and 60 GB in 4 GB increments
    16384: [g * GIB for g in range(32, 120 + 1, 8)],             # between 32 and 120 GB in 8 GB increments
}


def test_the_oracle_is_the_published_table() -> None:
    """Spot values of the table as printed, so a slip in the comprehensions above shows."""
    assert len(AWS_FARGATE[2048]) == 13 and AWS_FARGATE[2048][-1] == 16384
    assert len(AWS_FARGATE[4096]) == 23 and AWS_FARGATE[4096][0] == 8192 and AWS_FARGATE[4096][-1] == 30720
    assert AWS_FARGATE[8192] == [16384, 20480, 24576, 28672, 32768, 36864, 40960, 45056, 49152, 53248, 57344, 61440]
    assert AWS_FARGATE[16384][0] == 32768 and AWS_FARGATE[16384][-1] == 122880 and len(AWS_FARGATE[16384]) == 12


def test_every_fargate_size_is_judged_as_aws_publishes() -> None:
    """Every published cpu (and a few that are not) against every memory from 512 MiB to 128 GiB in 512 MiB
    steps: valid exactly when AWS's table lists the pair."""
    wrong = []
    for cpu in [*AWS_FARGATE, 128, 768, 3072, 32768]:
        for memory in range(512, 128 * GIB + 1, 512):
            ok = memory in AWS_FARGATE.get(cpu, [])
            errs = problems(td(cpu=str(cpu), memory=str(memory)))
            if (errs == []) is not ok:
                wrong.append((cpu, memory, ok, errs))
    assert wrong == []


@pytest.mark.parametrize(("cpu", "memory", "ok"), [
    ("1024", "2048", True), ("1024", "8192", True), ("1024", "1024", False), ("1024", "9216", False),
    ("2048", "4096", True), ("2048", "16384", True), ("2048", "3072", False), ("2048", "17408", False),
    ("4096", "8192", True), ("4096", "9216", True), ("4096", "30720", True), ("4096", "7168", False),
    ("4096", "31744", False),
    ("8192", "16384", True), ("8192", "61440", True), ("8192", "65536", False),
    ("16384", "32768", True), ("16384", "122880", True), ("16384", "131072", False),
])
def test_fargate_boundaries_of_each_size(cpu: str, memory: str, ok: bool) -> None:
    assert (problems(td(cpu=cpu, memory=memory)) == []) is ok


@pytest.mark.parametrize(("cpu", "memory", "ok"), [
    (256, 1536, False),   # 256 allows 512/1024/2048 only
    (512, 1536, False),   # step 1024
    (8192, 20480, True),  # 16384 + 4096
    (8192, 17408, False),
    (16384, 40960, True),  # 32768 + 8192
    (16384, 36864, False),
])
def test_fargate_steps(cpu: int, memory: int, ok: bool) -> None:
    assert (problems(td(cpu=str(cpu), memory=str(memory))) == []) is ok


def test_fargate_vcpu_and_gb_forms() -> None:
    assert problems(td(cpu="0.25 vCPU", memory="1 GB")) == []
    assert problems(td(cpu="1 vcpu", memory="2GB")) == []
    assert problems(td(cpu="3 vCPU", memory="8 GB")) == [
        "cpu: 3072 is not a Fargate CPU size (valid: 256, 512, 1024, 2048, 4096, 8192, 16384)"]
    assert problems(td(cpu="lots")) == ["cpu: 'lots' is not a CPU size (CPU units like \"256\", or \"0.25 vCPU\")"]


def test_fargate_requires_awsvpc_and_sizes() -> None:
    d = td(networkMode="bridge")
    del d["cpu"]
    assert problems(d) == ['networkMode: Fargate requires "awsvpc", got \'bridge\'',
                           "cpu: Fargate requires a task-level cpu"]


def test_ec2_only_skips_fargate_rules_but_needs_container_memory() -> None:
    d = td(requiresCompatibilities=["EC2"], networkMode="bridge")
    d.pop("cpu")
    d.pop("memory")
    assert problems(d) == ["containerDefinitions[0]: needs memory or memoryReservation when the task has no "
                           "task-level memory (app)"]
    d["containerDefinitions"][0]["memoryReservation"] = 256
    assert problems(d) == []
    del d["containerDefinitions"][0]["memoryReservation"]
    d["containerDefinitions"][0]["memory"] = 256
    assert problems(d) == []


@pytest.mark.parametrize(("cpu", "memory", "valid"), [
    ("256", "3072", "512, 1024, 2048"),
    ("512", "512", "1024, 2048, 3072, 4096"),
    ("1024", "9216", "2048–8192 in steps of 1024"),
    ("4096", "4096", "8192–30720 in steps of 1024"),
    ("8192", "18432", "16384–61440 in steps of 4096"),
    ("16384", "36864", "32768–122880 in steps of 8192"),
])
def test_a_wrong_fargate_memory_names_what_the_cpu_allows(cpu: str, memory: str, valid: str) -> None:
    assert problems(td(cpu=cpu, memory=memory)) == [
        f"memory: {memory} MiB is not valid with cpu {cpu} on Fargate (valid: {valid})"]


def test_an_unreadable_fargate_memory_is_named() -> None:
    assert problems(td(memory="lots")) == ["memory: 'lots' is not a memory size (MiB like \"512\", or \"0.5 GB\")"]


def test_validate_lists_every_problem_and_checks_the_load_balancer_target() -> None:
    d = td(memory="3072")
    with pytest.raises(BadInput) as info:
        taskdef.validate(d, "td.json", lb_container="app", lb_port=80)
    assert info.value.message == (
        "td.json: invalid task definition:\n"
        "  memory: 3072 MiB is not valid with cpu 256 on Fargate (valid: 512, 1024, 2048)\n"
        "  containerDefinitions[0].portMappings: the load balancer targets app:80, but the container maps 8080")
    with pytest.raises(BadInput, match=r"^task definition: invalid task definition:"):
        taskdef.validate(td(memory="3072"))
    taskdef.validate(td(), lb_container="app", lb_port=8080)


def test_at_least_one_essential_container() -> None:
    d = with_containers({"name": "a", "image": "x", "essential": False},
                        {"name": "b", "image": "x", "essential": False})
    assert problems(d) == ["containerDefinitions: at least one container must be essential "
                           "(essential defaults to true)"]
    assert problems(with_containers({"name": "a", "image": "x"}, {"name": "b", "image": "x", "essential": False})) == []


def test_container_names_unique_and_well_formed() -> None:
    d = with_containers({"name": "app", "image": "x"}, {"name": "app", "image": "y"},
                        {"name": "bad name", "image": "z"})
    assert problems(d) == [
        "containerDefinitions: container name 'app' is used 2 times (names must be unique)",
        "containerDefinitions[2].name: 'bad name' may only contain letters, digits, '-' and '_' (1–255)",
    ]


def test_no_containers_and_missing_image() -> None:
    assert problems(with_containers()) == ["containerDefinitions: at least one container is required"]
    assert problems(with_containers({"name": "app"})) == [
        "containerDefinitions[0].image: every container needs an image (app)"]
    assert problems(with_containers({"name": "app", "image": "x"}, {"image": "y"})) == [
        "containerDefinitions[1].name: every container needs a name"]


def test_sidecars_addressed_by_name() -> None:
    d = with_containers(
        {"name": "app", "image": "x", "portMappings": [{"containerPort": 8080}]},
        {"name": "envoy", "image": "y", "essential": False,
         "dependsOn": [{"containerName": "app", "condition": "START"}]},
    )
    assert problems(d) == []
    d["containerDefinitions"][1]["dependsOn"][0]["containerName"] = "ap"
    assert problems(d) == ["containerDefinitions[1].dependsOn[0].containerName: no container named 'ap' "
                           "(containers: app, envoy)"]


def test_load_balancer_container_and_port() -> None:
    d = with_containers({"name": "app", "image": "x", "portMappings": [{"containerPort": 8080}]},
                        {"name": "side", "image": "y", "essential": False})
    assert problems(d, lb_container="app", lb_port=8080) == []
    assert problems(d, lb_container="app", lb_port=80) == [
        "containerDefinitions[0].portMappings: the load balancer targets app:80, but the container maps 8080"]
    assert problems(d, lb_container="side") == [
        "containerDefinitions[1].portMappings: the load balancer targets container 'side', which maps no containerPort"]
    assert problems(d, lb_container="web") == [
        "containerDefinitions: the load balancer targets container 'web', which is not defined (containers: app, side)"]
    assert problems(d, lb_port=9000) == ["containerDefinitions: the load balancer targets port 9000, which no "
                                         "container maps"]


def test_awsvpc_host_port_must_match() -> None:
    d = td()
    d["containerDefinitions"][0]["portMappings"][0]["hostPort"] = 80
    assert problems(d) == ["containerDefinitions[0].portMappings[0].hostPort: must equal containerPort (8080) in "
                           "awsvpc mode, got 80"]


def test_health_check_command_form() -> None:
    d = td()
    d["containerDefinitions"][0]["healthCheck"] = {"command": ["curl", "-f", "http://localhost/"]}
    assert problems(d) == ["containerDefinitions[0].healthCheck.command: must start with \"CMD\" or \"CMD-SHELL\" "
                           "(app), got ['curl']"]


def test_family_name() -> None:
    assert problems(td(family="svc.prod")) == [
        "family: 'svc.prod' may only contain letters, digits, '-' and '_' (1–255)"]


def test_not_an_object() -> None:
    assert problems([]) == ["(top level): a task definition is a JSON object, not list"]  # type: ignore[arg-type]


def test_validate_does_not_modify_its_input() -> None:
    d = td()
    before = copy.deepcopy(d)
    taskdef.validate(d)
    assert d == before
