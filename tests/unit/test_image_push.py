"""push orchestration with fakes for the engine and ECR: decisions before pushing, retries on
transient errors (fake clock), login renewal, dry run. The real path is in
tests/integration/test_build_push.py."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError

from pipeline_py.clock import FakeClock
from pipeline_py.config import ImageConfig
from pipeline_py.errors import BadInput, OperationFailed
from pipeline_py.images.ecr import RemoteImage, TokenCache
from pipeline_py.images.push import (
    PushRequest,
    TagDecision,
    conflict_error,
    decide,
    is_auth_error,
    is_transient,
    push_image,
    registry_override,
)
from pipeline_py.report import Reporter

ACCOUNT_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
OURS = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def manifest_for(config_digest: str) -> str:
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"digest": config_digest}, "layers": []})


def client_error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


class FakeEcr:
    """Enough of ECR for push: repositories, tags → manifests, auth tokens."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.meta = SimpleNamespace(endpoint_url="https://ecr.fake", region_name="us-east-1")
        self.repos: dict[str, dict[str, Any]] = {}
        self.tags: dict[tuple[str, str], str] = {}  # (repo, tag) -> manifest text
        self.token_calls = 0
        self.created: list[dict[str, Any]] = []

    def add_repo(self, name: str, *, immutable: bool = True) -> None:
        self.repos[name] = {"repositoryName": name, "repositoryUri": f"{ACCOUNT_HOST}/{name}",
                            "registryId": "123456789012", "imageTagMutability": "IMMUTABLE" if immutable else "MUTABLE",
                            "imageScanningConfiguration": {"scanOnPush": True},
                            "encryptionConfiguration": {"encryptionType": "AES256"}}

    def describe_repositories(self, repositoryNames: list[str]) -> dict[str, Any]:
        name = repositoryNames[0]
        if name not in self.repos:
            raise client_error("RepositoryNotFoundException", "DescribeRepositories")
        return {"repositories": [self.repos[name]]}

    def create_repository(self, **kw: Any) -> dict[str, Any]:
        self.created.append(kw)
        self.add_repo(kw["repositoryName"], immutable=kw["imageTagMutability"] == "IMMUTABLE")
        return {"repository": self.repos[kw["repositoryName"]]}

    def batch_get_image(self, repositoryName: str, imageIds: list[dict[str, str]], **_: Any) -> dict[str, Any]:
        tag = imageIds[0]["imageTag"]
        text = self.tags.get((repositoryName, tag))
        if text is None:
            return {"images": [], "failures": [{"imageId": {"imageTag": tag}, "failureCode": "ImageNotFound"}]}
        return {"images": [{"imageId": {"imageTag": tag, "imageDigest": digest_of(text)}, "imageManifest": text}]}

    def describe_images(self, repositoryName: str, imageIds: list[dict[str, str]]) -> dict[str, Any]:
        digest = imageIds[0]["imageDigest"]
        tags = [t for (r, t), text in self.tags.items() if r == repositoryName and digest_of(text) == digest]
        if not tags:
            raise client_error("ImageNotFoundException", "DescribeImages")
        return {"imageDetails": [{"imageDigest": digest, "imageTags": tags}]}

    def get_authorization_token(self) -> dict[str, Any]:
        self.token_calls += 1
        return {"authorizationData": [{
            "authorizationToken": base64.b64encode(f"AWS:token-{self.token_calls}".encode()).decode(),
            "expiresAt": self.clock.utcnow() + timedelta(hours=12),
            "proxyEndpoint": f"https://{ACCOUNT_HOST}",
        }]}


class FakeApi:
    def __init__(self, ecr: FakeEcr, image_id: str) -> None:
        self.ecr = ecr
        self.image_id = image_id
        self.pushes: list[tuple[str, str, dict[str, str]]] = []
        self.tagged: list[tuple[str, str, str]] = []
        self.failures: list[str] = []  # error messages for the next pushes, in order

    def inspect_image(self, ref: str) -> dict[str, Any]:
        if ref != self.image_id:
            raise docker.errors.ImageNotFound(f"No such image: {ref}")
        return {"Id": self.image_id, "RepoDigests": []}

    def tag(self, image: str, repository: str, tag: str, force: bool = False) -> None:
        self.tagged.append((image, repository, tag))

    def push(self, repository: str, tag: str, **kw: Any) -> Iterator[dict[str, Any]]:
        self.pushes.append((repository, tag, kw["auth_config"]))
        if self.failures:
            yield {"errorDetail": {"message": self.failures.pop(0)}, "error": "x"}
            return
        text = manifest_for(self.image_id)
        self.ecr.tags[(repository.split("/", 1)[1], tag)] = text  # the registry + mirror, synchronously
        yield {"status": "Pushed", "id": "layer1", "progressDetail": {}}
        yield {"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest_of(text), "Size": 1}}


class FakeDocker:
    def __init__(self, ecr: FakeEcr, image_id: str = OURS) -> None:
        self.api = FakeApi(ecr, image_id)
        self.logins: list[dict[str, Any]] = []

    def login(self, **kw: Any) -> dict[str, Any]:
        self.logins.append(kw)
        return {"Status": "Login Succeeded"}


@pytest.fixture
def world() -> SimpleNamespace:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    ecr = FakeEcr(clock)
    return SimpleNamespace(clock=clock, ecr=ecr, docker=FakeDocker(ecr), cache=TokenCache(clock),
                           reporter=Reporter(io.StringIO(), timestamps=False))


def push(world: SimpleNamespace, tags: list[str], *, dry_run: bool = False, image: str | None = OURS,
         environ: dict[str, str] | None = None, **cfg: Any) -> dict[str, Any]:
    return push_image(
        PushRequest(repository="task-api", image_ref=image, tags=tags, config=ImageConfig(**cfg)),
        docker_client=world.docker, ecr_client=world.ecr, reporter=world.reporter, clock=world.clock,
        environ={"PIPELINE_PY_REGISTRY_OVERRIDE": "127.0.0.1:5999"} if environ is None else environ,
        dry_run=dry_run, token_cache=world.cache, verify_timeout=1,
    )


def test_decisions_per_tag() -> None:
    remote = {
        "same-config": RemoteImage("same-config", OTHER, config_digest=OURS),
        "same-digest": RemoteImage("same-digest", OTHER),
        "other": RemoteImage("other", OTHER, config_digest="sha256:" + "c" * 64),
    }
    tags = ["new", "same-config", "same-digest", "other"]
    assert [d.action for d in decide(tags, remote, OURS, {OTHER}, immutable=True)] == \
        ["push", "unchanged", "unchanged", "unchanged"]
    assert [d.action for d in decide(tags, remote, OURS, set(), immutable=True)] == \
        ["push", "unchanged", "conflict", "conflict"]
    assert [d.action for d in decide(tags, remote, OURS, set(), immutable=False)] == \
        ["push", "unchanged", "move", "move"]
    assert [d.action for d in decide(tags, remote, None, set(), immutable=True)] == \
        ["push", "exists", "exists", "exists"]


def test_conflict_error_names_tag_and_both_digests() -> None:
    err = conflict_error(f"{ACCOUNT_HOST}/task-api", [TagDecision("v1", "conflict", OTHER)], OURS, None)
    assert "'v1'" in err.message and OTHER in err.message and OURS in err.message
    assert "nothing was pushed" in err.message
    assert err.result["conflicts"] == [{"tag": "v1", "existing_digest": OTHER,
                                        "existing_image": f"{ACCOUNT_HOST}/task-api@{OTHER}"}]


@pytest.mark.parametrize("message", [
    "received unexpected HTTP status: 503 Service Unavailable",
    "Put https://x/v2/a/blobs/uploads/: net/http: TLS handshake timeout",
    "dial tcp 127.0.0.1:5000: connect: connection refused",
    "toomanyrequests: Rate exceeded",
    "unexpected EOF",
])
def test_transient_errors(message: str) -> None:
    assert is_transient(message)


@pytest.mark.parametrize("message", [
    "denied: requested access to the resource is denied",
    "tag invalid: The image tag 'v1' already exists in the 'task-api' repository and cannot be overwritten",
    "name unknown: The repository with name 'x' does not exist in the registry",
    "manifest invalid",
])
def test_permanent_errors(message: str) -> None:
    assert not is_transient(message)


def test_auth_errors() -> None:
    assert is_auth_error("unauthorized: authentication required")
    assert is_auth_error("denied: Your authorization token has expired. Reauthenticate and try again.")
    assert not is_auth_error("denied: requested access to the resource is denied")


def test_registry_override_sources_and_validation() -> None:
    assert registry_override(ImageConfig(), {}) is None
    assert registry_override(ImageConfig(), {"PIPELINE_PY_REGISTRY_OVERRIDE": "127.0.0.1:5000"}) == "127.0.0.1:5000"
    assert registry_override(ImageConfig(registry_override="reg.local:80"),
                             {"PIPELINE_PY_REGISTRY_OVERRIDE": "127.0.0.1:5000"}) == "reg.local:80"
    with pytest.raises(BadInput, match=r"\$PIPELINE_PY_REGISTRY_OVERRIDE.*host\[:port\]"):
        registry_override(ImageConfig(), {"PIPELINE_PY_REGISTRY_OVERRIDE": "http://127.0.0.1:5000"})
    with pytest.raises(BadInput, match=r"image\.registry_override"):
        registry_override(ImageConfig(registry_override="host/path"), {})


def test_first_push_creates_the_repository_logs_in_and_pins_the_digest(world: SimpleNamespace) -> None:
    out = push(world, ["abc", "main-1"], scan_on_push=False)
    assert world.ecr.created == [{
        "repositoryName": "task-api", "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": False}, "encryptionConfiguration": {"encryptionType": "AES256"},
        "tags": [{"Key": "managed-by", "Value": "pipeline-py"}],
    }]
    assert world.docker.logins == [{"username": "AWS", "password": "token-1", "registry": "127.0.0.1:5999",
                                    "reauth": True}]
    assert [(r, t) for r, t, _ in world.docker.api.pushes] == [("127.0.0.1:5999/task-api", "abc"),
                                                               ("127.0.0.1:5999/task-api", "main-1")]
    digest = digest_of(manifest_for(OURS))
    assert out["repository_uri"] == f"{ACCOUNT_HOST}/task-api"
    assert out["image"] == f"{ACCOUNT_HOST}/task-api@{digest}"
    assert out["tags_pushed"] == ["abc", "main-1"] and out["tags_unchanged"] == []
    assert out["repository_created"] is True and out["verified"] is True


def test_kms_encryption_is_passed_on_create(world: SimpleNamespace) -> None:
    push(world, ["abc"], encryption="KMS", kms_key="arn:aws:kms:us-east-1:123456789012:key/k")
    assert world.ecr.created[0]["encryptionConfiguration"] == {"encryptionType": "KMS",
                                                               "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/k"}


def test_without_override_the_bytes_go_to_the_ecr_host(world: SimpleNamespace) -> None:
    push(world, ["abc"], environ={})
    assert world.docker.api.pushes[0][0] == f"{ACCOUNT_HOST}/task-api"
    assert world.docker.logins[0]["registry"] == ACCOUNT_HOST


def test_an_immutable_conflict_pushes_nothing(world: SimpleNamespace) -> None:
    world.ecr.add_repo("task-api")
    world.ecr.tags[("task-api", "v2")] = manifest_for("sha256:" + "c" * 64)
    with pytest.raises(OperationFailed) as exc:
        push(world, ["v1", "v2"])
    assert "'v2'" in exc.value.message and OURS in exc.value.message
    assert digest_of(manifest_for("sha256:" + "c" * 64)) in exc.value.message
    assert world.docker.api.pushes == [] and world.docker.logins == []
    assert ("task-api", "v1") not in world.ecr.tags


def test_the_same_image_again_is_a_no_op(world: SimpleNamespace) -> None:
    first = push(world, ["v1", "v2"])
    world.docker.api.pushes.clear()
    again = push(world, ["v1", "v2"])
    assert world.docker.api.pushes == []
    assert again["tags_unchanged"] == ["v1", "v2"] and again["tags_pushed"] == []
    assert again["image"] == first["image"] and again["repository_created"] is False


def test_a_new_tag_for_a_known_image_is_pushed_and_the_rest_unchanged(world: SimpleNamespace) -> None:
    push(world, ["v1"])
    out = push(world, ["v1", "rc"])
    assert out["tags_pushed"] == ["rc"] and out["tags_unchanged"] == ["v1"]


def test_a_mutable_repository_moves_the_tag(world: SimpleNamespace) -> None:
    world.ecr.add_repo("task-api", immutable=False)
    world.ecr.tags[("task-api", "main")] = manifest_for("sha256:" + "c" * 64)
    out = push(world, ["main"], tag_immutability=False)
    assert out["tags_moved"] == ["main"] and out["tags_pushed"] == ["main"]
    assert world.ecr.tags[("task-api", "main")] == manifest_for(OURS)


def test_transient_push_errors_are_retried_with_backoff(world: SimpleNamespace) -> None:
    world.docker.api.failures = ["received unexpected HTTP status: 503 Service Unavailable",
                                 "dial tcp: connection refused"]
    out = push(world, ["v1"])
    assert out["tags_pushed"] == ["v1"]
    assert len(world.docker.api.pushes) == 3
    assert world.clock.sleeps[:2] == [1.0, 2.0]


def test_retries_are_bounded(world: SimpleNamespace) -> None:
    world.docker.api.failures = ["received unexpected HTTP status: 502 Bad Gateway"] * 10
    with pytest.raises(OperationFailed, match=r"after 3 attempts.*502"):
        push(world, ["v1"], push_retries=2)
    assert len(world.docker.api.pushes) == 3 and world.clock.sleeps == [1.0, 2.0]


def test_a_permanent_error_is_not_retried(world: SimpleNamespace) -> None:
    world.docker.api.failures = ["denied: requested access to the resource is denied"]
    with pytest.raises(OperationFailed, match="denied"):
        push(world, ["v1"])
    assert len(world.docker.api.pushes) == 1 and world.clock.sleeps == []


def test_a_refused_login_is_renewed_once(world: SimpleNamespace) -> None:
    world.docker.api.failures = ["unauthorized: authentication required"]
    push(world, ["v1"])
    assert world.ecr.token_calls == 2
    assert [a["password"] for _, _, a in world.docker.api.pushes] == ["token-1", "token-2"]


def test_the_token_is_cached_across_pushes(world: SimpleNamespace) -> None:
    push(world, ["v1"])
    world.docker.api.image_id = "sha256:" + "d" * 64
    push(world, ["v2"], image="sha256:" + "d" * 64)
    assert world.ecr.token_calls == 1


def test_dry_run_changes_nothing_and_shows_the_plan(world: SimpleNamespace) -> None:
    out = push(world, ["v1", "main-3"], dry_run=True)
    assert world.ecr.created == [] and world.docker.api.pushes == [] and world.docker.logins == []
    assert out["repository_uri"] == f"{ACCOUNT_HOST}/task-api" and out["repository_exists"] is False
    assert out["would_create"]["image_tag_mutability"] == "IMMUTABLE"
    assert out["tags_to_push"] == ["v1", "main-3"]


def test_dry_run_reports_a_conflict_as_the_real_run_would(world: SimpleNamespace) -> None:
    world.ecr.add_repo("task-api")
    world.ecr.tags[("task-api", "v1")] = manifest_for("sha256:" + "c" * 64)
    with pytest.raises(OperationFailed, match="'v1'"):
        push(world, ["v1"], dry_run=True)


def test_a_missing_local_image_is_bad_input(world: SimpleNamespace) -> None:
    with pytest.raises(BadInput, match="not in the Docker engine"):
        push(world, ["v1"], image="sha256:" + "9" * 64)
    with pytest.raises(BadInput, match="run `pipeline-py build`"):
        push(world, ["v1"], image=None)
