"""build → push on the real path: the Docker engine builds, ``get_authorization_token`` from the
local stack's ECR logs in to a real docker-registry, the registry's notifications make moto's ECR
list the pushed image, and the result pins the image by digest."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from pipeline_py.images.ecr import MANIFEST_MEDIA_TYPES
from pipeline_py.images.state import read_last_build, read_last_push
from pipeline_py.local.busybox import ensure_busybox
from pipeline_py.local.stack import wait_until
from tests.conftest import REPO, run_cli
from tests.integration.conftest import ECR_HOST, write_config

pytestmark = [pytest.mark.docker]
MOTO_PASSWORD = "123456789012-auth-token"


def ecr() -> Any:
    return boto3.client("ecr")


def registry_manifest(registry: dict[str, Any], repo: str, ref: str, *, auth: bool = True) -> requests.Response:
    return requests.get(f"{registry['url']}/v2/{repo}/manifests/{ref}",
                        headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)},
                        auth=("AWS", MOTO_PASSWORD) if auth else None, timeout=10)


def tag_digest(repo: str, tag: str) -> str | None:
    images = ecr().batch_get_image(repositoryName=repo, imageIds=[{"imageTag": tag}],
                                   acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES))["images"]
    return images[0]["imageId"]["imageDigest"] if images else None


def cli(config: Path, *argv: str) -> Any:
    return run_cli("--config", str(config), "--json", *argv)


def test_sample_app_builds_pushes_through_the_ecr_login_and_pins_the_digest(
    registry_env: dict[str, Any], sample_app_dir: Path, tmp_path: Path, unique_repo: str, docker_client: Any,
) -> None:
    config = write_config(tmp_path, {"repository": unique_repo, "context": str(sample_app_dir),
                                     "dockerfile": str(sample_app_dir / "Dockerfile")})
    built = cli(config, "build", "--build-arg", "APP_VERSION=it-1", "--tag", "it-extra")
    assert built.code == 0, built.stderr
    b = built.json
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert b["tags"][0].startswith(head[:12]) and b["tags"][-1] == "it-extra"
    assert "Step 1/" in built.stderr and "Successfully built" in built.stderr
    image = docker_client.images.get(b["image_id"])
    assert sorted(image.tags) == sorted(b["references"]) == sorted(f"{unique_repo}:{t}" for t in b["tags"])
    labels = image.labels
    assert labels["org.opencontainers.image.revision"] == head
    assert labels["org.opencontainers.image.version"] == b["tags"][0]
    assert labels["org.opencontainers.image.title"] == "task-api"
    assert labels["org.opencontainers.image.created"].endswith("Z")
    assert "APP_VERSION=it-1" in image.attrs["Config"]["Env"]
    assert image.attrs["Size"] < 5_000_000
    assert read_last_build(tmp_path)["image_id"] == b["image_id"]

    pushed = cli(config, "push")
    assert pushed.code == 0, pushed.stderr
    p = pushed.json
    uri = f"{ECR_HOST}/{unique_repo}"
    assert p["repository_uri"] == uri and p["repository_created"] is True
    assert p["image"] == f"{uri}@{p['digest']}" and p["digest"].startswith("sha256:")
    assert p["tags_pushed"] == b["tags"] and p["tags_unchanged"] == [] and p["verified"] is True
    assert MOTO_PASSWORD not in pushed.stdout + pushed.stderr

    repo = ecr().describe_repositories(repositoryNames=[unique_repo])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"]["encryptionType"] == "AES256"
    details = ecr().describe_images(repositoryName=unique_repo)["imageDetails"]
    assert [(d["imageDigest"], sorted(d["imageTags"])) for d in details] == [(p["digest"], sorted(b["tags"]))]

    assert registry_manifest(registry_env, unique_repo, "it-extra", auth=False).status_code == 401
    stored = registry_manifest(registry_env, unique_repo, "it-extra")
    assert stored.status_code == 200 and stored.headers["Docker-Content-Digest"] == p["digest"]
    assert json.loads(stored.content)["config"]["digest"] == b["image_id"]

    last = read_last_push(tmp_path)
    assert last is not None and last["image"] == p["image"] and last["tags"] == b["tags"]

    again = cli(config, "push")
    assert again.code == 0, again.stderr
    assert again.json["tags_unchanged"] == b["tags"] and again.json["tags_pushed"] == []
    assert again.json["image"] == p["image"] and again.json["repository_created"] is False


def test_an_immutable_tag_naming_another_image_fails_before_anything_is_pushed(
    registry_env: dict[str, Any], tiny_app: Callable[..., Path], unique_repo: str,
) -> None:
    config = tiny_app(unique_repo, "first")
    assert cli(config, "build", "--tag", "shared").code == 0
    first = cli(config, "push")
    assert first.code == 0, first.stderr
    old_digest = first.json["digest"]

    config = tiny_app(unique_repo, "second")
    rebuilt = cli(config, "build", "--tag", "shared", "--tag", "only-second")
    assert rebuilt.code == 0, rebuilt.stderr
    conflict = cli(config, "push")
    assert conflict.code == 1
    err = conflict.json
    assert err["error"] == "failed" and "nothing was pushed" in err["message"]
    assert "'shared'" in err["message"] and old_digest in err["message"]
    assert rebuilt.json["image_id"] in err["message"]
    assert {"tag": "shared", "existing_digest": old_digest,
            "existing_image": f"{ECR_HOST}/{unique_repo}@{old_digest}"} in err["conflicts"]

    assert tag_digest(unique_repo, "shared") == old_digest
    assert tag_digest(unique_repo, "only-second") is None
    assert registry_manifest(registry_env, unique_repo, "only-second").status_code == 404
    assert read_last_push(config.parent)["digest"] == old_digest


def test_a_mutable_repository_moves_the_tag(
    registry_env: dict[str, Any], tiny_app: Callable[..., Path], unique_repo: str,
) -> None:
    config = tiny_app(unique_repo, "one", tag_immutability=False)
    assert cli(config, "build", "--tag", "latest").code == 0
    one = cli(config, "push").json
    config = tiny_app(unique_repo, "two", tag_immutability=False)
    assert cli(config, "build", "--tag", "latest").code == 0
    two = cli(config, "push")
    assert two.code == 0, two.stderr
    assert two.json["tags_moved"] == ["latest"] and two.json["digest"] != one["digest"]
    assert ecr().describe_repositories(repositoryNames=[unique_repo])["repositories"][0]["imageTagMutability"] \
        == "MUTABLE"
    assert wait_until(lambda: tag_digest(unique_repo, "latest") == two.json["digest"], timeout=30)


def test_dry_runs_change_nothing(
    registry_env: dict[str, Any], tiny_app: Callable[..., Path], unique_repo: str, docker_client: Any,
) -> None:
    config = tiny_app(unique_repo)
    plan = cli(config, "--dry-run", "build", "--tag", "v1", "--build-arg", "A=1")
    assert plan.code == 0, plan.stderr
    assert plan.json["dry_run"] is True and plan.json["tags"][-1] == "v1" and plan.json["build_args"] == {"A": "1"}
    assert "org.opencontainers.image.created" in plan.json["labels"]
    assert not [i for i in docker_client.images.list() if any(t.startswith(unique_repo + ":") for t in i.tags)]
    assert read_last_build(config.parent) is None

    push_plan = cli(config, "--dry-run", "push", "--tag", "v1")
    assert push_plan.code == 0, push_plan.stderr
    out = push_plan.json
    assert out["repository_uri"] == f"{ECR_HOST}/{unique_repo}" and out["repository_exists"] is False
    assert out["would_create"]["image_tag_mutability"] == "IMMUTABLE" and "v1" in out["tags_to_push"]
    assert ecr().describe_repositories()["repositories"] == []


def test_a_failing_dockerfile_exits_1_showing_the_failing_step_and_its_output(
    tmp_path: Path, unique_repo: str,
) -> None:
    ctx = tmp_path / "ctx"
    ensure_busybox(ctx)
    (ctx / "Dockerfile").write_text(
        "FROM scratch\nCOPY bin/busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "sh", "-c", "echo about to fail; echo to stderr >&2; exit 3"]\n'
        "COPY never /never\n"
    )
    config = write_config(tmp_path, {"repository": unique_repo, "context": "ctx", "dockerfile": "ctx/Dockerfile"})
    r = run_cli("--config", str(config), "build")
    assert r.code == 1
    assert "docker build failed at Step 3/" in r.stderr and "exit 3" in r.stderr
    assert "| about to fail" in r.stderr and "| to stderr" in r.stderr
    assert "returned a non-zero code: 3" in r.stderr and "Traceback" not in r.stderr

    j = run_cli("--config", str(config), "--json", "build")
    assert j.code == 1
    assert j.json["failed_step"].startswith("Step 3/") and j.json["step_number"] == 3
    assert "about to fail" in j.json["step_output"] and "non-zero code: 3" in j.json["build_error"]
    assert read_last_build(tmp_path) is None


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({"context": "missing-dir"}, "image.context: "),
        ({"context": "ctx", "dockerfile": "ctx/Nope.Dockerfile"}, "image.dockerfile: "),
        ({"context": "ctx", "dockerfile": "ctx/Dockerfile", "repository": "Bad_Name"}, "image.repository: "),
    ],
)
def test_bad_paths_and_names_exit_2_with_one_clear_message(tmp_path: Path, image: dict[str, str],
                                                           expected: str) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    config = write_config(tmp_path, {"repository": "it-bad", **image})
    r = run_cli("--config", str(config), "build")
    assert r.code == 2
    errors = [line for line in r.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and expected in errors[0] and "Traceback" not in r.stderr


def test_a_dockerfile_syntax_error_is_bad_input_naming_file_and_line(
    tiny_app: Callable[..., Path], unique_repo: str,
) -> None:
    config = tiny_app(unique_repo, dockerfile="FROM scratch\nCOPPY hello.txt /\n")
    r = run_cli("--config", str(config), "build")
    assert r.code == 2
    assert f"{config.parent / 'ctx' / 'Dockerfile'}:2: unknown instruction: COPPY" in r.stderr


def test_target_stage_cache_from_and_no_cache(
    tiny_app: Callable[..., Path], unique_repo: str, docker_client: Any,
) -> None:
    dockerfile = ("FROM scratch AS base\nCOPY hello.txt /hello.txt\nLABEL stage=base\n"
                  "FROM base AS final\nLABEL stage=final\n")
    config = tiny_app(unique_repo, "staged", dockerfile=dockerfile)
    base = cli(config, "build", "--target", "base", "--tag", "base")
    assert base.code == 0, base.stderr
    labels = docker_client.images.get(base.json["image_id"]).labels
    assert labels["stage"] == "base" and labels["org.opencontainers.image.version"] == base.json["tags"][0]

    final = cli(config, "build", "--tag", "final", "--cache-from", f"{unique_repo}:base")
    assert final.code == 0, final.stderr
    assert docker_client.images.get(final.json["image_id"]).labels["stage"] == "final"
    assert final.json["cached_steps"] >= 2

    fresh = cli(config, "build", "--tag", "fresh", "--no-cache", "--cache-from", f"{unique_repo}:nope")
    assert fresh.code == 0 and fresh.json["cached_steps"] == 0
    assert f"--cache-from {unique_repo}:nope: not present" in fresh.stderr


def test_pushes_by_other_clients_reach_ecr_and_a_bad_event_does_not_block_later_ones(
    registry_env: dict[str, Any], tiny_app: Callable[..., Path], unique_repo: str, docker_client: Any,
) -> None:
    """The mirror is the registry's notification endpoint: any push (here straight through the
    engine) shows up in describe_images; a push to a repository ECR lacks is reported, not retried."""
    config = tiny_app(unique_repo, "direct")
    image_id = cli(config, "build", "--tag", "direct").json["image_id"]
    ecr().create_repository(repositoryName=unique_repo)
    host = registry_env["host"]
    auth = {"username": "AWS", "password": MOTO_PASSWORD}
    docker_client.api.tag(image_id, f"{host}/{unique_repo}-orphan", "x")
    docker_client.api.tag(image_id, f"{host}/{unique_repo}", "direct")
    orphan = list(docker_client.api.push(f"{host}/{unique_repo}-orphan", tag="x", stream=True, decode=True,
                                         auth_config=auth))
    assert not [c for c in orphan if "error" in c]
    out = list(docker_client.api.push(f"{host}/{unique_repo}", tag="direct", stream=True, decode=True,
                                      auth_config=auth))
    digest = next(c["aux"]["Digest"] for c in out if "aux" in c)
    assert wait_until(lambda: tag_digest(unique_repo, "direct") == digest, timeout=30)
    docker_client.api.remove_image(f"{host}/{unique_repo}-orphan:x")


def test_rebuilding_a_clean_commit_gives_the_same_image_and_pushing_it_again_is_a_no_op(
    registry_env: dict[str, Any], tiny_app: Callable[..., Path], unique_repo: str,
) -> None:
    config = tiny_app(unique_repo, "committed")
    repo = config.parent
    git = ["git", "-C", str(repo), "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / ".gitignore").write_text(".pipeline-py/\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "c1"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()

    first = cli(config, "build")
    assert first.code == 0, first.stderr
    assert first.json["tags"] == [sha[:12]]
    assert cli(config, "push").code == 0
    second = cli(config, "build")
    assert second.json["image_id"] == first.json["image_id"]
    assert second.json["cached_steps"] == second.json["steps"] - 1  # every step after FROM
    again = cli(config, "push")
    assert again.code == 0 and again.json["tags_unchanged"] == [sha[:12]]
