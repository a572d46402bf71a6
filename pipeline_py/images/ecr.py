"""The ECR control plane: registry login (token cache), repository ensure, and what a tag names.

Login credentials come from ``ecr:GetAuthorizationToken``: a base64 ``AWS:<password>`` valid for
12 hours. One token serves every push of the process until shortly before it expires; a token
that is already expired when issued (moto's fixed 2015 expiry) is used once and not cached.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from pipeline_py.aws import error_code
from pipeline_py.clock import Clock, Deadline, SystemClock
from pipeline_py.config import ImageConfig
from pipeline_py.errors import OperationFailed
from pipeline_py.report import Reporter

MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
REFRESH_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class RegistryCredentials:
    username: str
    password: str = field(repr=False)
    proxy_endpoint: str = ""
    expires_at: datetime | None = None

    @property
    def registry_host(self) -> str:
        return urlsplit(self.proxy_endpoint).netloc or self.proxy_endpoint


def decode_authorization_token(token: str) -> tuple[str, str]:
    """``base64("AWS:<password>")`` → ``("AWS", "<password>")``."""
    try:
        raw = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise OperationFailed("ECR returned an authorization token that is not base64 'user:password'") from None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise OperationFailed("ECR returned an authorization token that is not 'user:password'")
    return user, password


class TokenCache:
    """``get_authorization_token`` answers, reused until ``margin`` seconds before they expire."""

    def __init__(self, clock: Clock | None = None, margin: float = REFRESH_MARGIN_SECONDS) -> None:
        self.clock = clock or SystemClock()
        self.margin = margin
        self._entries: dict[tuple[str, str], RegistryCredentials] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(client: Any) -> tuple[str, str]:
        return (str(client.meta.endpoint_url), str(client.meta.region_name))

    def _fresh(self, creds: RegistryCredentials) -> bool:
        if creds.expires_at is None:
            return False
        return (creds.expires_at - self.clock.utcnow()).total_seconds() > self.margin

    def credentials(self, client: Any) -> RegistryCredentials:
        key = self._key(client)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and self._fresh(cached):
                return cached
            try:
                data = client.get_authorization_token()["authorizationData"][0]
            except ClientError as exc:
                raise OperationFailed(f"ECR login failed: {exc}") from None
            except (KeyError, IndexError):
                raise OperationFailed("ECR login failed: get_authorization_token returned no data") from None
            user, password = decode_authorization_token(data["authorizationToken"])
            expires = data.get("expiresAt")
            if isinstance(expires, datetime) and expires.tzinfo is None:
                expires = expires.replace(tzinfo=timezone.utc)
            creds = RegistryCredentials(user, password, data.get("proxyEndpoint", ""),
                                        expires if isinstance(expires, datetime) else None)
            if self._fresh(creds):
                self._entries[key] = creds
            else:
                self._entries.pop(key, None)
            return creds

    def invalidate(self, client: Any) -> None:
        with self._lock:
            self._entries.pop(self._key(client), None)


DEFAULT_TOKEN_CACHE = TokenCache()


@dataclass
class Repository:
    name: str
    uri: str
    registry_id: str | None = None
    arn: str | None = None
    tag_immutable: bool = True
    scan_on_push: bool = True
    encryption: str = "AES256"
    kms_key: str | None = None
    exists: bool = True
    created: bool = False

    @property
    def registry_host(self) -> str:
        return self.uri.split("/", 1)[0]

    @classmethod
    def from_api(cls, data: dict[str, Any], *, created: bool = False) -> Repository:
        enc = data.get("encryptionConfiguration") or {}
        return cls(
            name=data["repositoryName"],
            uri=data["repositoryUri"],
            registry_id=data.get("registryId"),
            arn=data.get("repositoryArn"),
            tag_immutable=str(data.get("imageTagMutability", "MUTABLE")).startswith("IMMUTABLE"),
            scan_on_push=bool((data.get("imageScanningConfiguration") or {}).get("scanOnPush")),
            encryption=enc.get("encryptionType", "AES256"),
            kms_key=enc.get("kmsKey"),
            created=created,
        )


def describe_repository(client: Any, name: str) -> Repository | None:
    try:
        repos = client.describe_repositories(repositoryNames=[name])["repositories"]
    except ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            return None
        raise
    return Repository.from_api(repos[0]) if repos else None


def create_repository(client: Any, name: str, cfg: ImageConfig) -> Repository:
    encryption: dict[str, str] = {"encryptionType": cfg.encryption}
    if cfg.encryption == "KMS" and cfg.kms_key:
        encryption["kmsKey"] = cfg.kms_key
    try:
        data = client.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE" if cfg.tag_immutability else "MUTABLE",
            imageScanningConfiguration={"scanOnPush": cfg.scan_on_push},
            encryptionConfiguration=encryption,
            tags=[{"Key": "managed-by", "Value": "pipeline-py"}],
        )["repository"]
    except ClientError as exc:
        if error_code(exc) == "RepositoryAlreadyExistsException":  # created concurrently
            existing = describe_repository(client, name)
            if existing is not None:
                return existing
        raise OperationFailed(f"cannot create ECR repository {name}: {exc}") from None
    return Repository.from_api(data, created=True)


def settings_drift(repo: Repository, cfg: ImageConfig) -> list[str]:
    """Where an existing repository differs from the config (reported, never changed: the
    repository may be owned by terraform)."""
    out = []
    if repo.tag_immutable != cfg.tag_immutability:
        have = "immutable" if repo.tag_immutable else "mutable"
        want = "immutable" if cfg.tag_immutability else "mutable"
        out.append(f"tags are {have} (config: {want}); the repository's setting applies")
    if repo.scan_on_push != cfg.scan_on_push:
        out.append(f"scan on push is {'on' if repo.scan_on_push else 'off'} (config: "
                   f"{'on' if cfg.scan_on_push else 'off'})")
    if repo.encryption != cfg.encryption:
        out.append(f"encryption is {repo.encryption} (config: {cfg.encryption}); it cannot change after creation")
    return out


def ensure_repository(client: Any, name: str, cfg: ImageConfig, reporter: Reporter | None = None) -> Repository:
    repo = describe_repository(client, name)
    if repo is None:
        repo = create_repository(client, name, cfg)
        if reporter:
            mutability = "immutable" if repo.tag_immutable else "mutable"
            reporter.info(f"created ECR repository {repo.uri} (tags {mutability}, "
                          f"scan on push {'on' if repo.scan_on_push else 'off'}, {repo.encryption})")
        return repo
    for line in settings_drift(repo, cfg):
        if reporter:
            reporter.warn(f"ECR repository {name}: {line}")
    return repo


@dataclass(frozen=True)
class RemoteImage:
    """What a tag names in ECR: the manifest digest and, for single-platform manifests, the
    config digest (which equals the local Docker image id)."""

    tag: str
    digest: str
    media_type: str | None = None
    config_digest: str | None = None


def remote_tags(
    client: Any, repository: str, tags: list[str], registry_id: str | None = None
) -> dict[str, RemoteImage]:
    """The tags among ``tags`` that exist in ``repository``. One ``batch_get_image`` per tag: the
    answer then names the tag unambiguously (an image answered for one tag may carry others)."""
    out: dict[str, RemoteImage] = {}
    extra = {"registryId": registry_id} if registry_id else {}
    for tag in tags:
        resp = client.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}],
                                      acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES), **extra)
        for image in resp.get("images") or []:
            digest = (image.get("imageId") or {}).get("imageDigest")
            if not digest:
                continue
            manifest_text = image.get("imageManifest") or "{}"
            try:
                manifest = json.loads(manifest_text)
            except json.JSONDecodeError:
                manifest = {}
            config = manifest.get("config") if isinstance(manifest, dict) else None
            out[tag] = RemoteImage(
                tag=tag,
                digest=digest,
                media_type=image.get("imageManifestMediaType") or manifest.get("mediaType"),
                config_digest=config.get("digest") if isinstance(config, dict) else None,
            )
            break
    return out


def image_tags_for_digest(client: Any, repository: str, digest: str) -> list[str] | None:
    """The tags ECR lists for ``digest``, or None when ECR does not know the image."""
    try:
        details = client.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    except ClientError as exc:
        if error_code(exc) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return None
        raise
    for d in details.get("imageDetails") or []:
        if d.get("imageDigest") == digest:
            return list(d.get("imageTags") or [])
    return None


def wait_for_image(
    client: Any,
    repository: str,
    digest: str,
    tags: list[str],
    clock: Clock,
    timeout: float = 30.0,
    interval: float = 0.25,
) -> bool:
    """True once ``describe_images`` lists ``digest`` with every tag in ``tags``; False on timeout.

    With ECR the answer is immediate; a registry standing in for ECR's data plane reports pushes
    to the control plane asynchronously, hence the bounded wait.
    """
    deadline = Deadline(clock, timeout)
    while True:
        listed = image_tags_for_digest(client, repository, digest)
        if listed is not None and set(tags) <= set(listed):
            return True
        if deadline.expired:
            return False
        clock.sleep(min(interval, max(deadline.remaining, 0.0)))
