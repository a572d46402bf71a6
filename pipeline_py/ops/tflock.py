"""The terraform state lock of an environment: the S3 backend's DynamoDB lock table.

terraform keeps one item per state, ``LockID = "<bucket>/<key>"`` (``<bucket>/env:/<workspace>/<key>`` in
another workspace), whose ``Info`` is the JSON terraform prints in "Error acquiring the state lock":
``ID``, ``Operation``, ``Who`` (user@host), ``Version``, ``Created``, ``Path``. This is the seed's
"Remove lock (careful!)": ``unlock`` shows the holder and removes the item only when given that lock's
ID and when no terraform process of this machine that works on the environment's state is alive
(a live holder would go on writing a state it believes it owns). Not pipeline-py's deploy lock
(``pipeline-py unlock``).
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline_py.clock import age_text
from pipeline_py.errors import BadInput
from pipeline_py.ops.adapters import StateLocks
from pipeline_py.report import Reporter

_HCL_PAIR = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(true|false|[0-9.]+))\s*(?:#.*)?$')


@dataclass(frozen=True)
class StateBackend:
    bucket: str
    key: str
    table: str | None
    region: str | None
    source: str

    @property
    def lock_id(self) -> str:
        return f"{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "lock_table": self.table, "region": self.region,
                "lock_id": self.lock_id, "source": self.source}


def parse_backend_hcl(text: str) -> dict[str, str]:
    """The top-level ``name = "value"`` pairs of a backend .hcl file (nested blocks are skipped)."""
    out: dict[str, str] = {}
    depth = 0
    for line in text.splitlines():
        code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line).split("#", 1)[0]
        if depth == 0:
            m = _HCL_PAIR.match(line)
            if m:
                out[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
                continue
        depth = max(depth + code.count("{") - code.count("}"), 0)
    return out


def backend_of(backend_type: str | None, source: Any, data_dir: Path, environ: dict[str, str]
               ) -> StateBackend | None:
    """The environment's S3 backend from its backend configuration (a .hcl file or key/value pairs);
    None when the state is not in S3."""
    if backend_type != "s3" or source is None:
        return None
    if isinstance(source, dict):
        values, where = {k: str(v) for k, v in source.items()}, "terraform.backend_config"
    else:
        path = Path(str(source))
        values, where = parse_backend_hcl(path.read_text(encoding="utf-8")), str(path)
    if not values.get("bucket") or not values.get("key"):
        return None
    key = values["key"]
    workspace = environ.get("TF_WORKSPACE") or _selected_workspace(data_dir)
    if workspace and workspace != "default":
        key = f"{values.get('workspace_key_prefix', 'env:')}/{workspace}/{key}"
    return StateBackend(bucket=values["bucket"], key=key, table=values.get("dynamodb_table") or None,
                        region=values.get("region") or None, source=where)


def _selected_workspace(data_dir: Path) -> str | None:
    try:
        return (data_dir / "environment").read_text().strip() or None
    except OSError:
        return None


@dataclass(frozen=True)
class StateLock:
    lock_id: str
    info: str
    id: str
    operation: str
    who: str
    created: str
    version: str
    path: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StateLock:
        raw = str(item.get("Info") or "")
        try:
            data = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            data = {}
        return cls(lock_id=str(item.get("LockID")), info=raw, id=str(data.get("ID") or ""),
                   operation=str(data.get("Operation") or ""), who=str(data.get("Who") or ""),
                   created=str(data.get("Created") or ""), version=str(data.get("Version") or ""),
                   path=str(data.get("Path") or ""))

    @property
    def host(self) -> str:
        return self.who.rsplit("@", 1)[-1] if "@" in self.who else ""

    def since(self) -> datetime | None:
        text = self.created
        if not text:
            return None
        m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
        if not m:
            return None
        frac = (m.group(2) or "")[:7]
        zone = m.group(3) or "Z"
        return datetime.fromisoformat(m.group(1) + frac + ("+00:00" if zone == "Z" else zone))

    def describe(self, now: datetime) -> str:
        since = self.since()
        age = f", {age_text(now - since)} ago" if since else ""
        what = self.operation.replace("OperationType", "").lower() or "an operation"
        return f"held by {self.who or 'someone'} ({what}, since {self.created or '?'}{age}; lock ID {self.id})"

    def to_dict(self) -> dict[str, Any]:
        return {"lock_id": self.lock_id, "id": self.id, "operation": self.operation, "who": self.who,
                "created": self.created, "version": self.version, "path": self.path}


def read_lock(locks: StateLocks, backend: StateBackend) -> StateLock | None:
    if not backend.table:
        return None
    item = locks.get(backend.table, backend.lock_id, backend.region)
    return StateLock.from_item(item) if item else None


# ---- live terraform processes of this machine


Process = dict[str, Any]


def terraform_processes(binary: str = "terraform", proc: Path = Path("/proc")) -> list[Process]:
    """Live terraform processes: pid, argv, cwd and TF_DATA_DIR (None when unreadable)."""
    names = {"terraform", Path(binary).name}
    out: list[Process] = []
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            argv = [a for a in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if a]
            if not argv or Path(argv[0]).name not in names:
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                continue
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        data_dir: str | None
        try:
            env = dict(kv.split("=", 1) for kv in (entry / "environ").read_bytes().decode(errors="replace")
                       .split("\0") if "=" in kv)
            data_dir = env.get("TF_DATA_DIR") or ""
        except OSError:
            data_dir = None
        out.append({"pid": int(entry.name), "argv": argv, "cwd": cwd, "tf_data_dir": data_dir})
    return out


def _effective_data_dir(p: Process) -> Path | None:
    """Where a terraform process keeps its data dir (what says which state it works on)."""
    if p["tf_data_dir"] is None:
        return None
    base = Path(p["cwd"])
    for a in p["argv"][1:]:
        if a.startswith("-chdir="):
            base = (base / a.split("=", 1)[1]).resolve()
    if p["tf_data_dir"]:
        d = Path(p["tf_data_dir"])
        return d if d.is_absolute() else (Path(p["cwd"]) / d).resolve()
    return base / ".terraform"


def holders_among(processes: list[Process], data_dir: Path, dirs: list[Path]) -> list[Process]:
    """The processes working on this environment's state: same data dir; when a process's environment
    cannot be read, one running in the environment's or the root module's directory."""
    wanted = data_dir.resolve()
    places = {str(d.resolve()) for d in dirs}
    found = []
    for p in processes:
        effective = _effective_data_dir(p)
        if (effective is not None and effective.resolve() == wanted) or (effective is None and p["cwd"] in places):
            found.append({"pid": p["pid"], "command": " ".join(p["argv"])[:300], "cwd": p["cwd"]})
    return found


ProcessLister = Callable[[], list[Process]]


@dataclass
class UnlockRequest:
    backend: StateBackend
    data_dir: Path
    dirs: list[Path]
    lock_id: str | None
    hint: str  # how to run this again with the id, for messages
    hostname: str = ""


def unlock(locks: StateLocks, req: UnlockRequest, reporter: Reporter, *, now: datetime | None = None,
           processes: ProcessLister = terraform_processes, dry_run: bool = False) -> dict[str, Any]:
    now = now or datetime.now(timezone.utc)
    backend = req.backend
    out: dict[str, Any] = {"backend": backend.to_dict(), "held": False, "removed": False}
    if not backend.table:
        raise BadInput(f"the S3 backend in {backend.source} has no dynamodb_table: terraform keeps no lock item "
                       "there to show or remove")
    lock = read_lock(locks, backend)
    if lock is None:
        reporter.info(f"terraform state lock {backend.lock_id}: free")
        if req.lock_id:
            raise BadInput(f"--lock-id {req.lock_id}: the state {backend.lock_id} is not locked (nothing to remove)",
                           result={**out, "status": "refused"})
        return out
    reporter.info(f"terraform state lock {backend.lock_id}: {lock.describe(now)}")
    out.update(held=True, lock=lock.to_dict())
    if req.lock_id is None:
        reporter.info(f"to remove it once its holder is dead: {req.hint} --lock-id {lock.id}")
        return out
    if req.lock_id != lock.id:
        raise BadInput(f"--lock-id {req.lock_id} is not the lock's id ({lock.id}): it changed hands, or it is a typo; "
                       "nothing was removed", result={**out, "status": "refused"})
    hostname = req.hostname or socket.gethostname()
    local_holder = lock.host in ("", hostname, hostname.split(".", 1)[0])
    out["holder_checked"] = local_holder
    if local_holder:
        live = holders_among(processes(), req.data_dir, req.dirs)
        if live:
            pids = ", ".join(f"pid {p['pid']} ({p['command']})" for p in live)
            raise BadInput(f"refusing to remove the state lock {lock.id}: a terraform process of this environment is "
                           f"alive on this machine and may hold it: {pids}. Let it finish or stop it first",
                           result={**out, "status": "refused", "live_holders": live})
    else:
        reporter.warn(f"the lock's holder {lock.who} is on another machine ({lock.host}): whether it is still "
                      "running cannot be checked from here")
    if dry_run:
        reporter.info(f"dry run: would remove the state lock {lock.id}")
        return {**out, "dry_run": True}
    if not locks.delete(backend.table, backend.lock_id, lock.info, backend.region):
        raise BadInput(f"the state lock {backend.lock_id} changed while removing it (it is no longer {lock.id}); "
                       "nothing was removed", result={**out, "status": "refused"})
    reporter.warn(f"removed the terraform state lock {lock.id} held by {lock.who} ({backend.lock_id})")
    return {**out, "removed": True}
