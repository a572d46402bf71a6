"""Hand-written mutations that `make mutation` checks the unit tier kills (scripts/mutation_report.py).

Two kinds: what mutmut cannot make (it mutates function bodies only: not module-level tables such as the
Fargate size table, nor decorated functions such as pydantic validators), and the mutations issue 21's
audit found surviving the whole suite (or their successors after the restructure), kept so that they
stay killed. Each is one exact text replacement in one file; ``tests`` are the unit tests to run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HandMutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


TWO_COLOUR = ("tests/unit/test_two_colour_machine.py", "tests/unit/test_deploy_safety.py")
TASKDEF = ("tests/unit/test_taskdef_validate.py",)
CONFIG = ("tests/unit/test_config.py", "tests/unit/test_config_validators.py")
ROLLBACK = ("tests/unit/test_rollback_and_traffic.py", "tests/unit/test_rolling_machine.py")

HAND_MUTATIONS = [
    # ---- issue 21: survived the whole suite ----------------------------------------------------------
    HandMutation(
        "two-colour: a traffic restore that fails ends rolled_back (exit 1) instead of failed (exit 3)",
        "pipeline_py/deploy/two_colour.py",
        "            return self.finish(FAILED, f\"{failure}; {'; '.join(problems)}; run",
        "            return self.finish(ROLLED_BACK, f\"{failure}; {'; '.join(problems)}; run",
        TWO_COLOUR),
    HandMutation(
        "rollback: the oldest known-good revision instead of the newest (successor of max→min)",
        "pipeline_py/deploy/rollback.py",
        "    for label in good:\n        if label == td_label(current):",
        "    for label in reversed(good):\n        if label == td_label(current):",
        ROLLBACK),
    HandMutation(
        "taskdef: the Fargate table allows cpu 4096 in 2 GiB steps from 4 GiB (AWS: 1 GiB steps, 8–30 GiB)",
        "pipeline_py/taskdef/validation.py",
        "    4096: list(range(8192, 30720 + 1, 1024)),",
        "    4096: list(range(4096, 30720 + 1, 2048)),",
        TASKDEF),
    HandMutation(
        "analysis: the 5XX lower bound fails the canary when it only equals the limit (> → >=)",
        "pipeline_py/deploy/analysis.py",
        "    if lo > cfg.max_error_rate:",
        "    if lo >= cfg.max_error_rate:",
        ("tests/unit/test_analysis.py",)),
    # ---- issue 21: caught only by the integration tier ---------------------------------------------------
    HandMutation(
        "traffic: weights taken as set without reading them back",
        "pipeline_py/deploy/traffic.py",
        "            if seen == want:\n                return seen",
        "            if True:\n                return want",
        ("tests/unit/test_rollback_and_traffic.py",)),
    HandMutation(
        "rollback: the rollback deployment keeps the failed revision instead of the snapshot's",
        "pipeline_py/deploy/rollback.py",
        "after = ports.services.update(cluster, service, task_definition=target,",
        "after = ports.services.update(cluster, service, task_definition=view.task_definition,",
        ROLLBACK),
    # ---- module-level tables mutmut does not mutate -------------------------------------------------------
    HandMutation(
        "taskdef: cpu 1024 allows 9 GiB (AWS: 2–8 GiB)",
        "pipeline_py/taskdef/validation.py",
        "    1024: list(range(2048, 8192 + 1, 1024)),",
        "    1024: list(range(2048, 9216 + 1, 1024)),",
        TASKDEF),
    HandMutation(
        "taskdef: cpu 2048 starts at 2 GiB (AWS: 4–16 GiB)",
        "pipeline_py/taskdef/validation.py",
        "    2048: list(range(4096, 16384 + 1, 1024)),",
        "    2048: list(range(2048, 16384 + 1, 1024)),",
        TASKDEF),
    HandMutation(
        "taskdef: cpu 8192 in 8 GiB steps (AWS: 4 GiB steps, 16–60 GiB)",
        "pipeline_py/taskdef/validation.py",
        "    8192: list(range(16384, 61440 + 1, 4096)),",
        "    8192: list(range(16384, 61440 + 1, 8192)),",
        TASKDEF),
    HandMutation(
        "taskdef: cpu 16384 up to 128 GiB (AWS: 32–120 GiB)",
        "pipeline_py/taskdef/validation.py",
        "    16384: list(range(32768, 122880 + 1, 8192)),",
        "    16384: list(range(32768, 131072 + 1, 8192)),",
        TASKDEF),
    HandMutation(
        "taskdef: cpu 256 allows 3 GiB (AWS: 0.5, 1, 2 GiB)",
        "pipeline_py/taskdef/validation.py",
        "    256: [512, 1024, 2048],",
        "    256: [512, 1024, 2048, 3072],",
        TASKDEF),
    # ---- decorated validators mutmut does not mutate -----------------------------------------------------
    HandMutation(
        "config: canary steps may repeat a weight (<= → <)",
        "pipeline_py/config.py",
        "        if any(b <= a for a, b in itertools.pairwise(steps)):",
        "        if any(b < a for a, b in itertools.pairwise(steps)):",
        CONFIG),
    HandMutation(
        "config: canary steps need not end at 100",
        "pipeline_py/config.py",
        "        if steps[-1] != 100:",
        "        if steps[-1] > 100:",
        CONFIG),
    HandMutation(
        "config: a canary step of 0% is taken",
        "pipeline_py/config.py",
        "            if not 0 < s <= 100:",
        "            if not 0 <= s <= 100:",
        CONFIG),
    HandMutation(
        "config: any CloudWatch period that is a multiple of 30 is taken",
        "pipeline_py/config.py",
        "        if value not in (1, 5, 10, 20, 30) and value % 60:",
        "        if value not in (1, 5, 10, 20, 30) and value % 30:",
        CONFIG),
    HandMutation(
        "config: native percentages in hundredths are taken",
        "pipeline_py/config.py",
        "        if abs(value * 10 - round(value * 10)) > 1e-9:",
        "        if abs(value * 100 - round(value * 100)) > 1e-9:",
        CONFIG),
]
