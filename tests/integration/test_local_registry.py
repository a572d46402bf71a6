"""``local up`` starts a registry that takes the local ECR's login; ``local down`` stops it by pid."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import requests

from pipeline_py.images.ecr import decode_authorization_token
from pipeline_py.local.procs import pid_alive
from tests.conftest import free_port, run_cli

pytestmark = [pytest.mark.docker]


def test_local_up_starts_a_registry_behind_the_ecr_login_and_down_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPELINE_PY_STATE_DIR", str(tmp_path))
    port, registry_port = free_port(), free_port()
    up = run_cli("--json", "local", "up", "--port", str(port), "--registry-port", str(registry_port), "--registry")
    try:
        assert up.code == 0, up.stderr
        reg = up.json["components"]["registry"]
        assert reg["running"] is True and pid_alive(reg["pid"])
        env = up.json["environment"]
        assert env["PIPELINE_PY_REGISTRY_OVERRIDE"] == f"127.0.0.1:{registry_port}"
        ecr = boto3.client("ecr", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        user, password = decode_authorization_token(
            ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"])
        base = f"http://127.0.0.1:{registry_port}/v2/"
        assert requests.get(base, timeout=5).status_code == 401
        assert requests.get(base, auth=(user, "wrong"), timeout=5).status_code == 401
        assert requests.get(base, auth=(user, password), timeout=5).status_code == 200
    finally:
        down = run_cli("--json", "local", "down")
    assert down.code == 0 and down.json["stopped"] == ["registry", "moto"]
    assert not pid_alive(reg["pid"])
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{registry_port}/v2/", timeout=5)
