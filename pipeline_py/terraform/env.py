"""An environment's terraform, resolved and checked before terraform runs.

Two layouts:

- **one root module shared by the environments** (``terraform.root`` set, e.g. ``terraform/stack``):
  the environment's directory ``terraform.dir`` holds only data — its ``backend.hcl``,
  ``terraform.tfvars`` and plan files. Terraform runs as ``terraform -chdir=<root>`` from the
  environment's directory with ``TF_DATA_DIR=<dir>/.terraform`` (each environment has its own
  providers, modules and backend settings, so the inits never collide), ``-backend-config`` from
  the environment and ``-var-file`` for the environment's ``terraform.tfvars`` /
  ``*.auto.tfvars`` (terraform loads those automatically only from the root).
- **one root module per environment** (``terraform.root`` unset): terraform runs in ``terraform.dir``.

``terraform.dir`` (``{env}`` is replaced; relative to the config file) must exist. The backend
configuration comes from ``terraform.backend_config`` (a file relative to the environment's
directory, or key/value pairs) or, when that is unset, ``backend.hcl`` in that directory; a root
whose ``backend`` block is partial (``backend "s3" {}``) with neither is refused before terraform
runs, naming the file expected. Var files are relative to the environment's directory too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_py.config import Settings
from pipeline_py.errors import BadInput
from pipeline_py.report import Reporter
from pipeline_py.terraform.mirror import Mirror, find_mirror
from pipeline_py.terraform.runner import Completed, Terraform

DEFAULT_BACKEND_FILE = "backend.hcl"
DATA_DIR = ".terraform"
_BACKEND_BLOCK = re.compile(r'^\s*backend\s+"([A-Za-z0-9_-]+)"\s*\{(?P<body>[^}]*)\}', re.M)
_CLOUD_BLOCK = re.compile(r"^\s*cloud\s*\{", re.M)
_COMMENT = re.compile(r"(#|//)[^\n]*|/\*.*?\*/", re.S)
_AUTO_VAR_FILES = ("terraform.tfvars", "terraform.tfvars.json")


@dataclass
class TfEnv:
    env: str
    dir: Path  # the environment's directory: backend.hcl, terraform.tfvars, plan files
    root: Path  # the root module terraform runs in (the same as dir with one root per environment)
    data_dir: Path  # TF_DATA_DIR
    backend_args: list[str] = field(default_factory=list)
    backend_source: Any = None
    backend_type: str | None = None
    var_files: list[Path] = field(default_factory=list)
    mirror: Mirror | None = None

    @property
    def shared(self) -> bool:
        """Whether the root module is shared with other environments (terraform runs with -chdir)."""
        return self.root != self.dir

    def default_plan_file(self) -> Path:
        return self.dir / f"{self.env}.tfplan"

    def initialized(self) -> bool:
        return self.data_dir.is_dir()

    def describe_backend(self) -> Any:
        if isinstance(self.backend_source, Path):
            return str(self.backend_source)
        if isinstance(self.backend_source, dict):
            return {"keys": sorted(self.backend_source)}
        return self.backend_source

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "dir": str(self.dir), "root": str(self.root), "data_dir": str(self.data_dir),
                "backend_config": self.describe_backend(),
                "var_files": [str(f) for f in self.var_files],
                "plugin_dir": self.mirror.to_dict() if self.mirror else None}


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


def _configured_path(raw: str, env: str, base: Path) -> Path:
    value = raw.replace("{env}", env)
    return Path(value) if Path(value).is_absolute() else base / value


def _tf_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.tf"), *directory.glob("*.tf.json")])


def _environment_dir(env: str, raw: str, base: Path) -> Path:
    tf_dir = _configured_path(raw, env, base)
    if not tf_dir.is_dir():
        parent = tf_dir.parent
        existing = sorted(p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if parent.is_dir() else []
        raise BadInput(
            f"terraform directory for environment {env!r} not found: {tf_dir} (terraform.dir = {raw!r}; "
            f"existing in {parent}: {', '.join(existing) or 'none'})"
        )
    return tf_dir.resolve()


def _root_dir(env: str, raw: str | None, tf_dir: Path, base: Path) -> Path:
    if raw is None:
        root = tf_dir
    else:
        root = _configured_path(raw, env, base)
        if not root.is_dir():
            raise BadInput(f"terraform root module not found: {root} (terraform.root = {raw!r}, relative to {base})")
        root = root.resolve()
    if not _tf_files(root):
        hint = "" if raw is not None else (" (terraform.root is unset: if the environments share one root module, "
                                           "set terraform.root to it)")
        raise BadInput(f"{root}: no terraform configuration (*.tf) in the directory for environment {env!r}{hint}")
    if root != tf_dir:
        stray = _tf_files(tf_dir)
        if stray:
            names = ", ".join(p.name for p in stray)
            raise BadInput(
                f"{tf_dir} holds terraform configuration ({names}) that terraform would not read: environment "
                f"{env!r} runs the shared root module {root} (terraform.root). Move it into the root module, or "
                f"keep only backend.hcl and *.tfvars in the environment's directory"
            )
    return root


@dataclass(frozen=True)
class Workspace:
    """Where an environment's terraform runs from: the environment's name, the directory paths in the
    config are relative to, the process environment terraform inherits, and the narration."""

    env: str
    base_dir: Path
    environ: Mapping[str, str]
    reporter: Reporter


def _data_dir(ws: Workspace, tf_dir: Path, shared: bool) -> Path:
    inherited = ws.environ.get("TF_DATA_DIR")
    own = tf_dir / DATA_DIR
    if not shared:
        return Path(inherited) if inherited and Path(inherited).is_absolute() else tf_dir / (inherited or DATA_DIR)
    if inherited and os.path.abspath(inherited) != str(own):
        ws.reporter.warn(f"TF_DATA_DIR={inherited} ignored: with a shared root module each environment keeps "
                          f"its own ({own})")
    return own


def resolve(settings: Settings, ws: Workspace) -> TfEnv:
    env = ws.env
    cfg = settings.terraform
    base = ws.base_dir
    tf_dir = _environment_dir(env, cfg.dir, base)
    root = _root_dir(env, cfg.root, tf_dir, base)
    out = TfEnv(env=env, dir=tf_dir, root=root, data_dir=_data_dir(ws, tf_dir, root != tf_dir))
    out.backend_type, partial = declared_backend(root)
    partial = partial and out.backend_type != "local"  # the local backend needs no settings
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
            f"missing backend configuration for environment {env!r}: {root} declares backend "
            f"\"{out.backend_type}\" without settings and {tf_dir / DEFAULT_BACKEND_FILE} does not exist "
            f"(create it, or set terraform.backend_config to a file or key/value pairs)"
        )
    if out.shared:
        _separate_local_state(out)
        out.var_files += [tf_dir / name for name in _AUTO_VAR_FILES if (tf_dir / name).is_file()]
        out.var_files += sorted([*tf_dir.glob("*.auto.tfvars"), *tf_dir.glob("*.auto.tfvars.json")])
    for name in cfg.var_files:
        path = Path(name) if Path(name).is_absolute() else tf_dir / name
        if not path.is_file():
            raise BadInput(f"var file {path} not found (terraform.var_files, relative to {tf_dir})")
        out.var_files.append(path.resolve())
    out.mirror = find_mirror(cfg.plugin_dir, ws.environ, base_dir=base)
    return out


def _separate_local_state(tfenv: TfEnv) -> None:
    """A shared root must not keep every environment's state in one local file."""
    if tfenv.backend_type is None:
        raise BadInput(
            f"{tfenv.root} is shared by the environments (terraform.root) but declares no backend, so every "
            f"environment's state would be {tfenv.root / 'terraform.tfstate'}: declare one (backend \"s3\" {{}} "
            f"with each environment's backend.hcl, or backend \"local\" {{}}, kept in the environment's directory)"
        )
    if tfenv.backend_type == "local" and tfenv.backend_source is None:
        state = tfenv.dir / "terraform.tfstate"
        tfenv.backend_source = {"path": str(state)}
        tfenv.backend_args = [f"-backend-config=path={state}"]


def terraform(settings: Settings, tfenv: TfEnv, ws: Workspace) -> Terraform:
    cfg = settings.terraform
    return Terraform(tfenv.root, ws.reporter, environ=dict(ws.environ), mirror=tfenv.mirror,
                     lock_timeout=cfg.lock_timeout, binary=cfg.binary, parallelism=cfg.parallelism,
                     cwd=tfenv.dir if tfenv.shared else None, data_dir=tfenv.data_dir if tfenv.shared else None)


def var_file_args(tfenv: TfEnv) -> list[str]:
    return [f"-var-file={f}" for f in tfenv.var_files]


def init_args(tfenv: TfEnv, *, upgrade: bool = False) -> list[str]:
    return ["init", "-input=false", *tfenv.backend_args, *(["-upgrade"] if upgrade else [])]


def init(tf: Terraform, tfenv: TfEnv, *, upgrade: bool = False) -> Completed:
    return tf.check(tf.run(*init_args(tfenv, upgrade=upgrade)), "init")


def ensure_init(tf: Terraform, tfenv: TfEnv) -> None:
    """Initialise a fresh checkout (CI workspaces start without .terraform)."""
    if not tfenv.initialized():
        tf.reporter.step(f"terraform init ({tfenv.env}: {tfenv.data_dir} does not exist yet)")
        init(tf, tfenv)
