"""State files that chain laptop runs without copy-paste: ``build`` → ``push`` → ``render``/``deploy``.

``<base_dir>/.pipeline-py/last-build.json``: ``{"image_id", "tags", "references", "repository",
"built_at"}``, written by ``build``, read by ``push`` when no ``--image`` is given.

``<base_dir>/.pipeline-py/last-push.json``: ``{"image": "<repository_uri>@sha256:…",
"repository_uri", "digest", "tags", "pushed_at"}``, written by ``push``, read by ``render`` and
``deploy`` when no ``--image`` is given. Neither file holds a secret.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline_py.errors import BadInput

STATE_DIR = ".pipeline-py"
LAST_BUILD = "last-build.json"
LAST_PUSH = "last-push.json"


def state_path(base_dir: str | os.PathLike[str], name: str) -> Path:
    return Path(base_dir) / STATE_DIR / name


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _read(path: Path, required: tuple[str, ...], written_by: str) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadInput(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); run `pipeline-py {written_by}` "
                       "again or delete the file") from None
    missing = [k for k in required if not (isinstance(data, dict) and data.get(k))]
    if missing:
        raise BadInput(f"{path}: missing {', '.join(missing)}; run `pipeline-py {written_by}` again")
    return data


def write_last_build(base_dir: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    return _write(state_path(base_dir, LAST_BUILD), data)


def read_last_build(base_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    return _read(state_path(base_dir, LAST_BUILD), ("image_id", "tags"), "build")


def write_last_push(base_dir: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    return _write(state_path(base_dir, LAST_PUSH), data)


def read_last_push(base_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last pushed image of this config directory, or None; ``["image"]`` is the pinned
    ``<repository_uri>@sha256:…`` reference a task definition should use."""
    return _read(state_path(base_dir, LAST_PUSH), ("image", "repository_uri", "digest"), "push")
