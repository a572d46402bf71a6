"""Reading terraform's diagnostics and turning failures into the CLI's exit codes."""

from __future__ import annotations

import io
from pathlib import Path

from pipeline_py.errors import BadInput, HumanNeeded, OperationFailed
from pipeline_py.report import Reporter
from pipeline_py.terraform.mirror import Mirror
from pipeline_py.terraform.runner import Completed, Terraform, lock_info, parse_diagnostics, redact_vars

LOCKED_PLAIN = """Acquiring state lock. This may take a few moments...

Error: Error acquiring the state lock

Error message: operation error DynamoDB: PutItem, https response error
StatusCode: 400, RequestID: LQLl, ConditionalCheckFailedException: The conditional request failed
Lock Info:
  ID:        9669d602-6808-21d6-3151-ef40fb2217b6
  Path:      task-api-state/task-api/staging/terraform.tfstate
  Operation: OperationTypeApply
  Who:       jenkins@agent-7
  Version:   1.11.4
  Created:   2026-11-27 05:46:17.691606815 +0000 UTC
  Info:


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time.
"""

LOCKED_BOXED = """\x1b[31m╷\x1b[0m\x1b[0m
\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mError acquiring the state lock\x1b[0m
\x1b[31m│\x1b[0m \x1b[0m
\x1b[31m│\x1b[0m \x1b[0mError message: resource temporarily unavailable
\x1b[31m│\x1b[0m \x1b[0mLock Info:
\x1b[31m│\x1b[0m \x1b[0m  ID:        d6793ca9
\x1b[31m│\x1b[0m \x1b[0m  Path:      terraform.tfstate
\x1b[31m│\x1b[0m \x1b[0m  Operation: OperationTypeInvalid
\x1b[31m│\x1b[0m \x1b[0m  Who:       dev@laptop
\x1b[31m│\x1b[0m \x1b[0m  Version:   1.11.4
\x1b[31m│\x1b[0m \x1b[0m  Created:   2026-11-27 05:42:24 +0000 UTC
\x1b[31m│\x1b[0m \x1b[0m  Info:
\x1b[31m│\x1b[0m \x1b[0m
\x1b[31m│\x1b[0m \x1b[0mTerraform acquires a state lock to protect the state.
\x1b[31m╵\x1b[0m\x1b[0m
"""

TFVARS = """Planning failed. Terraform encountered an error while generating this plan.

Error: Invalid value for input variable

  on terraform.tfvars line 1:
   1: size = "big"

The given value is not suitable for var.size declared at main.tf:1,1-16: a
number is required.

Warning: Value for undeclared variable

The root module does not declare a variable named "nope".
"""

API = """module.rds[0].aws_db_instance.this: Creating...

Error: creating RDS DB Instance (task-api-staging): InvalidParameterCombination: nope

  with module.rds[0].aws_db_instance.this,
  on ../../modules/rds/main.tf line 46, in resource "aws_db_instance" "this":
  46: resource "aws_db_instance" "this" {
"""

CONFIG = """
Error: Unsupported argument

  on main.tf line 4, in resource "terraform_data" "x":
   4:   colour = "blue"

An argument named "colour" is not expected here.
"""


def tf(tmp_path: Path, **kw: object) -> Terraform:
    return Terraform(tmp_path, Reporter(stream=io.StringIO(), timestamps=False), environ={}, lock_timeout=2, **kw)


def test_diagnostics_plain_and_boxed() -> None:
    plain = parse_diagnostics(TFVARS)
    assert [(d.severity, d.summary) for d in plain] == [
        ("error", "Invalid value for input variable"), ("warning", "Value for undeclared variable")]
    assert "a\nnumber is required." in plain[0].detail and "on terraform.tfvars line 1:" in plain[0].detail
    boxed = parse_diagnostics(LOCKED_BOXED)
    assert len(boxed) == 1 and boxed[0].summary == "Error acquiring the state lock"
    assert "Who:       dev@laptop" in boxed[0].detail and "\x1b" not in boxed[0].detail


def test_lock_info_from_either_rendering() -> None:
    info = lock_info(LOCKED_PLAIN)
    assert info == {"id": "9669d602-6808-21d6-3151-ef40fb2217b6",
                    "path": "task-api-state/task-api/staging/terraform.tfstate",
                    "operation": "OperationTypeApply", "who": "jenkins@agent-7", "version": "1.11.4",
                    "created": "2026-11-27 05:46:17.691606815 +0000 UTC", "info": ""}
    assert lock_info(LOCKED_BOXED)["who"] == "dev@laptop"
    assert lock_info(TFVARS) is None


def test_lock_contention_names_the_holder(tmp_path: Path) -> None:
    err = tf(tmp_path).failure(Completed(["terraform", "plan"], 1, output=LOCKED_PLAIN,
                                         diagnostics=parse_diagnostics(LOCKED_PLAIN)), "plan")
    assert isinstance(err, OperationFailed)
    assert "locked by jenkins@agent-7 (apply, since 2026-11-27 05:46:17" in err.message
    assert "waited 2s" in err.message and "force-unlock 9669d602-6808-21d6-3151-ef40fb2217b6" in err.message
    assert err.result["lock"]["operation"] == "OperationTypeApply"


def test_a_lock_error_without_lock_info_is_not_contention(tmp_path: Path) -> None:
    text = ("\nError: Error acquiring the state lock\n\nError message: ResourceNotFoundException: "
            "Requested resource not found (table task-api-terraform-locks)\n")
    err = tf(tmp_path).failure(Completed(["terraform", "plan"], 1, output=text,
                                         diagnostics=parse_diagnostics(text)), "plan")
    assert isinstance(err, OperationFailed) and "lock" not in err.result
    assert "could not take the state lock" in err.message and "ResourceNotFoundException" in err.message
    console = LOCKED_BOXED
    err = tf(tmp_path).failure(Completed(["terraform", "plan"], 1, output=console,
                                         diagnostics=parse_diagnostics(console)), "plan")
    assert "locked by dev@laptop (a console or state command" in err.message


def test_stale_plan_input_errors_and_failed_applies(tmp_path: Path) -> None:
    t = tf(tmp_path)

    def failure(text: str, action: str) -> Exception:
        return t.failure(Completed(["terraform", action], 1, output=text, diagnostics=parse_diagnostics(text)), action)

    stale = failure("\nError: Saved plan is stale\n\nThe given plan file can no longer be applied.\n", "apply")
    assert isinstance(stale, OperationFailed) and stale.result["stale"] is True
    bad = failure(TFVARS, "plan")
    assert isinstance(bad, BadInput)
    assert 'on terraform.tfvars line 1:\n   1: size = "big"' in bad.message
    assert "Value for undeclared variable" not in bad.message, "warnings are not quoted as the cause"
    assert isinstance(failure(CONFIG, "plan"), BadInput)
    assert isinstance(failure(API.replace(": Creating...", ""), "plan"), OperationFailed)
    partial = failure(API, "apply")
    assert isinstance(partial, HumanNeeded) and "does not roll back" in partial.message
    opaque = t.failure(Completed(["terraform", "plan"], 1, output="boom\n"), "plan")
    assert isinstance(opaque, OperationFailed) and "boom" in opaque.message


def test_commands_never_prompt_and_hide_secret_vars(tmp_path: Path) -> None:
    t = tf(tmp_path)
    assert t.command("plan", "-input=false")[:3] == ["terraform", "plan", "-no-color"]
    assert t.command("output", "-json") == ["terraform", "output", "-json"]
    assert tf(tmp_path, color=True).command("plan") == ["terraform", "plan"]
    env = t.env()
    assert (env["TF_IN_AUTOMATION"], env["TF_INPUT"]) == ("1", "0")
    assert redact_vars(["-var=db_password=hunter2", "-var=size=3", "-var-file=x.tfvars"]) == [
        "-var=db_password=****", "-var=size=3", "-var-file=x.tfvars"]


def test_cli_config_carries_the_mirror_and_keeps_the_users_own(tmp_path: Path) -> None:
    mirror = Mirror(tmp_path / "mirror", ("registry.terraform.io/hashicorp/aws",), "discovered")
    user = tmp_path / "user.rc"
    user.write_text('credentials "app.terraform.io" {\n  token = "x"\n}\n')
    with Terraform(tmp_path, Reporter(stream=io.StringIO()), environ={"TF_CLI_CONFIG_FILE": str(user)},
                   mirror=mirror) as t:
        written = Path(t.env()["TF_CLI_CONFIG_FILE"])
        text = written.read_text()
        assert 'credentials "app.terraform.io"' in text and "filesystem_mirror" in text
    assert not written.exists(), "the temporary CLI config is removed afterwards"
    user.write_text("provider_installation {\n  direct {}\n}\n")
    with Terraform(tmp_path, Reporter(stream=io.StringIO()), environ={"TF_CLI_CONFIG_FILE": str(user)},
                   mirror=mirror) as t:
        assert t.env()["TF_CLI_CONFIG_FILE"] == str(user), "an explicit provider_installation is respected"
    with Terraform(tmp_path, Reporter(stream=io.StringIO()), environ={"TF_CLI_CONFIG_FILE": "/nonexistent.rc"}) as t:
        assert Path(t.env()["TF_CLI_CONFIG_FILE"]).is_file(), "a dangling CLI config path is replaced"


def test_a_shared_root_runs_with_chdir_and_the_environments_data_dir(tmp_path: Path) -> None:
    root, env_dir = tmp_path / "stack", tmp_path / "environments" / "dev"
    t = Terraform(root, Reporter(stream=io.StringIO(), timestamps=False), environ={"TF_DATA_DIR": "/elsewhere"},
                  lock_timeout=2, cwd=env_dir, data_dir=env_dir / ".terraform")
    assert t.command("plan", "-input=false") == ["terraform", f"-chdir={root}", "plan", "-no-color", "-input=false"]
    assert t.command("output", "-json") == ["terraform", f"-chdir={root}", "output", "-json"]
    assert t.env()["TF_DATA_DIR"] == str(env_dir / ".terraform")
    data_dir = env_dir / ".terraform"
    assert t.display(t.command("init")) == f"TF_DATA_DIR={data_dir} terraform -chdir={root} init -no-color"
    err = t.failure(Completed(["terraform", "plan"], 1, output=LOCKED_PLAIN,
                              diagnostics=parse_diagnostics(LOCKED_PLAIN)), "plan")
    assert (f"`TF_DATA_DIR={env_dir / '.terraform'} terraform -chdir={root} force-unlock "
            f"9669d602-6808-21d6-3151-ef40fb2217b6`") in err.message
    classic = tf(tmp_path)
    assert "TF_DATA_DIR" not in classic.env() and classic.display(["terraform", "init"]) == "terraform init"
    assert classic.hint("force-unlock", "x") == f"`terraform force-unlock x` in {tmp_path}"
