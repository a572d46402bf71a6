"""Put a static busybox into the sample app's build context (``examples/task-api/bin/busybox``).

The sample image is ``FROM scratch`` (no public registry is needed), so its whole userland is one
statically linked busybox taken from the host (Debian's ``busybox-static``). A Dockerfile cannot
reach outside its context, hence this explicit copy; the copy is gitignored.

    python -m pipeline_py.local.busybox examples/task-api
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
from pathlib import Path

from pipeline_py.errors import BadInput

SOURCE = Path("/bin/busybox")
APPLETS_NEEDED = ("sh", "nc", "awk", "usleep", "wget")


def check_static_busybox(path: Path) -> None:
    """BadInput unless ``path`` is a statically linked busybox with the applets the app uses."""
    if not path.is_file():
        raise BadInput(f"{path} not found: install Debian's busybox-static (apt-get install busybox-static)")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.startswith(b"\x7fELF"):
        raise BadInput(f"{path} is not an ELF binary")
    if b"/lib64/ld-linux" in head or b"/lib/ld-linux" in head or b"ld-musl" in head:
        raise BadInput(f"{path} is dynamically linked; a FROM scratch image needs busybox-static")
    try:
        listed = subprocess.run([str(path), "--list"], capture_output=True, text=True, timeout=10).stdout.split()
    except OSError as exc:
        raise BadInput(f"{path} cannot run: {exc}") from None
    missing = [a for a in APPLETS_NEEDED if a not in listed]
    if missing:
        raise BadInput(f"{path} lacks the applets {', '.join(missing)}")


def ensure_busybox(context_dir: str | Path, source: Path = SOURCE) -> Path:
    """Copy ``source`` to ``<context_dir>/bin/busybox`` (mode 0755) unless an identical copy is
    there; returns the destination."""
    dest = Path(context_dir) / "bin" / "busybox"
    if dest.is_file() and (not source.exists() or filecmp.cmp(source, dest, shallow=False)):
        return dest
    check_static_busybox(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.chmod(0o755)
    tmp.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline_py.local.busybox", description=__doc__.splitlines()[0])
    ap.add_argument("context", nargs="?", default="examples/task-api", help="the sample app's directory")
    ap.add_argument("--source", type=Path, default=SOURCE)
    a = ap.parse_args(argv)
    try:
        print(ensure_busybox(a.context, a.source))
    except BadInput as exc:
        print(f"error: {exc.message}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
