"""Process liveness for the local stack's background processes (moto server, registry, postgres)."""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """True while the process exists and is not a zombie (a signal we may not send still means alive)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child still "exists"; treat it as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
