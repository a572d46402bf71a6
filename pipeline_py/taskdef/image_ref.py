"""Which image to render: ``--image`` or what ``push`` recorded last, and names derived from it."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline_py.errors import BadInput
from pipeline_py.images import state as last_image

_REF = re.compile(r"^[^\s@]+(@sha256:[0-9a-f]{64})?$")


def resolve_image(explicit: str | None, base_dir: Path) -> str:
    """``--image`` when given, else the image ``push`` recorded in ``.pipeline-py/last-push.json``."""
    if explicit is not None:
        return check_ref(explicit.strip(), "--image")
    data = last_image.read_last_push(base_dir)
    if data is None:
        raise BadInput("no image: pass --image REF or run `pipeline-py push` first")
    image = data["image"]
    if not isinstance(image, str):
        raise BadInput(f"{last_image.state_path(base_dir, last_image.LAST_PUSH)}: \"image\" is not a string; "
                       "run `pipeline-py push` again or pass --image REF")
    return check_ref(image.strip(), str(last_image.state_path(base_dir, last_image.LAST_PUSH)))


def check_ref(ref: str, source: str) -> str:
    if not ref or not _REF.match(ref):
        raise BadInput(f"{source}: {ref!r} is not an image reference (REPOSITORY[:TAG][@sha256:DIGEST])")
    return ref


def split_ref(ref: str) -> tuple[str, str | None, str | None]:
    """``host/repo:tag@sha256:…`` → (``host/repo``, ``tag``, ``sha256:…``)."""
    name, _, digest = ref.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def version_of(ref: str) -> str:
    """A human version label: the tag, else the short digest, else ``latest``."""
    _, tag, digest = split_ref(ref)
    if tag:
        return tag
    if digest:
        return digest.split(":", 1)[1][:12]
    return "latest"
