"""Helpers that several modules share since the duplicate clean-up (issue 12): one duration text for
people, one option-duration parser for the commands, one process liveness check for the local stack."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from pipeline_py.clock import age_text
from pipeline_py.commands._shared import duration_option, positive_duration
from pipeline_py.errors import BadInput
from pipeline_py.local.procs import pid_alive
from tests.conftest import wait_for


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (7199, "119m"), (7200, "2h"), (7500, "2h05m"),
    (90000, "25h"),
])
def test_age_text(seconds: float, text: str) -> None:
    assert age_text(timedelta(seconds=seconds)) == text


def test_option_durations_name_the_option() -> None:
    assert duration_option("0", "--wait-for-lock") == 0.0
    assert positive_duration("15m", "--since") == 900.0
    with pytest.raises(BadInput) as zero:
        positive_duration("0", "--timeout")
    assert str(zero.value) == "--timeout '0': must be more than 0"
    with pytest.raises(BadInput) as bad:
        positive_duration("soon", "--since")
    assert str(bad.value).startswith("--since 'soon': ")


def test_pid_alive_treats_a_zombie_as_gone() -> None:
    assert pid_alive(os.getpid()) and not pid_alive(None) and not pid_alive(0)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_for(lambda: not pid_alive(child.pid), timeout=10, what="the child to exit (unreaped)")
    finally:
        child.wait(timeout=10)
    assert not pid_alive(child.pid)
