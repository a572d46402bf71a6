"""Plan summaries and the destroy guard on terraform's JSON plan format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline_py.errors import BadInput
from pipeline_py.terraform.plan import (
    DEFAULT_PROTECTED_TYPES,
    blocked_changes,
    blocked_message,
    deletion_protection,
    protected_changes,
    read_record,
    record_path,
    sha256,
    summarize,
    update_record,
    write_record,
)


def rc(address: str, actions: list[str], *, mode: str = "managed", **extra: Any) -> dict[str, Any]:
    rtype = address.split(".")[-2] if address.count(".") >= 1 else address
    return {"address": address, "mode": mode, "type": extra.pop("type", rtype), "change": {"actions": actions,
            **extra.pop("change", {})}, **extra}


def plan(*changes: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": list(changes), **top}


def test_counts_each_action_once_with_addresses() -> None:
    s = summarize(plan(
        rc("module.net.aws_vpc.this", ["create"]),
        rc("aws_ecs_service.blue", ["update"]),
        rc("aws_db_instance.this", ["delete", "create"], action_reason="replace_because_cannot_update"),
        rc("aws_lb_target_group.blue", ["create", "delete"]),
        rc("aws_sqs_queue.old", ["delete"]),
        rc("aws_s3_bucket.logs", ["no-op"]),
        rc("data.aws_region.current", ["read"], mode="data"),
    ))
    d = s.to_dict()
    assert (d["add"], d["change"], d["destroy"], d["replace"]) == (1, 1, 1, 2)
    assert d["addresses"]["replace"] == ["aws_db_instance.this", "aws_lb_target_group.blue"]
    assert d["addresses"]["destroy"] == ["aws_sqs_queue.old"]
    assert d["replace_reasons"] == {"aws_db_instance.this": "replace_because_cannot_update"}
    assert d["has_changes"] is True
    assert s.line() == "1 to add, 1 to change, 1 to destroy, 2 to replace"


def test_no_changes_outputs_forget_import_and_drift() -> None:
    empty = summarize(plan(rc("aws_vpc.this", ["no-op"])))
    assert empty.to_dict()["has_changes"] is False and empty.to_dict()["addresses"] == {}
    s = summarize(plan(
        rc("aws_iam_role.legacy", ["forget"]),
        rc("aws_ecr_repository.app", ["no-op"], change={"importing": {"id": "app"}}),
        output_changes={"url": {"actions": ["update"]}, "same": {"actions": ["no-op"]}},
        resource_drift=[{"address": "aws_lb.this"}],
    ))
    d = s.to_dict()
    assert d["forget"] == 1 and d["import"] == 1 and d["destroy"] == 0
    assert d["outputs_changed"] == ["url"] and d["drift"] == ["aws_lb.this"]
    assert protected_changes(s) == [], "forgetting a resource does not destroy it"


def test_deposed_objects_are_named() -> None:
    s = summarize(plan(rc("aws_kms_key.this", ["delete"], deposed="a1b2c3")))
    assert s.addresses("destroy") == ["aws_kms_key.this (deposed a1b2c3)"]


def test_guard_finds_deletions_and_replacements_of_protected_types() -> None:
    s = summarize(plan(
        rc("module.rds.aws_db_instance.this", ["delete", "create"]),
        rc("aws_kms_key.rds", ["delete"]),
        rc("aws_s3_bucket.state", ["update"]),
        rc("aws_ecs_service.blue", ["delete"]),
        rc("aws_ecr_repository.app", ["create"]),
    ))
    found = protected_changes(s)
    assert found == [
        {"address": "module.rds.aws_db_instance.this", "type": "aws_db_instance", "action": "replace"},
        {"address": "aws_kms_key.rds", "type": "aws_kms_key", "action": "destroy"},
    ]
    for t in ("aws_db_instance", "aws_s3_bucket", "aws_kms_key", "aws_ecr_repository", "aws_dynamodb_table"):
        assert t in DEFAULT_PROTECTED_TYPES


def test_guard_types_are_configurable_globs() -> None:
    s = summarize(plan(rc("aws_ecs_service.blue", ["delete"]), rc("aws_db_instance.this", ["delete"])))
    assert [p["address"] for p in protected_changes(s, ["aws_ecs_*"])] == ["aws_ecs_service.blue"]
    assert protected_changes(s, []) == []


def test_rejects_what_is_not_a_plan() -> None:
    with pytest.raises(BadInput, match="not a terraform plan"):
        summarize({"values": {}})


def test_record_holds_checksum_and_round_trips(tmp_path: Path) -> None:
    plan_file = tmp_path / "staging.tfplan"
    plan_file.write_bytes(b"PK\x03\x04 not really a zip")
    record = write_record(plan_file, env="staging", allow_destroy=False, summary={"add": 1})
    assert record_path(plan_file).name == "staging.tfplan.json"
    assert record["sha256"] == sha256(plan_file) and len(record["sha256"]) == 64
    assert read_record(plan_file)["summary"] == {"add": 1}
    update_record(plan_file, applied="now")
    assert read_record(plan_file)["applied"] == "now"
    record_path(plan_file).write_text("{oops")
    with pytest.raises(BadInput, match="unreadable plan record"):
        read_record(plan_file)
    assert read_record(tmp_path / "other.tfplan") is None


def test_deletion_protection_in_the_prior_state_blocks_what_apply_could_not_complete() -> None:
    """issue 14: `plan --allow-destroy` let through the replacement of an RDS instance with deletion
    protection; the apply then failed midway. The guard reads the protection from the prior state."""
    s = summarize(plan(
        rc("module.rds[0].aws_db_instance.this", ["delete", "create"], action_reason="replace_because_cannot_update",
           change={"before": {"deletion_protection": True, "username": "app_admin"},
                   "after": {"deletion_protection": True, "username": "app_owner"},
                   "replace_paths": [["username"]]}),
        rc("module.alb.aws_lb.this", ["create", "delete"],
           change={"before": {"enable_deletion_protection": True}, "replace_paths": [["name"], ["internal"]]}),
        rc("aws_dynamodb_table.locks", ["delete"], change={"before": {"deletion_protection_enabled": True}}),
        rc("aws_cognito_user_pool.users", ["delete"], change={"before": {"deletion_protection": "ACTIVE"}}),
        rc("aws_db_instance.scratch", ["delete", "create"], change={"before": {"deletion_protection": False}}),
        rc("aws_rds_cluster.c", ["update"], change={"before": {"deletion_protection": True},
                                                    "after": {"deletion_protection": False}}),
        rc("aws_instance.bastion", ["delete"], change={"before": {"disable_api_termination": False}}),
    ))
    blocked = blocked_changes(s)
    assert blocked == [
        {"address": "module.rds[0].aws_db_instance.this", "type": "aws_db_instance", "action": "replace",
         "protection": "deletion_protection", "replace_paths": ["username"]},
        {"address": "module.alb.aws_lb.this", "type": "aws_lb", "action": "replace",
         "protection": "enable_deletion_protection", "replace_paths": ["name", "internal"]},
        {"address": "aws_dynamodb_table.locks", "type": "aws_dynamodb_table", "action": "destroy",
         "protection": "deletion_protection_enabled"},
        {"address": "aws_cognito_user_pool.users", "type": "aws_cognito_user_pool", "action": "destroy",
         "protection": "deletion_protection"},
    ], "unprotected replacements, in-place updates (turning protection off) and no-ops are not blocked"
    assert [p["address"] for p in protected_changes(s)] == [
        "module.rds[0].aws_db_instance.this", "aws_dynamodb_table.locks", "aws_cognito_user_pool.users",
        "aws_db_instance.scratch"], "aws_lb is not a protected type: only its deletion protection blocks it"
    message = blocked_message(blocked[:1])
    assert "module.rds[0].aws_db_instance.this would be replaced (the replacement is forced by username)" in message
    assert "deletion_protection is on" in message and "--allow-destroy cannot change that" in message
    assert "turn deletion protection off in a separate apply first" in message
    assert "avoid the replacement (revert the change to username)" in message
    assert message.endswith("The plan file was deleted")
    only_destroy = blocked_message(blocked[2:3], ending="Nothing was applied")
    assert "avoid the deletion (keep the resource in the configuration)" in only_destroy
    assert only_destroy.endswith("Nothing was applied")


def test_deletion_protection_values() -> None:
    assert deletion_protection({"deletion_protection": True}) == "deletion_protection"
    assert deletion_protection({"deletion_protection": "ACTIVE"}) == "deletion_protection"
    assert deletion_protection({"deletion_protection": "INACTIVE"}) is None
    assert deletion_protection({"enable_deletion_protection": None, "disable_api_termination": True}) == \
        "disable_api_termination"
    assert deletion_protection(None) is None and deletion_protection({}) is None
    s = summarize(plan(rc("aws_db_instance.gone", ["delete"])))  # no prior state in the plan: nothing to read
    assert blocked_changes(s) == []
