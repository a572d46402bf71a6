"""Mirrors pushes to the local registry into moto's ECR (registry notifications → ``put_image``),
so ``describe_images``/``batch_get_image`` answer as ECR would after a push.

The registry POSTs distribution's notification envelope (``{"events": [...]}``) to the local
stack's ``/_pipeline_py/registry-events`` route. For each manifest ``push`` the manifest is
fetched from the registry (with the ECR credentials, verified against its digest) and given to
moto's ECR through boto3 against the local stack's own URL: ``put_image`` with
``imageManifest``, ``imageManifestMediaType``, ``imageTag`` and ``imageDigest``. A manifest
``delete`` removes the image. The repository is looked up in the region the stack's
environment names first (``us-east-1`` by default), then in every ECR region.

The answer is always 200 with a summary: the registry retries a failed notification forever
and delivers in order, so one bad event must not block every later push.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from typing import Any

import boto3
import requests
from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py.aws import error_code
from pipeline_py.images.ecr import MANIFEST_MEDIA_TYPES, decode_authorization_token

log = logging.getLogger("pipeline_py.local.ecr_mirror")
DEFAULT_REGION = "us-east-1"

_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _ecr(server_url: str, region: str) -> Any:
    with _lock:
        key = (server_url, region)
        if key not in _clients:
            _clients[key] = boto3.client("ecr", endpoint_url=server_url, region_name=region,
                                         aws_access_key_id="testing", aws_secret_access_key="testing")
        return _clients[key]


def _candidate_regions() -> list[str]:
    first = [r for r in (os.environ.get("AWS_REGION"), os.environ.get("AWS_DEFAULT_REGION"), DEFAULT_REGION) if r]
    rest = boto3.session.Session().get_available_regions("ecr")
    return list(dict.fromkeys([*first, *rest]))


def _regions_with(server_url: str, repository: str) -> list[str]:
    """Regions whose ECR has ``repository``: the first candidate that has it (a registry stands in
    for one region's ECR at a time)."""
    for region in _candidate_regions():
        try:
            _ecr(server_url, region).describe_repositories(repositoryNames=[repository])
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                continue
            raise
        return [region]
    return []


def _fetch_manifest(url: str, media_type: str, digest: str, server_url: str) -> bytes:
    user, password = decode_authorization_token(
        _ecr(server_url, DEFAULT_REGION).get_authorization_token()["authorizationData"][0]["authorizationToken"]
    )
    resp = requests.get(url, headers={"Accept": media_type}, auth=(user, password), timeout=10)
    resp.raise_for_status()
    body = resp.content
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    if actual != digest:
        raise ValueError(f"manifest at {url} has digest {actual}, the event said {digest}")
    return body


def _push(event: dict[str, Any], server_url: str) -> dict[str, Any]:
    target = event.get("target") or {}
    repository, digest = target.get("repository"), target.get("digest")
    media_type, tag = target.get("mediaType"), target.get("tag")
    if media_type not in MANIFEST_MEDIA_TYPES or not repository or not digest:
        return {"result": "ignored", "reason": f"not a manifest push ({media_type})"}
    regions = _regions_with(server_url, repository)
    if not regions:
        return {"result": "error", "repository": repository,
                "reason": f"repository {repository} does not exist in the local ECR (create it, or push with "
                          "`pipeline-py push`, which does)"}
    manifest = _fetch_manifest(target["url"], media_type, digest, server_url).decode("utf-8")
    out: dict[str, Any] = {"result": "mirrored", "repository": repository, "digest": digest, "tag": tag,
                           "regions": regions}
    for region in regions:
        kwargs: dict[str, Any] = {"repositoryName": repository, "imageManifest": manifest,
                                  "imageManifestMediaType": media_type, "imageDigest": digest}
        if tag:
            kwargs["imageTag"] = tag
        try:
            _ecr(server_url, region).put_image(**kwargs)
        except ClientError as exc:
            if error_code(exc) != "ImageAlreadyExistsException":
                raise
            if _tag_digest(server_url, region, repository, tag) == digest:
                out["result"] = "unchanged"
            else:
                out.update(result="error", reason=str(exc))
    return out


def _tag_digest(server_url: str, region: str, repository: str, tag: str | None) -> str | None:
    if not tag:
        return None
    images = _ecr(server_url, region).batch_get_image(
        repositoryName=repository, imageIds=[{"imageTag": tag}], acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES)
    ).get("images") or []
    return (images[0].get("imageId") or {}).get("imageDigest") if images else None


def _delete(event: dict[str, Any], server_url: str) -> dict[str, Any]:
    target = event.get("target") or {}
    repository, digest = target.get("repository"), target.get("digest")
    if not repository or not digest:
        return {"result": "ignored", "reason": "delete without repository/digest"}
    for region in _regions_with(server_url, repository):
        _ecr(server_url, region).batch_delete_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    return {"result": "deleted", "repository": repository, "digest": digest}


def handle(payload: dict[str, Any], server_url: str) -> dict[str, Any]:
    """Apply a notification envelope to moto's ECR; never raises (see the module docstring)."""
    events = payload.get("events") if isinstance(payload, dict) else None
    summary: dict[str, Any] = {"mirrored": 0, "unchanged": 0, "deleted": 0, "ignored": 0, "errors": []}
    for event in events if isinstance(events, list) else []:
        action = event.get("action") if isinstance(event, dict) else None
        try:
            if action == "push":
                out = _push(event, server_url)
            elif action == "delete":
                out = _delete(event, server_url)
            else:
                out = {"result": "ignored"}
        except (ClientError, BotoCoreError, requests.RequestException, ValueError, KeyError) as exc:
            out = {"result": "error", "reason": f"{exc.__class__.__name__}: {exc}"}
        result = out["result"]
        if result == "error":
            detail = {"event": (event or {}).get("id"), **{k: v for k, v in out.items() if k != "result"}}
            summary["errors"].append(detail)
            log.warning("registry event not mirrored: %s", detail)
        else:
            summary[result] = summary.get(result, 0) + 1
    return summary
