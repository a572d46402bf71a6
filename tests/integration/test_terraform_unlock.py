"""``pipeline-py terraform unlock`` against a real terraform holding the S3 backend's DynamoDB state lock
on the local stack: shown with its holder; refused with a wrong lock id and while the holder is alive;
removed once the holder died (kill -9 leaves its lock behind, as a crashed CI agent does)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.conftest import run_cli, wait_for
from tests.integration.terraform_fixtures import LOCK_TABLE, STATE_BUCKET, backend_config

pytestmark = [pytest.mark.terraform]
KEY = "task-api/local/terraform.tfstate"


def _project(root: Path, url: str) -> tuple[Path, Path]:
    tf = root / "tf"
    tf.mkdir()
    (tf / "main.tf").write_text('terraform {\n  backend "s3" {}\n}\n\noutput "ok" {\n  value = true\n}\n')
    (tf / "backend.hcl").write_text(backend_config(url, KEY))
    config = root / "pipeline.yaml"
    config.write_text(yaml.safe_dump({"service": "task-api", "region": "us-east-1", "environments": {
        "local": {"cluster": "task-api-local", "terraform": {"dir": "tf", "lock_timeout": 1}}}}))
    boto3.client("s3").create_bucket(Bucket=STATE_BUCKET)
    boto3.client("dynamodb").create_table(TableName=LOCK_TABLE, BillingMode="PAY_PER_REQUEST",
                                          AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                                          KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}])
    return config, tf


def _lock() -> dict[str, Any] | None:
    item = boto3.client("dynamodb").get_item(TableName=LOCK_TABLE, Key={"LockID": {"S": f"{STATE_BUCKET}/{KEY}"}},
                                             ConsistentRead=True).get("Item")
    return json.loads(item["Info"]["S"]) if item else None


def test_unlock_refuses_a_wrong_id_and_a_live_holder_then_removes_a_dead_ones_lock(aws: Any, tmp_path: Path) -> None:
    config, tf = _project(tmp_path, aws.url)
    args = ["--config", str(config), "--env", "local"]
    init = run_cli(*args, "terraform", "init")
    assert init.code == 0, init.stderr[-3000:]

    free = run_cli(*args, "--json", "terraform", "unlock")
    assert free.code == 0 and free.json["held"] is False
    assert free.json["backend"]["lock_id"] == f"{STATE_BUCKET}/{KEY}"

    env = {k: v for k, v in os.environ.items() if k not in ("TF_IN_AUTOMATION", "TF_INPUT")}
    holder = subprocess.Popen(["terraform", "console"], cwd=tf, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        info = wait_for(_lock, timeout=60, interval=0.1, what="terraform console to take the state lock")
        shown = run_cli(*args, "--json", "terraform", "unlock")
        assert shown.code == 0, shown.stderr
        assert shown.json["held"] is True and shown.json["removed"] is False
        assert shown.json["lock"]["id"] == info["ID"] and shown.json["lock"]["who"] == info["Who"]
        assert f"--lock-id {info['ID']}" in shown.stderr

        wrong = run_cli(*args, "--json", "terraform", "unlock", "--lock-id", "00000000-0000-0000-0000-000000000000")
        assert wrong.code == 2 and wrong.json["status"] == "refused"
        assert wrong.json["message"].startswith("--lock-id 00000000-0000-0000-0000-000000000000 is not the lock's id "
                                                f"({info['ID']})")
        assert _lock() == info

        alive = run_cli(*args, "--json", "terraform", "unlock", "--lock-id", info["ID"])
        assert alive.code == 2 and alive.json["status"] == "refused"
        assert "a terraform process of this environment is alive" in alive.json["message"]
        assert [h["pid"] for h in alive.json["live_holders"]] == [holder.pid]
        assert _lock() == info

        os.killpg(holder.pid, signal.SIGKILL)  # dies holding the lock
        holder.wait(timeout=30)
        assert _lock() == info, "a killed terraform leaves its lock behind"

        preview = run_cli(*args, "--json", "--dry-run", "terraform", "unlock", "--lock-id", info["ID"])
        assert preview.code == 0 and preview.json["dry_run"] is True and _lock() == info

        removed = run_cli(*args, "--json", "terraform", "unlock", "--lock-id", info["ID"])
        assert removed.code == 0, removed.stderr
        assert removed.json["removed"] is True and removed.json["holder_checked"] is True
        assert _lock() is None
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)
