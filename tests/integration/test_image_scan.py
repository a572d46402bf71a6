"""`pipeline-py scan` (the image scan gate) against the local stack: ECR's DescribeImageScanFindings
answered from what each test gives the `scan-findings` control route (pipeline_py/local/moto_ext/ecr.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml

from tests.conftest import CliResult, run_cli


def project(tmp_path: Path, **scan: Any) -> Path:
    config = {
        "service": "task-api",
        "region": "us-east-1",
        "image": {"repository": "task-api",
                  "scan": {"fail_on": "HIGH", "timeout": 20, "poll_interval": 0.05, **scan}},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def pushed(tag: str = "v1", *, scan_on_push: bool = True) -> tuple[str, str]:
    """An image in ECR as `push` leaves it: (pinned reference, digest)."""
    ecr = boto3.client("ecr")
    try:
        ecr.create_repository(repositoryName="task-api", imageScanningConfiguration={"scanOnPush": scan_on_push})
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + tag.encode().hex().ljust(64, "0")[:64], "size": 10,
                                      "mediaType": "application/vnd.docker.container.image.v1+json"},
                           "layers": []})
    digest = ecr.put_image(repositoryName="task-api", imageManifest=manifest, imageTag=tag)["image"]["imageId"][
        "imageDigest"]
    uri = ecr.describe_repositories(repositoryNames=["task-api"])["repositories"][0]["repositoryUri"]
    return f"{uri}@{digest}", digest


def findings(server: Any, digest: str, *found: tuple[str, str], **extra: Any) -> None:
    res = requests.post(f"{server.url}/_pipeline_py/scan-findings", timeout=10, json={
        "repository": "task-api", "digest": digest,
        "findings": [{"name": n, "severity": s, "package": "openssl", "version": "3.0.1"} for n, s in found],
        **extra})
    assert res.status_code == 200, res.text


def scan(config: Path, *argv: str) -> CliResult:
    return run_cli("--config", str(config), "--json", "scan", *argv)


def test_a_clean_image_passes_after_the_scan_completes(aws: Any, tmp_path: Path) -> None:
    image, digest = pushed()
    findings(aws, digest, ("CVE-2024-0100", "LOW"), in_progress_polls=3)
    res = scan(project(tmp_path), "--image", image)
    assert res.code == 0, res.stderr
    out = res.json
    assert out["passed"] is True and out["scan_status"] == "COMPLETE" and out["digest"] == digest
    assert out["counts"] == {"LOW": 1} and out["below_threshold"] == 1 and out["blocking"] == []
    assert "scan of" in res.stderr and "IN_PROGRESS" in res.stderr and "scan gate passed" in res.stderr
    listed = requests.get(f"{aws.url}/_pipeline_py/scan-findings", timeout=10).json()["results"]
    assert listed[0]["answered"] == 3, "the gate polled through the scan in progress"


def test_a_high_finding_fails_naming_the_cve(aws: Any, tmp_path: Path) -> None:
    image, digest = pushed()
    findings(aws, digest, ("CVE-2024-3094", "CRITICAL"), ("CVE-2024-0200", "MEDIUM"))
    res = scan(project(tmp_path), "--image", image)
    assert res.code == 1, res.stderr
    assert res.json["error"] == "failed"
    assert "CVE-2024-3094 (CRITICAL: openssl 3.0.1)" in res.json["message"]
    assert "CVE-2024-0200" not in res.json["message"]
    assert res.json["blocking"] == [{"id": "CVE-2024-3094", "severity": "CRITICAL", "package": "openssl 3.0.1",
                                     "uri": "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2024-3094"}]


def test_an_allowlisted_finding_passes_and_an_expired_entry_fails(aws: Any, tmp_path: Path) -> None:
    image, digest = pushed()
    findings(aws, digest, ("CVE-2024-3094", "HIGH"))
    today = datetime.now(timezone.utc).date()
    valid = project(tmp_path, allowlist=[{"id": "CVE-2024-3094", "expires": (today + timedelta(days=30)).isoformat(),
                                          "reason": "no fixed package yet (SEC-42)"}])
    res = scan(valid, "--image", image)
    assert res.code == 0, res.stderr
    assert res.json["allowed"][0]["id"] == "CVE-2024-3094" and res.json["passed"] is True
    assert "allowed until" in res.stderr

    expired = (today - timedelta(days=1)).isoformat()
    stale = project(tmp_path, allowlist=[{"id": "CVE-2024-3094", "expires": expired, "reason": "SEC-42"}])
    res = scan(stale, "--image", image)
    assert res.code == 1, res.stderr
    assert f"the allowlist entry for CVE-2024-3094 expired on {expired} (SEC-42); it no longer allows the finding" \
        in res.json["message"]


def test_a_failed_scan_fails_the_gate(aws: Any, tmp_path: Path) -> None:
    image, digest = pushed()
    findings(aws, digest, status="FAILED", description="UnsupportedImageError: The operating system is unsupported")
    res = scan(project(tmp_path), "--image", image)
    assert res.code == 1, res.stderr
    assert "ended FAILED (UnsupportedImageError: The operating system is unsupported)" in res.json["message"]
    assert res.json["scan_status"] == "FAILED"


def test_a_scan_that_never_completes_times_out(aws: Any, tmp_path: Path) -> None:
    image, digest = pushed()
    findings(aws, digest, in_progress_polls=10000)
    res = scan(project(tmp_path, timeout=0.3), "--image", image)
    assert res.code == 1, res.stderr
    assert res.json["timed_out"] is True and "still IN_PROGRESS" in res.json["message"]


def test_an_image_never_scanned_gets_a_scan_started_and_the_last_push_is_the_default(
        aws: Any, tmp_path: Path) -> None:
    image, digest = pushed("v2", scan_on_push=False)
    ecr = boto3.client("ecr")
    with pytest.raises(ecr.exceptions.ScanNotFoundException):
        ecr.describe_image_scan_findings(repositoryName="task-api", imageId={"imageDigest": digest})
    config = project(tmp_path)
    state = tmp_path / ".pipeline-py"
    state.mkdir()
    (state / "last-push.json").write_text(json.dumps({"image": image, "repository_uri": image.split("@")[0],
                                                       "digest": digest}))
    res = scan(config)
    assert res.code == 0, res.stderr
    assert res.json["scan_started"] is True and res.json["image"] == image
    assert "StartImageScan" in res.stderr and "no vulnerability scanner" in res.stderr


def test_dry_run_changes_nothing_and_bad_input(aws: Any, tmp_path: Path) -> None:
    image, digest = pushed("v3", scan_on_push=False)
    res = run_cli("--config", str(project(tmp_path)), "--json", "--dry-run", "scan", "--image", image)
    assert res.code == 0, res.stderr
    assert res.json["scan_status"] == "NOT_FOUND" and res.json["would_start_scan"] is True
    ecr = boto3.client("ecr")
    with pytest.raises(ecr.exceptions.ScanNotFoundException):  # the dry run started no scan
        ecr.describe_image_scan_findings(repositoryName="task-api", imageId={"imageDigest": digest})
    missing = scan(project(tmp_path), "--image", image.replace(digest, "sha256:" + "0" * 64))
    assert missing.code == 2 and "is not in ECR" in missing.json["message"]
    no_push = scan(project(tmp_path))
    assert no_push.code == 2 and "run `pipeline-py push` first" in no_push.json["message"]
    bad = requests.post(f"{aws.url}/_pipeline_py/scan-findings", timeout=10,
                        json={"repository": "task-api", "digest": digest,
                              "findings": [{"name": "X", "severity": "BAD"}]})
    assert bad.status_code == 400 and "severity" in bad.json()["error"]
