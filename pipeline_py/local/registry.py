"""A real registry (Debian's ``docker-registry``, CNCF distribution 2.x) standing in for ECR's data plane.

moto's ECR is a control plane only. This registry receives the bytes, so the real path runs:
``get_authorization_token`` → ``docker login`` (htpasswd user ``AWS``, password = the one inside
moto's ECR token) → ``docker push``. Its notifications endpoint is the local stack's
``/_pipeline_py/registry-events`` route, which mirrors each manifest push into moto's ECR
(``ecr_mirror``), so ``describe_images`` sees pushes as it would on AWS.

Pushes reach it because the environment says so (``PIPELINE_PY_REGISTRY_OVERRIDE=127.0.0.1:PORT``,
see ``environment``); the push code has no local branch.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import requests
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py.errors import OperationFailed
from pipeline_py.images.ecr import decode_authorization_token

BINARY = "docker-registry"
HTPASSWD = "htpasswd"
EVENTS_ROUTE = "/_pipeline_py/registry-events"
START_TIMEOUT = 30.0
REGION = "us-east-1"


def available() -> tuple[bool, str]:
    """(True, '') when a Docker engine answers and the registry binaries exist; else (False, why)."""
    for binary, package in ((BINARY, "docker-registry"), (HTPASSWD, "apache2-utils")):
        if shutil.which(binary) is None:
            return False, f"{binary} is not installed (apt-get install {package})"
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:  # any failure means "no engine to push from"
        return False, f"no Docker engine answers ({exc.__class__.__name__}: {exc})"
    return True, ""


def ecr_login(moto_url: str, region: str = REGION) -> tuple[str, str]:
    """The user and password inside the local stack's ECR authorization token."""
    client = boto3.client("ecr", endpoint_url=moto_url, region_name=region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    except (BotoCoreError, ClientError, KeyError, IndexError) as exc:
        raise OperationFailed(f"cannot get the ECR login from the local stack at {moto_url}: {exc}") from None
    return decode_authorization_token(token)


def write_htpasswd(path: Path, user: str, password: str) -> None:
    """A bcrypt htpasswd file (the only hash distribution accepts); the password goes through
    stdin, never the command line."""
    p = subprocess.run([HTPASSWD, "-niB", user], input=password, capture_output=True, text=True, timeout=30)
    if p.returncode != 0 or not p.stdout.strip():
        raise OperationFailed(f"htpasswd failed: {p.stderr.strip() or p.returncode}")
    path.write_text(p.stdout.strip() + "\n")
    path.chmod(0o600)


def registry_config(*, port: int, data_dir: Path, htpasswd: Path, moto_url: str) -> dict[str, Any]:
    return {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "fields": {"service": "pipeline-py-local-registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(data_dir)},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            "host": f"http://127.0.0.1:{port}",
            "secret": secrets.token_hex(16),
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {"htpasswd": {"realm": "pipeline-py-local-ecr", "path": str(htpasswd)}},
        "notifications": {
            "events": {"includereferences": True},
            "endpoints": [{
                "name": "moto-ecr",
                "url": moto_url.rstrip("/") + EVENTS_ROUTE,
                "timeout": "5s",
                "threshold": 3,
                "backoff": "1s",
                "ignore": {"mediatypes": ["application/octet-stream"], "actions": ["pull"]},
            }],
        },
    }


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/v2/", timeout=1).status_code in (200, 401)
    except requests.RequestException:
        return False


def start(state_dir: Path, port: int, moto_url: str) -> dict[str, Any]:
    """Start the registry on 127.0.0.1:``port`` in its own session (it outlives ``local up``);
    returns what ``local down`` needs (``pid``) and what the environment needs (``url``, ``host``).

    The storage starts empty: moto's ECR starts empty too, and the two must agree.
    """
    directory = Path(state_dir) / "registry"
    data_dir = directory / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    if _answers(url):
        raise OperationFailed(f"something already answers on {url}; choose another registry port")
    user, password = ecr_login(moto_url)
    htpasswd = directory / "htpasswd"
    write_htpasswd(htpasswd, user, password)
    config = directory / "config.yml"
    config.write_text(yaml.safe_dump(registry_config(port=port, data_dir=data_dir, htpasswd=htpasswd,
                                                     moto_url=moto_url), sort_keys=False))
    config.chmod(0o600)
    log_path = directory / "registry.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(url):
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise OperationFailed(f"the registry exited with {proc.returncode} on start:\n{tail}")
        if time.monotonic() > deadline:
            stop({"pid": proc.pid})
            raise OperationFailed(f"the registry did not answer on {url} within {START_TIMEOUT:.0f}s; see {log_path}")
        time.sleep(0.05)
    return {
        "pid": proc.pid,
        "url": url,
        "host": f"127.0.0.1:{port}",
        "port": port,
        "user": user,
        "config": str(config),
        "log": str(log_path),
        "data_dir": str(data_dir),
        "notifications": moto_url.rstrip("/") + EVENTS_ROUTE,
    }


def stop(info: dict[str, Any], timeout: float = 10.0) -> None:
    """Stop the registry process recorded in ``info`` (SIGTERM, then SIGKILL after ``timeout``)."""
    pid = info.get("pid")
    if not pid:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll for existence instead
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            done = 0
        if done:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def environment(info: dict[str, Any]) -> dict[str, str]:
    """What a shell needs so ``pipeline-py push`` sends the bytes here."""
    host = info.get("host") or str(info["url"]).split("://", 1)[-1]
    return {"PIPELINE_PY_REGISTRY_OVERRIDE": host}
