"""ECR image scans: ``DescribeImageScanFindings`` answered from data a test (or the demo) provides
through the ``scan-findings`` control route, so the scan gate (``pipeline-py scan``) can be rehearsed.

The local stack has no vulnerability scanner. What it answers for an image:

- findings given for it (``POST /_pipeline_py/scan-findings``), after ``in_progress_polls`` answers of
  ``IN_PROGRESS`` (a scan that takes a while), with the given status (``COMPLETE``, ``FAILED``, ...);
- otherwise, when the repository scans on push or ``StartImageScan`` was called: ``COMPLETE`` with no
  findings and a description saying that nothing was scanned;
- otherwise ``ScanNotFoundException``, as ECR does for an image never scanned (moto's own answer).

Payload (one object, or ``{"results": [...]}``; POST adds, PUT replaces all, DELETE clears, GET lists)::

    {"repository": "task-api", "digest": "sha256:…" (or "tag": "v1"), "status": "COMPLETE",
     "description": "…", "in_progress_polls": 2,
     "findings": [{"name": "CVE-2024-0001", "severity": "HIGH", "package": "openssl", "version": "3.0.1"}]}
"""


from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pipeline_py.local.moto_ext.core import original_of, patch_moto

log = logging.getLogger("pipeline_py.local")

# moto internals used here (pinned in tests/unit/moto_pins/test_ecr.py):
#   moto.ecr.responses.ECRResponse: describe_image_scan_findings (wrapped), _get_param, ecr_backend
#   ECRBackend._get_repository(name, registry_id) (raises RepositoryNotFoundException);
#   Repository._get_image(tag, digest) (raises ImageNotFoundException), .name, .registry_id,
#   .image_scanning_configuration ({"scanOnPush": bool}); Image.image_digest, .image_tags, .last_scan
#   moto.core.responses.ActionResult

STATUSES = ("COMPLETE", "FAILED", "IN_PROGRESS", "PENDING", "ACTIVE", "UNSUPPORTED_IMAGE", "FINDINGS_UNAVAILABLE",
            "SCAN_ELIGIBILITY_EXPIRED", "LIMIT_EXCEEDED")
SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNDEFINED")
NOTHING_SCANNED = "local stack: no vulnerability scanner; no findings were provided for this image " \
                  "(POST /_pipeline_py/scan-findings)"


@dataclass
class ScanResult:
    repository: str
    digest: str | None
    tag: str | None
    status: str
    description: str | None
    findings: list[dict[str, Any]]
    in_progress_polls: int = 0
    answered: int = field(default=0)

    @classmethod
    def parse(cls, item: Any) -> ScanResult:
        if not isinstance(item, dict):
            raise ValueError("scan-findings: expected a JSON object per image")
        unknown = set(item) - {"repository", "digest", "tag", "status", "description", "in_progress_polls", "findings"}
        if unknown:
            raise ValueError(f"scan-findings: unknown keys {sorted(unknown)}")
        repository = item.get("repository")
        if not isinstance(repository, str) or not repository:
            raise ValueError("scan-findings: repository (the ECR repository name) is required")
        digest, tag = item.get("digest"), item.get("tag")
        if not (isinstance(digest, str) and digest.startswith("sha256:")) and not (isinstance(tag, str) and tag):
            raise ValueError("scan-findings: name the image by digest (sha256:…) or tag")
        status = str(item.get("status") or "COMPLETE").upper()
        if status not in STATUSES:
            raise ValueError(f"scan-findings: status {status!r} is not one of {', '.join(STATUSES)}")
        polls = item.get("in_progress_polls", 0)
        if isinstance(polls, bool) or not isinstance(polls, int) or not 0 <= polls <= 10000:
            raise ValueError("scan-findings: in_progress_polls must be a whole number 0..10000")
        findings = item.get("findings") or []
        if not isinstance(findings, list):
            raise ValueError("scan-findings: findings must be a list")
        for f in findings:
            if not isinstance(f, dict) or not isinstance(f.get("name"), str):
                raise ValueError("scan-findings: each finding needs a name (e.g. a CVE id)")
            if str(f.get("severity", "UNDEFINED")).upper() not in SEVERITIES:
                raise ValueError(f"scan-findings: {f['name']}: severity must be one of {', '.join(SEVERITIES)}")
        return cls(repository, digest if isinstance(digest, str) else None, tag if isinstance(tag, str) else None,
                   status, item.get("description"), findings, polls)

    def matches(self, repository: str, digest: str, tags: list[str]) -> bool:
        if repository != self.repository:
            return False
        return (self.digest == digest) if self.digest else (self.tag in tags)

    def to_dict(self) -> dict[str, Any]:
        return {"repository": self.repository, "digest": self.digest, "tag": self.tag, "status": self.status,
                "description": self.description, "findings": self.findings,
                "in_progress_polls": self.in_progress_polls, "answered": self.answered}


class ScanFindings:
    """The scan results tests provide; a ticker only so that moto's reset clears them."""

    def __init__(self) -> None:
        self.results: list[ScanResult] = []

    def tick(self, now: float) -> None:
        pass

    def reset(self) -> None:
        self.results.clear()

    def status(self) -> dict[str, Any]:
        return {"scan_findings": len(self.results)}

    def find(self, repository: str, digest: str, tags: list[str]) -> ScanResult | None:
        for r in reversed(self.results):
            if r.matches(repository, digest, tags):
                return r
        return None

    def route(self, method: str, payload: Any) -> dict[str, Any]:
        if method in ("POST", "PUT"):
            items = payload.get("results") if isinstance(payload, dict) and "results" in payload else [payload]
            if not isinstance(items, list):
                raise ValueError("scan-findings: results must be a list")
            parsed = [ScanResult.parse(i) for i in items]
            if method == "PUT":
                self.results.clear()
            for p in parsed:  # a newer result for the same image replaces the older one
                self.results = [r for r in self.results if (r.repository, r.digest, r.tag) !=
                                (p.repository, p.digest, p.tag)]
                self.results.append(p)
        elif method == "DELETE":
            self.results.clear()
        elif method != "GET":
            raise ValueError(f"scan-findings: method {method} not allowed "
                             "(GET, POST adds, PUT replaces, DELETE clears)")
        return {"results": [r.to_dict() for r in self.results]}


_store = ScanFindings()


def install(fidelity: Any) -> None:
    from moto.ecr.responses import ECRResponse

    _store.reset()
    fidelity.add_ticker(_store)
    fidelity.add_route("scan-findings", _store.route)
    patch_moto(ECRResponse, "describe_image_scan_findings", _describe_image_scan_findings)


def _finding(f: dict[str, Any]) -> dict[str, Any]:
    attributes = [{"key": k, "value": str(f[src])} for k, src in (("package_name", "package"),
                                                                   ("package_version", "version")) if f.get(src)]
    return {"name": f["name"], "severity": str(f.get("severity", "UNDEFINED")).upper(),
            "uri": f.get("uri") or f"https://cve.mitre.org/cgi-bin/cvename.cgi?name={f['name']}",
            "description": f.get("description", ""), "attributes": attributes}


def answer(result: ScanResult | None, repo: Any, image: Any, now: datetime) -> dict[str, Any]:
    """The DescribeImageScanFindings answer for ``image`` (one page: the local stack never paginates)."""
    digest = image.image_digest
    out: dict[str, Any] = {"registryId": repo.registry_id, "repositoryName": repo.name,
                           "imageId": {"imageDigest": digest, **({"imageTag": image.image_tags[0]}
                                                                 if image.image_tags else {})}}
    if result is not None and result.answered < result.in_progress_polls:
        result.answered += 1
        out["imageScanStatus"] = {"status": "IN_PROGRESS", "description": "The scan is in progress (local stack)."}
        return out
    status = result.status if result else "COMPLETE"
    description = (result.description if result and result.description else
                   NOTHING_SCANNED if result is None else f"local stack: scan result provided by a test ({status})")
    out["imageScanStatus"] = {"status": status, "description": description}
    if status in ("COMPLETE", "ACTIVE"):
        findings = [_finding(f) for f in (result.findings if result else [])]
        counts: dict[str, int] = {}
        for f in findings:
            counts[f["severity"]] = counts.get(f["severity"], 0) + 1
        out["imageScanFindings"] = {"imageScanCompletedAt": now, "vulnerabilitySourceUpdatedAt": now,
                                    "findings": findings, "findingSeverityCounts": counts}
    return out


def _describe_image_scan_findings(self: Any) -> Any:
    from moto.core.responses import ActionResult

    from pipeline_py.local.moto_ext.core import current

    with current().lock:
        image_id = self._get_param("imageId") or {}
        repo = self.ecr_backend._get_repository(self._get_param("repositoryName"), self._get_param("registryId"))
        image = repo._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
        result = _store.find(repo.name, image.image_digest, list(image.image_tags or []))
        scans_on_push = bool((repo.image_scanning_configuration or {}).get("scanOnPush"))
        if result is None and not image.last_scan and not scans_on_push:
            return original_of(type(self), "describe_image_scan_findings")(self)  # ScanNotFoundException
        return ActionResult(answer(result, repo, image, datetime.now(timezone.utc)))
