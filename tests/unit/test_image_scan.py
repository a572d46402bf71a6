"""The image scan gate's engine (pipeline_py/images/scan.py) on a scripted ECR client and a FakeClock:
waiting, verdicts by severity, the allowlist and its expiry, scan failures, timeouts, pagination,
enhanced findings, image references."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipeline_py.clock import FakeClock
from pipeline_py.config import ScanAllowlistEntry, ScanConfig
from pipeline_py.errors import BadInput, OperationFailed
from pipeline_py.images.scan import Finding, ImageRef, judge, parse_image, rank, scan_gate
from pipeline_py.report import Reporter

DIGEST = "sha256:" + "ab" * 32
IMAGE = ImageRef("task-api", DIGEST, registry="123456789012.dkr.ecr.us-east-1.amazonaws.com",
                 registry_id="123456789012")
TODAY = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def complete(*findings: tuple[str, str], status: str = "COMPLETE", token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "imageId": {"imageDigest": DIGEST},
        "imageScanStatus": {"status": status, "description": "The scan was completed successfully."},
        "imageScanFindings": {"findings": [
            {"name": n, "severity": s, "attributes": [{"key": "package_name", "value": "openssl"},
                                                       {"key": "package_version", "value": "3.0.1"}]}
            for n, s in findings]},
    }
    if token:
        page["nextToken"] = token
    return page


def in_progress() -> dict[str, Any]:
    return {"imageId": {"imageDigest": DIGEST}, "imageScanStatus": {"status": "IN_PROGRESS"}}


def not_found(code: str = "ScanNotFoundException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no scan"}}, "DescribeImageScanFindings")


class FakeEcr:
    """Answers DescribeImageScanFindings from a script (the last answer repeats)."""

    def __init__(self, *answers: dict[str, Any] | ClientError, pages: dict[str, dict[str, Any]] | None = None) -> None:
        self.answers = list(answers)
        self.pages = pages or {}
        self.calls: list[dict[str, Any]] = []
        self.started: list[dict[str, Any]] = []

    def describe_image_scan_findings(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if kwargs.get("nextToken"):
            return self.pages[kwargs["nextToken"]]
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, ClientError):
            raise answer
        return answer

    def start_image_scan(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"imageScanStatus": {"status": "IN_PROGRESS"}}


def gate(ecr: FakeEcr, clock: FakeClock | None = None, **cfg: Any) -> dict[str, Any]:
    config = ScanConfig.model_validate({"timeout": 60, "poll_interval": 5, **cfg})
    return scan_gate(IMAGE, config, ecr_client=ecr, reporter=Reporter(quiet=True), clock=clock or FakeClock(TODAY))


def allow(cve: str, expires: str, reason: str = "no fix upstream, ticket SEC-1") -> dict[str, str]:
    return {"id": cve, "expires": expires, "reason": reason}


def test_waits_for_the_scan_then_passes_a_clean_image() -> None:
    ecr, clock = FakeEcr(in_progress(), in_progress(), complete(("CVE-2024-0002", "LOW"))), FakeClock(TODAY)
    result = gate(ecr, clock)
    assert result["passed"] is True and result["scan_status"] == "COMPLETE"
    assert result["blocking"] == [] and result["below_threshold"] == 1 and result["counts"] == {"LOW": 1}
    assert result["image"] == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/task-api@{DIGEST}"
    assert clock.sleeps == [5, 5] and result["waited_seconds"] == 10
    assert ecr.calls[0] == {"repositoryName": "task-api", "imageId": {"imageDigest": DIGEST}, "maxResults": 1000,
                            "registryId": "123456789012"}
    assert ecr.started == []


def test_a_high_finding_fails_naming_the_cve() -> None:
    ecr = FakeEcr(complete(("CVE-2024-1111", "HIGH"), ("CVE-2024-2222", "MEDIUM")))
    with pytest.raises(OperationFailed) as exc:
        gate(ecr)
    assert exc.value.exit_code == 1
    message = str(exc.value)
    assert "1 finding at or above HIGH" in message and "CVE-2024-1111 (HIGH: openssl 3.0.1)" in message
    assert "CVE-2024-2222" not in message
    assert exc.value.result["blocking"] == [{"id": "CVE-2024-1111", "severity": "HIGH", "package": "openssl 3.0.1"}]
    assert exc.value.result["passed"] is False


def test_the_threshold_is_configurable() -> None:
    with pytest.raises(OperationFailed, match="CVE-2024-2222"):
        gate(FakeEcr(complete(("CVE-2024-2222", "MEDIUM"))), fail_on="MEDIUM")
    assert gate(FakeEcr(complete(("CVE-2024-1111", "HIGH"))), fail_on="CRITICAL")["passed"] is True


def test_an_allowlisted_finding_passes_until_its_expiry_date() -> None:
    ecr = FakeEcr(complete(("CVE-2024-1111", "CRITICAL")))
    result = gate(ecr, allowlist=[allow("cve-2024-1111", "2026-03-01"), allow("CVE-2020-0001", "2027-01-01")])
    assert result["passed"] is True
    assert result["allowed"] == [{"id": "CVE-2024-1111", "severity": "CRITICAL", "package": "openssl 3.0.1",
                                  "expires": "2026-03-01", "reason": "no fix upstream, ticket SEC-1"}]
    assert result["unused_allowlist"] == [{"id": "CVE-2020-0001", "expires": "2027-01-01"}]


def test_an_expired_allowlist_entry_no_longer_allows_and_says_so() -> None:
    ecr = FakeEcr(complete(("CVE-2024-1111", "HIGH")))
    with pytest.raises(OperationFailed) as exc:
        gate(ecr, allowlist=[allow("CVE-2024-1111", "2026-02-28", "waiting for the base image")])
    message = str(exc.value)
    assert "CVE-2024-1111" in message
    assert "the allowlist entry for CVE-2024-1111 expired on 2026-02-28 (waiting for the base image); it no " \
           "longer allows the finding" in message
    assert exc.value.result["expired"][0]["expires"] == "2026-02-28"


def test_a_failed_scan_fails_the_gate() -> None:
    page = {"imageId": {"imageDigest": DIGEST},
            "imageScanStatus": {"status": "FAILED", "description": "UnsupportedImageError: the OS is not supported"}}
    with pytest.raises(OperationFailed) as exc:
        gate(FakeEcr(in_progress(), page))
    assert "ended FAILED (UnsupportedImageError: the OS is not supported)" in str(exc.value)
    assert "nothing says the image is safe" in str(exc.value)
    assert exc.value.result["scan_status"] == "FAILED" and exc.value.result["passed"] is False


def test_a_scan_that_never_completes_times_out_on_the_clock() -> None:
    clock = FakeClock(TODAY)
    ecr = FakeEcr(in_progress())
    with pytest.raises(OperationFailed) as exc:
        gate(ecr, clock, timeout=30, poll_interval=4)
    assert "waited 30s" in str(exc.value) and "still IN_PROGRESS" in str(exc.value)
    assert exc.value.result["timed_out"] is True and exc.value.result["waited_seconds"] == 30
    assert sum(clock.sleeps) == 30 and max(clock.sleeps) == 4 and len(ecr.calls) == 9


def test_no_scan_starts_one_once_then_waits_for_it() -> None:
    ecr = FakeEcr(not_found(), not_found(), in_progress(), complete())
    result = gate(ecr)
    assert result["passed"] is True and result["scan_started"] is True
    assert ecr.started == [{"repositoryName": "task-api", "imageId": {"imageDigest": DIGEST},
                            "registryId": "123456789012"}]


def test_no_scan_and_start_scan_off_times_out_saying_why() -> None:
    ecr = FakeEcr(not_found())
    with pytest.raises(OperationFailed, match="no scan of it appeared; is scan on push off"):
        gate(ecr, start_scan=False, timeout=10)
    assert ecr.started == []


def test_an_image_not_in_ecr_is_bad_input() -> None:
    with pytest.raises(BadInput, match=r"is not in ECR \(ImageNotFoundException\)"):
        gate(FakeEcr(not_found("ImageNotFoundException")))


def test_every_page_of_findings_is_read() -> None:
    ecr = FakeEcr(complete(("CVE-1", "LOW"), token="p2"), pages={"p2": complete(("CVE-2024-9999", "CRITICAL"))})
    with pytest.raises(OperationFailed, match=r"CVE-2024-9999 \(CRITICAL"):
        gate(ecr)
    assert ecr.calls[-1]["nextToken"] == "p2"


def test_enhanced_findings_count_only_while_active() -> None:
    page = {"imageId": {"imageDigest": DIGEST}, "imageScanStatus": {"status": "ACTIVE"},
            "imageScanFindings": {"enhancedFindings": [
                {"severity": "CRITICAL", "status": "ACTIVE", "packageVulnerabilityDetails": {
                    "vulnerabilityId": "CVE-2025-0001", "vulnerablePackages": [{"name": "glibc", "version": "2.36"}]}},
                {"severity": "CRITICAL", "status": "SUPPRESSED",
                 "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2025-0002"}},
                {"severity": "UNTRIAGED", "status": "ACTIVE",
                 "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2025-0003"}},
            ]}}
    with pytest.raises(OperationFailed) as exc:
        gate(FakeEcr({"imageId": {"imageDigest": DIGEST}, "imageScanStatus": {"status": "PENDING"}}, page))
    assert exc.value.result["blocking"] == [{"id": "CVE-2025-0001", "severity": "CRITICAL", "package": "glibc 2.36"}]
    assert exc.value.result["below_threshold"] == 1


def test_dry_run_reads_once_and_neither_starts_nor_waits() -> None:
    clock = FakeClock(TODAY)
    ecr = FakeEcr(not_found())
    config = ScanConfig.model_validate({"timeout": 60})
    result = scan_gate(IMAGE, config, ecr_client=ecr, reporter=Reporter(quiet=True), clock=clock, dry_run=True)
    assert result["dry_run"] is True and result["scan_status"] == "NOT_FOUND" and result["would_start_scan"] is True
    assert ecr.started == [] and clock.sleeps == [] and len(ecr.calls) == 1
    judged = scan_gate(IMAGE, config, ecr_client=FakeEcr(complete(("CVE-2024-1111", "HIGH"))),
                       reporter=Reporter(quiet=True), clock=clock, dry_run=True)
    assert judged["would_pass"] is False and judged["blocking"][0]["id"] == "CVE-2024-1111"


def test_judge_and_ranks() -> None:
    assert rank("CRITICAL") > rank("HIGH") > rank("MEDIUM") > rank("LOW") > rank("INFORMATIONAL") > rank("UNDEFINED")
    entry = ScanAllowlistEntry(id="CVE-1", expires=date(2026, 1, 31), reason="accepted")
    findings = [Finding("CVE-1", "HIGH"), Finding("CVE-1", "HIGH", "zlib")]
    assert len(judge(findings, "HIGH", [entry], date(2026, 1, 31)).allowed) == 2
    late = judge(findings, "HIGH", [entry], date(2026, 2, 1))
    assert len(late.blocking) == 2 and len(late.expired) == 2 and late.unused == []


def test_image_references() -> None:
    ref = parse_image(f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api@{DIGEST}")
    assert (ref.repository, ref.digest, ref.registry_id, ref.tag) == ("team/api", DIGEST, "123456789012", None)
    assert ref.image_id == {"imageDigest": DIGEST}
    tagged = parse_image("127.0.0.1:5000/task-api:v1.2")
    assert (tagged.repository, tagged.tag, tagged.registry_id, tagged.image_id) == (
        "task-api", "v1.2", None, {"imageTag": "v1.2"})
    assert parse_image(DIGEST, "task-api").display() == f"task-api@{DIGEST}"
    for bad in ("task-api", "task-api@sha256:short", "UPPER/case:v1", DIGEST):
        with pytest.raises(BadInput, match="--image"):
            parse_image(bad)


def test_allowlist_entries_are_validated_in_the_config() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"reason"):
        ScanConfig.model_validate({"allowlist": [{"id": "CVE-2024-1", "expires": "2026-01-01"}]})
    with pytest.raises(ValidationError, match="expires"):
        ScanConfig.model_validate({"allowlist": [{"id": "CVE-2024-1", "expires": "someday", "reason": "later"}]})
    with pytest.raises(ValidationError, match="fail_on"):
        ScanConfig.model_validate({"fail_on": "SEVERE"})
