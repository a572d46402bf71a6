"""An environment's terraform working directory, resolved and checked before terraform runs.

``terraform.dir`` (``{env}`` is replaced; relative to the config file) must exist. Its backend
configuration comes from ``terraform.backend_config`` (a file relative to the directory, or
key/value pairs) or, when that is unset, ``backend.hcl`` in the directory; a directory whose
``backend`` block is partial (``backend "s3" {}``) and has neither is refused before terraform
runs, naming the file expected. Var files are relative to the directory too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_py.config import Settings
from pipeline_py.context import Context
from pipeline_py.errors import BadInput
from pipeline_py.terraform_mirror import Mirror, find_mirror
from pipeline_py.terraform_runner import Completed, Terraform

DEFAULT_BACKEND_FILE = "backend.hcl"
_BACKEND_BLOCK = re.compile(r'^\s*backend\s+"([A-Za-z0-9_-]+)"\s*\{(?P<body>[^}]*)\}', re.M)
_CLOUD_BLOCK = re.compile(r"^\s*cloud\s*\{", re.M)
_COMMENT = re.compile(r"(#|//)[^\n]*|/\*.*?\*/", re.S)


@dataclass
class TfEnv:
    env: str
    dir: Path
    backend_args: list[str] = field(default_factory=list)
    backend_source: Any = None
    backend_type: str | None = None
    var_files: list[Path] = field(default_factory=list)
    mirror: Mirror | None = None

    def default_plan_file(self) -> Path:
        return self.dir / f"{self.env}.tfplan"

    def initialized(self) -> bool:
        return (self.dir / ".terraform").is_dir()

    def describe_backend(self) -> Any:
        if isinstance(self.backend_source, Path):
            return str(self.backend_source)
        if isinstance(self.backend_source, dict):
            return {"keys": sorted(self.backend_source)}
        return self.backend_source


def declared_backend(tf_dir: Path) -> tuple[str | None, bool]:
    """(backend type, whether its block is empty so the settings must come from -backend-config)."""
    for path in sorted(tf_dir.glob("*.tf")):
        text = _COMMENT.sub("", path.read_text(encoding="utf-8", errors="replace"))
        if _CLOUD_BLOCK.search(text):
            return "cloud", False
        m = _BACKEND_BLOCK.search(text)
        if m:
            return m.group(1), not m.group("body").strip()
    return None, False


def resolve(ctx: Context, settings: Settings) -> TfEnv:
    env = ctx.require_env()
    cfg = settings.terraform
    base = ctx.loaded().base_dir
    raw = cfg.dir.replace("{env}", env)
    tf_dir = Path(raw) if Path(raw).is_absolute() else base / raw
    if not tf_dir.is_dir():
        parent = tf_dir.parent
        existing = sorted(p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if parent.is_dir() else []
        raise BadInput(
            f"terraform directory for environment {env!r} not found: {tf_dir} (terraform.dir = {cfg.dir!r}; "
            f"existing in {parent}: {', '.join(existing) or 'none'})"
        )
    if not any(tf_dir.glob("*.tf")) and not any(tf_dir.glob("*.tf.json")):
        raise BadInput(f"{tf_dir}: no terraform configuration (*.tf) in the directory for environment {env!r}")
    out = TfEnv(env=env, dir=tf_dir.resolve())
    out.backend_type, partial = declared_backend(tf_dir)
    source = cfg.backend_config
    if isinstance(source, dict):
        out.backend_source = dict(source)
        out.backend_args = [f"-backend-config={k}={v}" for k, v in source.items()]
    elif isinstance(source, str):
        path = Path(source) if Path(source).is_absolute() else tf_dir / source
        if not path.is_file():
            raise BadInput(f"backend configuration {path} not found (terraform.backend_config = {source!r}, "
                           f"relative to {tf_dir})")
        out.backend_source = path.resolve()
        out.backend_args = [f"-backend-config={path.resolve()}"]
    elif (tf_dir / DEFAULT_BACKEND_FILE).is_file():
        out.backend_source = (tf_dir / DEFAULT_BACKEND_FILE).resolve()
        out.backend_args = [f"-backend-config={out.backend_source}"]
    elif partial:
        raise BadInput(
            f"missing backend configuration for environment {env!r}: {tf_dir} declares backend "
            f"\"{out.backend_type}\" without settings and {tf_dir / DEFAULT_BACKEND_FILE} does not exist "
            f"(create it, or set terraform.backend_config to a file or key/value pairs)"
        )
    for name in cfg.var_files:
        path = Path(name) if Path(name).is_absolute() else tf_dir / name
        if not path.is_file():
            raise BadInput(f"var file {path} not found (terraform.var_files, relative to {tf_dir})")
        out.var_files.append(path.resolve())
    out.mirror = find_mirror(cfg.plugin_dir, ctx.environ, base_dir=base)
    return out


def terraform(ctx: Context, settings: Settings, tfenv: TfEnv) -> Terraform:
    cfg = settings.terraform
    return Terraform(tfenv.dir, ctx.reporter, environ=ctx.environ, mirror=tfenv.mirror,
                     lock_timeout=cfg.lock_timeout, binary=cfg.binary, parallelism=cfg.parallelism)


def init_args(tfenv: TfEnv, *, upgrade: bool = False) -> list[str]:
    return ["init", "-input=false", *tfenv.backend_args, *(["-upgrade"] if upgrade else [])]


def init(tf: Terraform, tfenv: TfEnv, *, upgrade: bool = False) -> Completed:
    return tf.check(tf.run(*init_args(tfenv, upgrade=upgrade)), "init")


def ensure_init(tf: Terraform, tfenv: TfEnv) -> None:
    """Initialise a fresh checkout (CI workspaces start without .terraform)."""
    if not tfenv.initialized():
        tf.reporter.step(f"terraform init ({tfenv.dir} is not initialised)")
        init(tf, tfenv)
