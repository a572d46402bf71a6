"""What a saved plan would do, from ``terraform show -json PLAN``, and the destroy guard.

The summary counts resource changes the way a reviewer reads them: ``add`` (create only),
``change`` (update in place), ``destroy`` (delete only) and ``replace`` (delete + create, in
either order), each with the addresses. Terraform's own "Plan: N to add, M to destroy" counts a
replacement twice; ours does not.

The guard refuses a plan that deletes or replaces a resource of a protected type (data, keys,
identity: losing one is not undone by another apply) unless the operator said ``--allow-destroy``.
It also refuses, whatever the flags, a plan that deletes or replaces a resource whose *prior state*
has deletion protection on (``deletion_protection`` of a database, ``enable_deletion_protection``
of a load balancer, ...): AWS refuses that delete, so the apply would stop midway, after terraform
already destroyed or changed other resources. Protection has to be turned off in an apply of its
own first (or the replacement avoided); :func:`blocked_message` says so.
The plan file's checksum and summary are recorded next to it (``<plan>.json``) so ``apply`` can
show what it is about to do and refuse a plan file that changed since it was reviewed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline_py.errors import BadInput

DEFAULT_PROTECTED_TYPES: tuple[str, ...] = (
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_dynamodb_table",
    "aws_s3_bucket",
    "aws_kms_key",
    "aws_ecr_repository",
    "aws_secretsmanager_secret",
    "aws_efs_file_system",
    "aws_elasticache_replication_group",
    "aws_elasticache_cluster",
    "aws_opensearch_domain",
    "aws_backup_vault",
    "aws_cognito_user_pool",
    "aws_route53_zone",
)

ACTIONS = ("add", "change", "destroy", "replace", "forget", "import")

# Attributes of terraform-provider-aws resources that make AWS refuse the delete while they are on
# (aws_db_instance, aws_rds_cluster, aws_docdb_cluster, aws_neptune_cluster, aws_cognito_user_pool,
# aws_qldb_ledger: deletion_protection; aws_lb/aws_alb: enable_deletion_protection;
# aws_dynamodb_table: deletion_protection_enabled; aws_instance: disable_api_termination).
DELETION_PROTECTION_ATTRIBUTES: tuple[str, ...] = (
    "deletion_protection",
    "enable_deletion_protection",
    "deletion_protection_enabled",
    "disable_api_termination",
)
_PROTECTION_ON = ("ACTIVE", "ENABLED", "TRUE")


def deletion_protection(before: Any) -> str | None:
    """The deletion-protection attribute that is on in a resource's prior state, or None."""
    if not isinstance(before, dict):
        return None
    for name in DELETION_PROTECTION_ATTRIBUTES:
        value = before.get(name)
        if value is True or (isinstance(value, str) and value.upper() in _PROTECTION_ON):
            return name
    return None


@dataclass
class Change:
    address: str
    type: str
    action: str  # one of ACTIONS
    reason: str | None = None
    deposed: str | None = None
    protection: str | None = None  # destroy/replace of an object whose prior state has this protection on
    replace_paths: list[str] = field(default_factory=list)  # attributes forcing a replacement


@dataclass
class PlanSummary:
    changes: list[Change] = field(default_factory=list)
    outputs_changed: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    applyable: bool | None = None
    errored: bool = False

    def addresses(self, action: str) -> list[str]:
        return [c.address for c in self.changes if c.action == action]

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.outputs_changed)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {a: len(self.addresses(a)) for a in ("add", "change", "destroy", "replace")}
        for extra in ("forget", "import"):
            if self.addresses(extra):
                out[extra] = len(self.addresses(extra))
        out["addresses"] = {a: self.addresses(a) for a in ACTIONS if self.addresses(a)}
        reasons = {c.address: c.reason for c in self.changes if c.action == "replace" and c.reason}
        if reasons:
            out["replace_reasons"] = reasons
        out["outputs_changed"] = self.outputs_changed
        if self.drift:
            out["drift"] = self.drift
        out["has_changes"] = self.has_changes
        return out

    def line(self) -> str:
        d = self.to_dict()
        return f"{d['add']} to add, {d['change']} to change, {d['destroy']} to destroy, {d['replace']} to replace"


def _action(actions: list[str]) -> str | None:
    s = set(actions)
    if s == {"delete", "create"}:
        return "replace"
    if s == {"create"}:
        return "add"
    if s == {"update"}:
        return "change"
    if s == {"delete"}:
        return "destroy"
    if s == {"forget"}:
        return "forget"
    if s == {"create", "forget"}:
        return "add"
    return None  # no-op, read


def summarize(plan: dict[str, Any]) -> PlanSummary:
    """Summary of a plan in terraform's JSON output format (``terraform show -json PLAN``)."""
    if not isinstance(plan, dict) or "format_version" not in plan:
        raise BadInput("not a terraform plan in JSON format (expected `terraform show -json PLAN` output)")
    summary = PlanSummary(applyable=plan.get("applyable"), errored=bool(plan.get("errored")))
    for rc in plan.get("resource_changes") or []:
        if rc.get("mode") == "data":
            continue
        change = rc.get("change") or {}
        address = rc.get("address", "?")
        deposed = rc.get("deposed")
        if deposed:
            address = f"{address} (deposed {deposed})"
        action = _action(change.get("actions") or [])
        if action is None:
            if change.get("importing"):
                summary.changes.append(Change(address, rc.get("type", ""), "import"))
            continue
        protection = deletion_protection(change.get("before")) if action in ("destroy", "replace") else None
        paths = [".".join(str(p) for p in path) for path in change.get("replace_paths") or [] if path]
        summary.changes.append(Change(address, rc.get("type", ""), action, rc.get("action_reason"), deposed,
                                      protection, paths if action == "replace" else []))
    for name, oc in sorted((plan.get("output_changes") or {}).items()):
        if set(oc.get("actions") or []) - {"no-op"}:
            summary.outputs_changed.append(name)
    for rd in plan.get("resource_drift") or []:
        summary.drift.append(rd.get("address", "?"))
    return summary


def is_protected(resource_type: str, protected_types: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(resource_type, pattern) for pattern in protected_types)


def protected_changes(summary: PlanSummary, protected_types: Iterable[str] | None = None) -> list[dict[str, str]]:
    """Deletions and replacements of protected resources (the guard's findings)."""
    types = tuple(DEFAULT_PROTECTED_TYPES if protected_types is None else protected_types)
    return [
        {"address": c.address, "type": c.type, "action": c.action}
        for c in summary.changes
        if c.action in ("destroy", "replace") and is_protected(c.type, types)
    ]


def blocked_changes(summary: PlanSummary) -> list[dict[str, Any]]:
    """Deletions and replacements AWS would refuse: the prior state has deletion protection on.
    ``--allow-destroy`` cannot help; the apply would fail midway."""
    out: list[dict[str, Any]] = []
    for c in summary.changes:
        if c.protection is None:
            continue
        item: dict[str, Any] = {"address": c.address, "type": c.type, "action": c.action, "protection": c.protection}
        if c.replace_paths:
            item["replace_paths"] = c.replace_paths
        out.append(item)
    return out


def blocked_message(blocked: list[dict[str, Any]], *, ending: str = "The plan file was deleted") -> str:
    """What is refused, why apply could not complete it, and the two ways forward."""
    lines = []
    for b in blocked:
        verb = "replaced" if b["action"] == "replace" else "destroyed"
        forced = f" (the replacement is forced by {', '.join(b['replace_paths'])})" if b.get("replace_paths") else ""
        lines.append(f"{b['address']} would be {verb}{forced}, but its {b['protection']} is on")
    forced_by = sorted({p for b in blocked for p in b.get("replace_paths", [])})
    avoid = f"revert the change to {', '.join(forced_by)}" if forced_by else "keep the resource in the configuration"
    what = "replacement" if any(b["action"] == "replace" for b in blocked) else "deletion"
    return (
        "refusing a plan that apply could not complete: " + "; ".join(lines) + ". AWS refuses to delete a "
        "resource with deletion protection on, so terraform would stop midway, after destroying or changing "
        "other resources; --allow-destroy cannot change that. Either turn deletion protection off in a "
        "separate apply first (set it to false, plan and apply only that), then plan this change again with "
        f"--allow-destroy; or avoid the {what} ({avoid}). {ending}"
    )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_path(plan_file: Path) -> Path:
    return plan_file.with_name(plan_file.name + ".json")


def write_record(plan_file: Path, **fields: Any) -> dict[str, Any]:
    """Record the plan's checksum and summary next to it (no values: plan files may hold secrets)."""
    record = {
        "plan_file": str(plan_file),
        "sha256": sha256(plan_file),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **fields,
    }
    record_path(plan_file).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def read_record(plan_file: Path) -> dict[str, Any] | None:
    path = record_path(plan_file)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: unreadable plan record ({exc}); re-run `terraform plan`") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: not a plan record; re-run `terraform plan`")
    return data


def update_record(plan_file: Path, **fields: Any) -> None:
    record = read_record(plan_file) or {}
    record.update(fields)
    record_path(plan_file).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
