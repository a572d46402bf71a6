"""The image scan gate (the seed's "Security scan passed"): ECR's vulnerability scan of one pushed
digest, waited for and judged.

1. ``DescribeImageScanFindings`` for the digest. A scan ``IN_PROGRESS`` (basic scanning) or
   ``PENDING`` (enhanced scanning) is polled on the injectable clock until it is ``COMPLETE`` /
   ``ACTIVE`` or ``timeout`` passes. No scan at all (scan on push off) starts one with
   ``StartImageScan`` when ``start_scan`` allows it. A scan that ended otherwise (``FAILED``,
   ``UNSUPPORTED_IMAGE``, ``FINDINGS_UNAVAILABLE``, ...) fails the gate: nothing says the image is safe.
2. Every finding at or above ``fail_on`` blocks, unless the allowlist names its id (a CVE id, or the
   finding's name) with an ``expires`` date that is today or later (UTC, on the clock). An expired entry
   allows nothing and the failure says so. Enhanced findings that Inspector suppressed or closed do not
   count; findings without a severity (``UNDEFINED``, ``UNTRIAGED``) rank below ``INFORMATIONAL``.
3. Blocking findings raise :class:`OperationFailed` (exit 1) naming each one; the result lists what was
   blocking, allowed, allowed by an expired entry, below the threshold, and allowlist entries that
   matched nothing (candidates for removal).

The ECR client comes from the one factory (``ctx.aws(settings).client("ecr")``); on the local stack the
findings are what a test or the demo gave ``/_pipeline_py/scan-findings``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import error_code
from pipeline_py.clock import Clock, Deadline
from pipeline_py.config import ScanAllowlistEntry, ScanConfig
from pipeline_py.errors import BadInput, OperationFailed
from pipeline_py.report import Reporter

SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")  # ascending
UNRANKED = ("UNDEFINED", "UNTRIAGED")  # no severity assigned: below INFORMATIONAL
WAITING = ("IN_PROGRESS", "PENDING")
DONE = ("COMPLETE", "ACTIVE")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")


def rank(severity: str) -> int:
    s = severity.upper()
    return SEVERITIES.index(s) + 1 if s in SEVERITIES else 0


@dataclass(frozen=True)
class ImageRef:
    """One image in an ECR repository, by digest (preferred: what is deployed) or tag."""

    repository: str
    digest: str | None = None
    tag: str | None = None
    registry_id: str | None = None
    registry: str | None = None

    @property
    def image_id(self) -> dict[str, str]:
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag or "latest"}

    def display(self, digest: str | None = None) -> str:
        name = f"{self.registry}/{self.repository}" if self.registry else self.repository
        d = digest or self.digest
        return f"{name}@{d}" if d else f"{name}:{self.tag}"


def parse_image(ref: str, default_repository: str | None = None) -> ImageRef:
    """``[registry/]repository@sha256:…`` or ``[registry/]repository:tag`` (a bare ``sha256:…`` digest
    means ``default_repository``). The registry of an ECR host gives the registry id."""
    text = ref.strip()
    if _DIGEST.match(text):
        if not default_repository:
            raise BadInput(f"--image {ref!r}: a digest alone needs image.repository in the config")
        return parse_image(f"{default_repository}@{text}")
    name, digest, tag = text, None, None
    if "@" in text:
        name, _, digest = text.partition("@")
        if not _DIGEST.match(digest):
            raise BadInput(f"--image {ref!r}: {digest!r} is not a sha256 digest")
    else:
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            name, _, tag = text.rpartition(":")
    registry = None
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, name = first, rest
    if not name or not re.fullmatch(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*", name):
        raise BadInput(f"--image {ref!r}: not an image reference ([registry/]repository@sha256:… or :tag)")
    if not digest and not tag:
        raise BadInput(f"--image {ref!r}: name the image by digest (@sha256:…) or tag (:tag)")
    m = _ECR_HOST.match(registry or "")
    return ImageRef(repository=name, digest=digest, tag=tag, registry_id=m.group(1) if m else None, registry=registry)


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    package: str | None = None
    uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "severity": self.severity}
        if self.package:
            out["package"] = self.package
        if self.uri:
            out["uri"] = self.uri
        return out

    def line(self) -> str:
        return f"{self.id} ({self.severity}{', ' + self.package if self.package else ''})"


def findings_of(page: dict[str, Any]) -> list[Finding]:
    """Basic (``findings``) and enhanced (``enhancedFindings``) findings of one response page."""
    scan = page.get("imageScanFindings") or {}
    out = []
    for f in scan.get("findings") or []:
        attrs = {a.get("key"): a.get("value") for a in f.get("attributes") or [] if isinstance(a, dict)}
        package = " ".join(x for x in (attrs.get("package_name"), attrs.get("package_version")) if x) or None
        out.append(Finding(str(f.get("name") or "?"), str(f.get("severity") or "UNDEFINED").upper(), package,
                           f.get("uri")))
    for f in scan.get("enhancedFindings") or []:
        if str(f.get("status") or "ACTIVE").upper() != "ACTIVE":
            continue  # suppressed or closed in Inspector
        details = f.get("packageVulnerabilityDetails") or {}
        packages = [" ".join(x for x in (p.get("name"), p.get("version")) if x)
                    for p in details.get("vulnerablePackages") or [] if isinstance(p, dict)]
        out.append(Finding(str(details.get("vulnerabilityId") or f.get("title") or f.get("findingArn") or "?"),
                           str(f.get("severity") or "UNTRIAGED").upper(), ", ".join(p for p in packages if p) or None,
                           details.get("sourceUrl")))
    return out


@dataclass
class Verdict:
    fail_on: str
    blocking: list[Finding]
    allowed: list[tuple[Finding, ScanAllowlistEntry]]
    expired: list[tuple[Finding, ScanAllowlistEntry]]
    below: list[Finding]
    unused: list[ScanAllowlistEntry]

    @property
    def passed(self) -> bool:
        return not self.blocking

    def to_dict(self) -> dict[str, Any]:
        def entry(f: Finding, e: ScanAllowlistEntry) -> dict[str, Any]:
            return {**f.to_dict(), "expires": e.expires.isoformat(), "reason": e.reason}

        return {
            "fail_on": self.fail_on,
            "passed": self.passed,
            "blocking": [f.to_dict() for f in self.blocking],
            "allowed": [entry(f, e) for f, e in self.allowed],
            "expired": [entry(f, e) for f, e in self.expired],
            "below_threshold": len(self.below),
            "unused_allowlist": [{"id": e.id, "expires": e.expires.isoformat()} for e in self.unused],
        }


def judge(findings: Iterable[Finding], fail_on: str, allowlist: Iterable[ScanAllowlistEntry], today: date) -> Verdict:
    """Which findings block the image, which the allowlist lets through (until when), which it no longer does."""
    entries = {e.id.upper(): e for e in allowlist}
    used: set[str] = set()
    verdict = Verdict(fail_on.upper(), [], [], [], [], [])
    threshold = rank(fail_on)
    for f in findings:
        entry = entries.get(f.id.upper())
        if entry is not None:
            used.add(entry.id.upper())
        if rank(f.severity) < threshold:
            verdict.below.append(f)
        elif entry is not None and today <= entry.expires:
            verdict.allowed.append((f, entry))
        else:
            verdict.blocking.append(f)
            if entry is not None:
                verdict.expired.append((f, entry))
    verdict.unused = [e for key, e in entries.items() if key not in used]
    return verdict


def failure_message(image: str, verdict: Verdict) -> str:
    ids: dict[str, list[Finding]] = {}
    for f in verdict.blocking:
        ids.setdefault(f.id, []).append(f)
    listed = "; ".join(f"{i} ({', '.join(sorted({f.severity for f in fs}))}"
                       + (f": {', '.join(f.package for f in fs if f.package)}" if any(f.package for f in fs) else "")
                       + ")" for i, fs in ids.items())
    lines = [f"image scan gate: {len(ids)} finding{'s' if len(ids) != 1 else ''} at or above {verdict.fail_on} "
             f"in {image}: {listed}"]
    for f, e in verdict.expired:
        lines.append(f"the allowlist entry for {f.id} expired on {e.expires.isoformat()} ({e.reason}); it no longer "
                     f"allows the finding")
    lines.append("Rebuild on patched packages and push again, or accept a finding for a while with an "
                 "image.scan.allowlist entry (id, expires, reason)")
    return ". ".join(lines)


@dataclass
class ScanState:
    status: str | None = None
    description: str | None = None
    digest: str | None = None
    completed_at: str | None = None
    counts: dict[str, int] | None = None
    findings: list[Finding] | None = None


def _describe(ecr: Any, image: ImageRef, next_token: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"repositoryName": image.repository, "imageId": image.image_id, "maxResults": 1000}
    if image.registry_id:
        kwargs["registryId"] = image.registry_id
    if next_token:
        kwargs["nextToken"] = next_token
    return dict(ecr.describe_image_scan_findings(**kwargs))


def _read_scan(ecr: Any, image: ImageRef) -> ScanState | None:
    """The scan's state, with every finding once it is done; None when the image has no scan."""
    try:
        page = _describe(ecr, image)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ScanNotFoundException":
            return None
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise BadInput(f"{image.display()} is not in ECR ({code}): push it first, or name a pushed image "
                           "with --image") from None
        raise OperationFailed(f"DescribeImageScanFindings for {image.display()} failed: {exc}") from None
    status = page.get("imageScanStatus") or {}
    scan = page.get("imageScanFindings") or {}
    completed = scan.get("imageScanCompletedAt")
    state = ScanState(status=str(status.get("status") or "IN_PROGRESS").upper(), description=status.get("description"),
                      digest=(page.get("imageId") or {}).get("imageDigest"),
                      completed_at=completed.isoformat() if isinstance(completed, datetime) else completed,
                      counts={k.upper(): int(v) for k, v in (scan.get("findingSeverityCounts") or {}).items()})
    if state.status in DONE:
        findings = findings_of(page)
        token = page.get("nextToken")
        while token:
            page = _describe(ecr, image, token)
            findings += findings_of(page)
            token = page.get("nextToken")
        state.findings = findings
    return state


def _start(ecr: Any, image: ImageRef, reporter: Reporter) -> None:
    kwargs: dict[str, Any] = {"repositoryName": image.repository, "imageId": image.image_id}
    if image.registry_id:
        kwargs["registryId"] = image.registry_id
    try:
        ecr.start_image_scan(**kwargs)
        reporter.info(f"no scan of {image.display()} yet: started one (StartImageScan)")
    except ClientError as exc:
        # LimitExceeded: scanned once today already (it will appear); Validation/Unsupported: enhanced
        # scanning scans by itself. Either way, keep waiting for it.
        reporter.warn(f"StartImageScan for {image.display()}: {error_code(exc)}; waiting for a scan to appear")


def scan_gate(
    image: ImageRef,
    cfg: ScanConfig,
    *,
    ecr_client: Any,
    reporter: Reporter,
    clock: Clock,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Wait for the scan of ``image`` and judge it; the result dict on a pass, ``OperationFailed`` otherwise."""
    started = clock.monotonic()
    deadline = Deadline(clock, cfg.timeout)
    scan_started = False
    last_status: str | None = None
    base: dict[str, Any] = {"repository": image.repository, "fail_on": cfg.fail_on}
    while True:
        state = _read_scan(ecr_client, image)
        status = state.status if state else "NOT_FOUND"
        if status != last_status:
            reporter.detail(f"scan of {image.display()}: {status}"
                            + (f" ({state.description})" if state and state.description else ""))
            last_status = status
        if dry_run:
            return _dry_run(image, cfg, state, clock, reporter, base)
        if state is None and cfg.start_scan and not scan_started:
            _start(ecr_client, image, reporter)
            scan_started = True
            continue
        if state is not None and state.status in DONE:
            break
        if state is not None and state.status not in WAITING:
            raise OperationFailed(
                f"image scan gate: the scan of {image.display(state.digest)} ended {state.status}"
                + (f" ({state.description})" if state.description else "")
                + ": nothing says the image is safe. Fix what the scan reports (an unsupported base image, an "
                "expired scan eligibility) and push again, or start a new scan",
                result={**base, "image": image.display(state.digest), "digest": state.digest,
                        "scan_status": state.status, "scan_description": state.description, "passed": False,
                        "scan_started": scan_started})
        if deadline.expired:
            what = "no scan of it appeared" if state is None else f"its scan is still {status}"
            hint = ("; is scan on push off and image.scan.start_scan false?" if state is None else
                    "; raise image.scan.timeout or run `pipeline-py scan` again later")
            raise OperationFailed(
                f"image scan gate: waited {cfg.timeout:.0f}s for the scan of {image.display()} and {what}{hint}",
                result={**base, "image": image.display(), "scan_status": status, "passed": False, "timed_out": True,
                        "scan_started": scan_started, "waited_seconds": round(clock.monotonic() - started, 3)})
        clock.sleep(min(cfg.poll_interval, max(deadline.remaining, 0.0)))

    assert state is not None and state.findings is not None
    verdict = judge(state.findings, cfg.fail_on, cfg.allowlist, clock.utcnow().date())
    shown = image.display(state.digest)
    result = {
        **base,
        "image": shown,
        "digest": state.digest or image.digest,
        "scan_status": state.status,
        "scan_completed_at": state.completed_at,
        "scan_started": scan_started,
        "counts": dict(Counter(f.severity for f in state.findings)) or (state.counts or {}),
        **verdict.to_dict(),
        "waited_seconds": round(clock.monotonic() - started, 3),
    }
    _narrate(reporter, shown, verdict)
    if not verdict.passed:
        raise OperationFailed(failure_message(shown, verdict), result=result)
    return result


def _narrate(reporter: Reporter, image: str, verdict: Verdict) -> None:
    for f, e in verdict.allowed:
        reporter.warn(f"allowed until {e.expires.isoformat()}: {f.line()} ({e.reason})")
    for f, e in verdict.expired:
        reporter.error(f"allowlist entry expired {e.expires.isoformat()}: {f.line()} blocks again")
    for e in verdict.unused:
        reporter.detail(f"allowlist entry {e.id} matches no finding (remove it?)")
    if verdict.passed:
        reporter.info(f"scan gate passed: {image}: no finding at or above {verdict.fail_on} "
                      f"({len(verdict.allowed)} allowed, {len(verdict.below)} below)")
    else:
        for f in verdict.blocking:
            reporter.error(f"blocking: {f.line()}")


def _dry_run(image: ImageRef, cfg: ScanConfig, state: ScanState | None, clock: Clock, reporter: Reporter,
             base: dict[str, Any]) -> dict[str, Any]:
    """Read-only: the scan as it is now, judged if it is done; never starts a scan, never waits."""
    out: dict[str, Any] = {**base, "dry_run": True, "image": image.display(state.digest if state else None),
                           "scan_status": state.status if state else "NOT_FOUND",
                           "would_start_scan": state is None and cfg.start_scan,
                           "would_wait_seconds": cfg.timeout}
    if state is not None and state.findings is not None:
        verdict = judge(state.findings, cfg.fail_on, cfg.allowlist, clock.utcnow().date())
        out.update(verdict.to_dict())
        out["would_pass"] = verdict.passed
        reporter.info(f"dry run: the scan is {state.status}; the gate would {'pass' if verdict.passed else 'fail'}")
    else:
        reporter.info(f"dry run: the scan is {out['scan_status']}; the gate would wait up to {cfg.timeout:.0f}s")
    return out
