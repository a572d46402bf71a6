"""``push``: put a local image into ECR under every tag and return the pinned reference.

The order matters and is the point of this module:

1. the repository is described (created if missing, with the configured immutability, scan on
   push and encryption);
2. every tag is looked up in ECR *before anything is pushed*: a tag naming this very image is
   ``unchanged`` (a no-op); a tag naming another image is a conflict when the repository is
   immutable: all conflicts are reported at once and nothing is pushed, so no tag set is ever
   half-pushed; in a mutable repository the tag moves;
3. login with the ``get_authorization_token`` credentials (cached until expiry), then each tag is
   pushed with retries on transient errors; an expired/refused login is renewed once;
4. the result pins the image by digest: ``<repository_uri>@sha256:…``, which never drifts when a
   tag moves.

The ECR repository URI is the identity in every result. A *registry override* (``host:port``,
from ``image.registry_override`` or ``$PIPELINE_PY_REGISTRY_OVERRIDE``) changes only which host
receives the bytes — the local stack's registry standing in for ECR's data plane.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
import requests

from pipeline_py.clock import Clock
from pipeline_py.config import ImageConfig
from pipeline_py.errors import BadInput, OperationFailed
from pipeline_py.images import ecr
from pipeline_py.report import Reporter

OVERRIDE_ENV = "PIPELINE_PY_REGISTRY_OVERRIDE"
_HOST_PORT = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?$")

TRANSIENT_MARKERS = (
    "connection refused", "connection reset", "broken pipe", "i/o timeout", "timeout", "timed out",
    "tls handshake", "unexpected eof", ": eof", "502 bad gateway", "503 service unavailable",
    "504 gateway", "500 internal server error", "received unexpected http status: 5",
    "toomanyrequests", "too many requests", "request canceled", "temporary failure", "blob upload unknown",
    "server misbehaving",
)
AUTH_MARKERS = (
    "unauthorized", "authentication required", "no basic auth credentials", "authorization token has expired",
    "denied: your authorization token", "401 unauthorized",
)
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
VERIFY_TIMEOUT = 30.0

T = TypeVar("T")


def is_transient(message: str) -> bool:
    text = message.lower()
    return any(m in text for m in TRANSIENT_MARKERS)


def is_auth_error(message: str) -> bool:
    text = message.lower()
    return any(m in text for m in AUTH_MARKERS)


def registry_override(cfg: ImageConfig, environ: Mapping[str, str]) -> str | None:
    """``image.registry_override`` or ``$PIPELINE_PY_REGISTRY_OVERRIDE``, validated as host[:port]."""
    value, where = cfg.registry_override, "image.registry_override"
    if not value:
        value, where = environ.get(OVERRIDE_ENV) or None, f"${OVERRIDE_ENV}"
    if not value:
        return None
    value = value.strip().rstrip("/")
    if "://" in value or not _HOST_PORT.fullmatch(value):
        raise BadInput(f"{where}: {value!r} is not host[:port] (e.g. 127.0.0.1:5000; no scheme, no path)")
    return value


@dataclass(frozen=True)
class TagDecision:
    tag: str
    action: str  # push | unchanged | move | conflict | exists (dry run without a local image)
    existing_digest: str | None = None


def decide(
    tags: Sequence[str],
    remote: Mapping[str, ecr.RemoteImage],
    image_id: str | None,
    known_digests: set[str],
    *,
    immutable: bool,
) -> list[TagDecision]:
    """What to do with each tag, from what ECR says it names now. ``known_digests`` are the
    manifest digests this image already has in the target repository (docker's RepoDigests)."""
    out = []
    for tag in tags:
        have = remote.get(tag)
        if have is None:
            out.append(TagDecision(tag, "push"))
        elif image_id is None:
            out.append(TagDecision(tag, "exists", have.digest))
        elif have.digest in known_digests or (have.config_digest is not None and have.config_digest == image_id):
            out.append(TagDecision(tag, "unchanged", have.digest))
        elif immutable:
            out.append(TagDecision(tag, "conflict", have.digest))
        else:
            out.append(TagDecision(tag, "move", have.digest))
    return out


def conflict_error(repository_uri: str, decisions: Sequence[TagDecision], image_id: str | None,
                   local_digest: str | None) -> OperationFailed:
    conflicts = [d for d in decisions if d.action == "conflict"]
    ours = local_digest or "not in this repository yet"
    lines = [f"tag {d.tag!r} already names {d.existing_digest} in {repository_uri}; "
             f"this image is {image_id} (manifest digest: {ours})" for d in conflicts]
    first = conflicts[0]
    message = (
        f"the repository's tags are immutable and {len(conflicts)} of them already name another image; "
        "nothing was pushed:\n  " + "\n  ".join(lines)
        + f"\n  Deploy the existing image ({repository_uri}@{first.existing_digest}), or build from a new "
        "commit / push under a new --tag."
    )
    return OperationFailed(message, result={
        "repository_uri": repository_uri,
        "image_id": image_id,
        "local_digest": local_digest,
        "conflicts": [{"tag": d.tag, "existing_digest": d.existing_digest,
                       "existing_image": f"{repository_uri}@{d.existing_digest}"} for d in conflicts],
    })


class PushError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.transient = is_transient(message)
        self.auth = is_auth_error(message)


def with_retries(
    fn: Callable[[], T],
    *,
    retries: int,
    sleep: Callable[[float], None],
    reporter: Reporter,
    what: str,
    on_auth_error: Callable[[], None] | None = None,
) -> T:
    """Run ``fn``; on a transient ``PushError`` wait (exponential backoff) and try again, at most
    ``retries`` more times. An authentication error calls ``on_auth_error`` (renew the login)
    once and retries immediately. Anything else is raised as ``OperationFailed``."""
    attempt = 0
    renewed = False
    while True:
        try:
            return fn()
        except PushError as exc:
            if exc.auth and on_auth_error is not None and not renewed:
                renewed = True
                reporter.warn(f"{what}: registry refused the credentials ({exc.message}); logging in again")
                on_auth_error()
                continue
            if not exc.transient or attempt >= retries:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise OperationFailed(f"{what} failed{tries}: {exc.message}",
                                      result={"transient": exc.transient}) from None
            delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt))
            attempt += 1
            reporter.warn(f"{what}: {exc.message} (transient); retry {attempt}/{retries} in {delay:.0f}s")
            sleep(delay)


_LAYER_DONE = ("Pushed", "Layer already exists", "Mounted from")


def push_tag(client: Any, repository: str, tag: str, auth: dict[str, str], reporter: Reporter) -> str:
    """Push ``repository:tag`` through the engine; return the manifest digest the registry stored."""
    digest: str | None = None
    try:
        for chunk in client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail") or {}
                raise PushError(str(detail.get("message") or chunk.get("error")))
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
            status = str(chunk.get("status") or "")
            if status.startswith(_LAYER_DONE) and chunk.get("id"):
                reporter.detail(f"{chunk['id']}: {status}")
            elif "digest: sha256:" in status:
                reporter.detail(status)
                m = re.search(r"digest: (sha256:[0-9a-f]{64})", status)
                digest = digest or (m.group(1) if m else None)
    except docker.errors.APIError as exc:
        raise PushError(str(exc.explanation or exc)) from None
    except (requests.RequestException, docker.errors.DockerException) as exc:
        raise PushError(f"connection to the Docker engine failed: {exc}") from None
    if not digest:
        raise PushError(f"the engine reported no digest for {repository}:{tag}")
    return digest


@dataclass
class LocalImage:
    id: str
    repo_digests: list[str]

    def digests_in(self, repository: str) -> set[str]:
        out = set()
        for ref in self.repo_digests:
            name, _, digest = ref.partition("@")
            if name == repository and digest:
                out.add(digest)
        return out


def local_image(client: Any, ref: str) -> LocalImage | None:
    try:
        attrs = client.api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        raise OperationFailed(f"cannot inspect image {ref}: {exc.explanation or exc}") from None
    return LocalImage(id=attrs["Id"], repo_digests=list(attrs.get("RepoDigests") or []))


@dataclass
class PushRequest:
    repository: str
    image_ref: str | None
    tags: list[str]
    config: ImageConfig


def push_image(
    request: PushRequest,
    *,
    docker_client: Any,
    ecr_client: Any,
    reporter: Reporter,
    clock: Clock,
    environ: Mapping[str, str],
    dry_run: bool = False,
    token_cache: ecr.TokenCache | None = None,
    verify_timeout: float = VERIFY_TIMEOUT,
) -> dict[str, Any]:
    cfg = request.config
    cache = token_cache or ecr.DEFAULT_TOKEN_CACHE
    override = registry_override(cfg, environ)
    started = clock.monotonic()
    image = local_image(docker_client, request.image_ref) if (request.image_ref and docker_client) else None
    if image is None and not dry_run:
        raise BadInput(f"image {request.image_ref} is not in the Docker engine; run `pipeline-py build` first"
                       if request.image_ref else "no image to push: run `pipeline-py build` or pass --image")

    repo = ecr.describe_repository(ecr_client, request.repository)
    would_create = repo is None
    if repo is None:
        if dry_run:
            host = cache.credentials(ecr_client).registry_host
            repo = ecr.Repository(name=request.repository, uri=f"{host}/{request.repository}",
                                  tag_immutable=cfg.tag_immutability, scan_on_push=cfg.scan_on_push,
                                  encryption=cfg.encryption, kms_key=cfg.kms_key, exists=False)
        else:
            repo = ecr.ensure_repository(ecr_client, request.repository, cfg, reporter)
    else:
        for line in ecr.settings_drift(repo, cfg):
            reporter.warn(f"ECR repository {repo.name}: {line}")

    push_host = override or repo.registry_host
    push_repo = f"{push_host}/{repo.name}"
    if override:
        reporter.info(f"registry override: bytes go to {push_host}; the image is known as {repo.uri}")
    remote = ecr.remote_tags(ecr_client, repo.name, request.tags, repo.registry_id) if repo.exists else {}
    known = image.digests_in(push_repo) if image else set()
    decisions = decide(request.tags, remote, image.id if image else None, known, immutable=repo.tag_immutable)
    if any(d.action == "conflict" for d in decisions):
        raise conflict_error(repo.uri, decisions, image.id if image else None, next(iter(known), None))

    if dry_run:
        return _dry_run_plan(repo, cfg, push_host, image, request.image_ref, decisions, would_create, reporter)

    assert image is not None
    to_push = [d for d in decisions if d.action in ("push", "move")]
    digests: dict[str, str] = {}
    if to_push:
        auth = _login(docker_client, ecr_client, cache, push_host, reporter, cfg.push_retries, clock)

        def renew() -> None:
            cache.invalidate(ecr_client)
            auth.update(_login(docker_client, ecr_client, cache, push_host, reporter, cfg.push_retries, clock))

        for d in to_push:
            docker_client.api.tag(image.id, push_repo, d.tag, force=True)
            verb = "moving" if d.action == "move" else "pushing"
            reporter.step(f"{verb} {push_repo}:{d.tag}")
            def push_one(tag: str = d.tag) -> str:
                return push_tag(docker_client, push_repo, tag, dict(auth), reporter)

            digests[d.tag] = with_retries(
                push_one,
                retries=cfg.push_retries, sleep=clock.sleep, reporter=reporter,
                what=f"push {push_repo}:{d.tag}", on_auth_error=renew,
            )
    distinct = set(digests.values())
    if len(distinct) > 1:
        raise OperationFailed(f"the tags of one image were stored under different digests: {digests}",
                              result={"digests": digests})
    unchanged = [d for d in decisions if d.action == "unchanged"]
    digest = next(iter(distinct)) if distinct else unchanged[0].existing_digest
    assert digest is not None
    for d in unchanged:
        reporter.detail(f"{d.tag}: unchanged (already {d.existing_digest})")
    verified = ecr.wait_for_image(ecr_client, repo.name, digest, request.tags, clock, timeout=verify_timeout)
    if not verified:
        reporter.warn(f"ECR does not list {digest} with tags {', '.join(request.tags)} after {verify_timeout:.0f}s")
    pinned = f"{repo.uri}@{digest}"
    reporter.info(f"pushed {pinned}")
    return {
        "repository_uri": repo.uri,
        "digest": digest,
        "image": pinned,
        "image_id": image.id,
        "registry": push_host,
        "tags": list(request.tags),
        "tags_pushed": [d.tag for d in to_push],
        "tags_unchanged": [d.tag for d in unchanged],
        "tags_moved": [d.tag for d in to_push if d.action == "move"],
        "repository_created": repo.created,
        "verified": verified,
        "duration_seconds": round(clock.monotonic() - started, 3),
    }


def _dry_run_plan(repo: ecr.Repository, cfg: ImageConfig, push_host: str, image: LocalImage | None,
                  image_ref: str | None, decisions: list[TagDecision], would_create: bool,
                  reporter: Reporter) -> dict[str, Any]:
    if image is None:
        reporter.warn(f"no local image ({image_ref or 'nothing built yet'}); showing the tags only")
    for d in decisions:
        reporter.detail(f"{d.tag}: {d.action}" + (f" (now {d.existing_digest})" if d.existing_digest else ""))
    def tags_of(*actions: str) -> list[str]:
        return [d.tag for d in decisions if d.action in actions]

    plan: dict[str, Any] = {
        "dry_run": True,
        "repository_uri": repo.uri,
        "repository_exists": not would_create,
        "registry": push_host,
        "image_id": image.id if image else None,
        "tags_to_push": tags_of("push", "move"),
        "tags_unchanged": tags_of("unchanged"),
        "tags_moved": tags_of("move"),
        "tags_existing": tags_of("exists"),
    }
    if would_create:
        plan["would_create"] = {"name": repo.name,
                                "image_tag_mutability": "IMMUTABLE" if cfg.tag_immutability else "MUTABLE",
                                "scan_on_push": cfg.scan_on_push, "encryption": cfg.encryption,
                                "kms_key": cfg.kms_key}
    return plan


def _login(docker_client: Any, ecr_client: Any, cache: ecr.TokenCache, host: str, reporter: Reporter,
           retries: int, clock: Clock) -> dict[str, str]:
    creds = cache.credentials(ecr_client)
    reporter.redact.add(creds.password)

    def attempt() -> None:
        try:
            docker_client.login(username=creds.username, password=creds.password, registry=host, reauth=True)
        except docker.errors.APIError as exc:
            raise PushError(str(exc.explanation or exc)) from None
        except requests.RequestException as exc:
            raise PushError(f"connection to the Docker engine failed: {exc}") from None

    with_retries(attempt, retries=retries, sleep=clock.sleep, reporter=reporter, what=f"login to {host}")
    reporter.detail(f"logged in to {host} as {creds.username} (ECR authorization token)")
    return {"username": creds.username, "password": creds.password, "serveraddress": host}
