"""What `pipeline-py rollback` answers when there is little to go on: a dry run's result keys, a
current revision that is itself known-good, a family with no ACTIVE revision left, and a lock someone
else holds (issue 21: each assertion here failed on a mutant that survived the unit tier)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipeline_py.deploy.locking import Holder
from pipeline_py.deploy.rollback import KNOWN_GOOD_TAG, RollbackRequest, run_rollback
from pipeline_py.errors import BadInput, HumanNeeded
from tests.fakes import HOLDER
from tests.unit.test_rollback_and_traffic import rollback, service_with, serving


def test_a_dry_run_result_names_the_service_and_both_revisions() -> None:
    w, arns = service_with(3, current=3, known_good="app:3 app:1")
    res = run_rollback(w.ports, RollbackRequest(cluster="c", service="app", timeout=90), holder=HOLDER, dry_run=True)
    assert res == {
        "status": "dry_run", "cluster": "c", "service": "app", "task_definition_arn": arns[0],
        "previous_task_definition_arn": arns[2], "found_by": f"last known-good revision (tag {KNOWN_GOOD_TAG})",
        "known_good": ["app:3", "app:1"], "target_known_good": True, "current_known_good": True,
        "plan": [f"ecs:UpdateService c/app taskDefinition={arns[0]}", "watch to steady state up to 90s"]}
    assert serving(w) == arns[2]


def test_with_no_active_revision_left_the_candidates_are_none() -> None:
    w, arns = service_with(1, current=1, known_good="")
    w.ecs.revisions[arns[0]]["status"] = "INACTIVE"  # the running revision was deregistered
    with pytest.raises(HumanNeeded) as err:
        rollback(w)
    assert err.value.message.endswith("automatically; candidates: none. Choose one with --to")
    assert err.value.result is not None and err.value.result["candidates"] == []


def test_a_rollback_while_another_deploy_holds_the_lock_is_refused_and_changes_nothing() -> None:
    w, arns = service_with(2, current=2, known_good="app:1")
    other = Holder(who="other@host", command="deploy", pid=2, host="host")
    w.locks.acquire("c/app", other, 600, datetime(2026, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(BadInput, match="another deploy is in progress: lock c/app"):
        rollback(w)
    assert serving(w) == arns[1]
