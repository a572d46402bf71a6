"""`pipeline-py terraform` with the real terraform CLI on configurations that need no cloud
(built-in ``terraform_data`` resources, local state): summaries, the destroy guard, saved-plan
integrity, stale plans, lock contention, interrupts and bad input. Seconds each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline_py.terraform.plan import record_path
from tests.conftest import REPO, CliResult, run_cli, wait_for

pytestmark = pytest.mark.terraform

MAIN_TF = """
variable "size" {
  type = number

  validation {
    condition     = var.size > 0
    error_message = "size must be positive."
  }
}

variable "generation" {
  type    = number
  default = 1
}

variable "legacy" {
  type    = bool
  default = true
}

variable "db_password" {
  type      = string
  default   = "unset"
  sensitive = true
}

resource "terraform_data" "app" {
  input = var.size
}

resource "terraform_data" "db" {
  triggers_replace = var.generation
}

resource "terraform_data" "legacy" {
  count = var.legacy ? 1 : 0
  input = "old"
}

resource "terraform_data" "new" {
  count = var.legacy ? 0 : 1
  input = "new"
}

output "size" {
  value = terraform_data.app.output
}

output "password" {
  value     = var.db_password
  sensitive = true
}
"""


class Project:
    def __init__(self, root: Path, **terraform: Any) -> None:
        self.root = root
        self.dir = root / "infra" / "dev"
        self.dir.mkdir(parents=True)
        (self.dir / "main.tf").write_text(MAIN_TF)
        (self.dir / "terraform.tfvars").write_text("size = 3\n")
        self.write(**terraform)

    def write(self, **terraform: Any) -> None:
        (self.root / "pipeline.yaml").write_text(yaml.safe_dump({
            "service": "demo",
            "terraform": {"dir": "infra/{env}", "lock_timeout": "1s", "protected_types": ["terraform_data"],
                          **terraform},
            "environments": {"dev": {}, "qa": {}},
        }))

    def cli(self, *argv: str, env: str = "dev") -> CliResult:
        return run_cli("--config", str(self.root / "pipeline.yaml"), "--env", env, "--json", *argv)

    def ok(self, *argv: str) -> dict[str, Any]:
        res = self.cli(*argv)
        assert res.code == 0, res.stderr[-3000:]
        return res.json

    def state(self) -> dict[str, Any]:
        return json.loads((self.dir / "terraform.tfstate").read_text())


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def test_plan_summarises_a_real_plan_and_apply_applies_exactly_it(project: Project) -> None:
    first = project.ok("terraform", "plan")
    assert first["summary"]["add"] == 3 and first["changes"] is True
    assert Path(first["plan_file"]) == project.dir / "dev.tfplan"
    record = json.loads(record_path(project.dir / "dev.tfplan").read_text())
    assert record["sha256"] == first["sha256"] and record["env"] == "dev" and record["refused"] is False
    applied = project.ok("terraform", "apply")
    assert applied["applied"] is True and applied["outputs"] == {"size": 3, "password": "(sensitive)"}

    second = project.ok("terraform", "plan", "--var", "size=4", "--var", "legacy=false", "--allow-destroy",
                        "--var", "generation=2")
    s = second["summary"]
    assert (s["add"], s["change"], s["destroy"], s["replace"]) == (1, 1, 1, 1)
    assert s["addresses"] == {"add": ["terraform_data.new[0]"], "change": ["terraform_data.app"],
                              "destroy": ["terraform_data.legacy[0]"], "replace": ["terraform_data.db"]}
    assert s["replace_reasons"] == {"terraform_data.db": "replace_because_cannot_update"}
    assert {p["address"] for p in second["protected"]} == {"terraform_data.db", "terraform_data.legacy[0]"}
    project.ok("terraform", "apply")
    assert project.ok("terraform", "output", "--name", "size")["outputs"] == {"size": 4}
    assert project.ok("terraform", "plan", "--var", "size=4", "--var", "legacy=false", "--var", "generation=2")[
        "changes"] is False


def test_destroy_guard_refuses_unless_allowed(project: Project) -> None:
    project.ok("terraform", "plan")
    project.ok("terraform", "apply")
    res = project.cli("terraform", "plan", "--var", "generation=2")
    assert res.code == 1
    assert res.json["status"] == "refused" and res.json["error"] == "failed"
    assert res.json["protected"] == [{"address": "terraform_data.db", "type": "terraform_data", "action": "replace"}]
    assert "terraform_data.db (replace)" in res.json["message"]
    assert not (project.dir / "dev.tfplan").exists()
    assert json.loads(record_path(project.dir / "dev.tfplan").read_text())["refused"] is True
    again = project.cli("terraform", "apply")
    assert again.code == 2 and "was refused" in again.json["message"]

    project.write(protected_types=["aws_*"])
    assert project.cli("terraform", "plan", "--var", "generation=2").code == 0, "guarded types are configurable"


def test_apply_guards_plans_made_outside_pipeline_py(project: Project) -> None:
    project.ok("terraform", "plan")
    project.ok("terraform", "apply")
    env = {**os.environ, "TF_IN_AUTOMATION": "1"}
    subprocess.run(["terraform", "plan", "-input=false", "-var=generation=9", "-out=raw.tfplan"], cwd=project.dir,
                   env=env, check=True, capture_output=True)
    res = project.cli("terraform", "apply", "--plan-file", str(project.dir / "raw.tfplan"))
    assert res.code == 1 and res.json["status"] == "refused" and res.json["applied"] is False
    assert "no plan record" in res.stderr
    db = next(r for r in project.state()["resources"] if r["name"] == "db")
    assert db["instances"][0]["attributes"]["triggers_replace"]["value"] == 1, "nothing was applied"


def test_apply_refuses_a_stale_or_altered_plan(project: Project) -> None:
    project.ok("terraform", "plan")
    project.ok("terraform", "apply")
    a, b = project.root / "a.tfplan", project.root / "b.tfplan"
    project.ok("terraform", "plan", "--plan-file", str(a), "--var", "size=5")
    project.ok("terraform", "plan", "--plan-file", str(b), "--var", "size=6")
    project.ok("terraform", "apply", "--plan-file", str(b))
    stale = project.cli("terraform", "apply", "--plan-file", str(a))
    assert stale.code == 1 and stale.json["stale"] is True and stale.json["applied"] is False
    assert "plan again" in stale.json["message"] or "run `terraform plan` again" in stale.json["message"]
    assert project.ok("terraform", "output")["outputs"]["size"] == 6

    project.ok("terraform", "plan", "--plan-file", str(a), "--var", "size=7")
    with a.open("ab") as fh:
        fh.write(b"\0")
    altered = project.cli("terraform", "apply", "--plan-file", str(a))
    assert altered.code == 2 and "changed since it was planned" in altered.json["message"]

    other = Project(project.root / "other")
    (other.dir / "main.tf").write_text(MAIN_TF)
    other_plan = other.ok("terraform", "plan")["plan_file"]
    moved = project.cli("terraform", "apply", "--plan-file", other_plan)
    assert moved.code == 2 and "was planned in" in moved.json["message"]
    assert project.cli("terraform", "apply", "--plan-file", str(project.root / "none.tfplan")).code == 2


def test_dry_run_shows_commands_and_changes_nothing(project: Project) -> None:
    init = project.ok("--dry-run", "terraform", "init")
    assert init["commands"] == ["terraform init -no-color -input=false"]
    plan = project.ok("--dry-run", "terraform", "plan", "--var", "db_password=hunter2hunter2")
    assert plan["commands"][0].startswith("terraform init")
    assert "-var=db_password=****" in plan["commands"][1] and "hunter2" not in json.dumps(plan)
    assert "-lock-timeout=1s" in plan["commands"][1]
    assert not (project.dir / ".terraform").exists() and not (project.dir / "dev.tfplan").exists()
    params = project.root / "params.json"  # how Jenkins passes options
    params.write_text(json.dumps({"var": {"size": 4, "generation": 2}, "allow_destroy": True,
                                  "plan_file": str(project.root / "jenkins.tfplan")}))
    from_params = project.ok("--dry-run", "terraform", "plan", "--params-file", str(params), "--var", "size=5")
    assert "-var=size=4 -var=generation=2 -var=size=5" in from_params["commands"][1]
    assert from_params["plan_file"] == str(project.root / "jenkins.tfplan")
    project.ok("terraform", "plan")
    preview = project.ok("--dry-run", "terraform", "apply")
    assert preview["applied"] is False and preview["summary"]["add"] == 3
    assert not (project.dir / "terraform.tfstate").exists()


def test_state_lock_held_by_another_terraform(project: Project) -> None:
    project.ok("terraform", "plan")
    project.ok("terraform", "apply")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_IN_AUTOMATION", "TF_INPUT")}
    holder = subprocess.Popen(["terraform", "console"], cwd=project.dir, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    info_file = project.dir / ".terraform.tfstate.lock.info"
    try:
        wait_for(info_file.exists, timeout=30, what="terraform console to lock the state")
        info = json.loads(info_file.read_text())
        res = project.cli("terraform", "plan")
    finally:
        holder.communicate("exit\n", timeout=30)
    assert res.code == 1
    assert res.json["lock"]["id"] == info["ID"] and res.json["lock"]["who"] == info["Who"]
    assert f"locked by {info['Who']}" in res.json["message"] and "waited 1s" in res.json["message"]
    assert project.cli("terraform", "plan").code == 0


def test_interrupted_apply_stops_terraform_cleanly(tmp_path: Path) -> None:
    """SIGTERM to pipeline-py reaches terraform once (it finishes cleanly and unlocks); an apply
    that had begun is reported as needing a human (exit 3)."""
    root = tmp_path
    tf_dir = root / "infra" / "dev"
    tf_dir.mkdir(parents=True)
    (tf_dir / "main.tf").write_text(textwrap.dedent("""
        resource "terraform_data" "slow" {
          provisioner "local-exec" {
            command = "sleep 30"
          }
        }
    """))
    (root / "pipeline.yaml").write_text(yaml.safe_dump({"service": "demo", "terraform": {"dir": "infra/{env}"},
                                                        "environments": {"dev": {}}}))
    base = [sys.executable, "-m", "pipeline_py", "--config", str(root / "pipeline.yaml"), "--env", "dev", "--json"]
    subprocess.run([*base, "terraform", "plan"], check=True, capture_output=True, cwd=REPO)
    proc = subprocess.Popen([*base, "terraform", "apply"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(lambda: (tf_dir / ".terraform.tfstate.lock.info").exists(), timeout=30, what="apply to start")
    wait_for(lambda: _children_named(proc.pid, "sleep"), timeout=30, what="the provisioner to run")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    result = json.loads(out)
    assert proc.returncode == 3, err[-2000:]
    assert result["error"] == "human_needed" and "interrupted" in result["message"]
    assert "Interrupt received" in err or "Stopping operation" in err
    assert not (tf_dir / ".terraform.tfstate.lock.info").exists(), "terraform released its lock"


def _children_named(pid: int, name: str) -> bool:
    out = subprocess.run(["ps", "-eo", "pid,ppid,comm"], capture_output=True, text=True).stdout
    procs = [line.split(None, 2) for line in out.splitlines()[1:]]
    family, frontier = set(), {str(pid)}
    while frontier:
        family |= frontier
        frontier = {p for p, pp, _ in procs if pp in frontier} - family
    return any(p in family and comm.strip() == name for p, _, comm in procs)


def test_bad_input_is_refused_before_terraform_runs(project: Project) -> None:
    res = project.cli("terraform", "plan", env="qa")
    assert res.code == 2 and "terraform directory for environment 'qa' not found" in res.json["message"]
    assert "existing in" in res.json["message"] and "dev" in res.json["message"]

    (project.dir / "backend.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    res = project.cli("terraform", "init")
    assert res.code == 2 and "missing backend configuration" in res.json["message"]
    assert str(project.dir / "backend.hcl") in res.json["message"]
    project.write(backend_config="dev.s3.tfbackend")
    res = project.cli("terraform", "init")
    assert res.code == 2 and str(project.dir / "dev.s3.tfbackend") in res.json["message"]
    (project.dir / "backend.tf").unlink()

    project.write(var_files=["missing.tfvars"])
    res = project.cli("terraform", "plan")
    assert res.code == 2 and "var file" in res.json["message"] and "missing.tfvars" in res.json["message"]
    project.write()
    assert project.cli("terraform", "plan", "--var", "novalue").code == 2
    assert not (project.dir / ".terraform").exists()


@pytest.mark.parametrize("tfvars, quoted", [
    ('size = "big"\n', "Invalid value for input variable"),
    ("size = -1\n", "size must be positive."),
    ("size = 3 +\n", "Invalid expression"),
])
def test_invalid_tfvars_quote_terraform(project: Project, tfvars: str, quoted: str) -> None:
    (project.dir / "terraform.tfvars").write_text(tfvars)
    res = project.cli("terraform", "plan")
    assert res.code == 2, res.stderr[-2000:]
    assert res.json["error"] == "bad_input" and quoted in res.json["message"]
    assert "terraform.tfvars line 1" in res.json["message"]
    assert not (project.dir / "dev.tfplan").exists()


class SharedRoot:
    """One root module (``infra/stack``) for every environment; ``infra/environments/<env>`` holds
    the environment's tfvars (and backend settings)."""

    def __init__(self, root: Path, backend: str = 'terraform {\n  backend "local" {}\n}\n') -> None:
        self.root = root
        self.stack = root / "infra" / "stack"
        self.stack.mkdir(parents=True)
        (self.stack / "main.tf").write_text(MAIN_TF)
        (self.stack / "backend.tf").write_text(backend)
        for env, size in (("dev", 3), ("qa", 5)):
            self.env_dir(env).mkdir(parents=True)
            (self.env_dir(env) / "terraform.tfvars").write_text(f"size = {size}\n")
        (root / "pipeline.yaml").write_text(yaml.safe_dump({
            "service": "demo",
            "terraform": {"root": "infra/stack", "dir": "infra/environments/{env}", "lock_timeout": "1s",
                          "protected_types": ["terraform_data"]},
            "environments": {"dev": {}, "qa": {}, "uat": {}},
        }))

    def env_dir(self, env: str) -> Path:
        return self.root / "infra" / "environments" / env

    def cli(self, env: str, *argv: str) -> CliResult:
        return run_cli("--config", str(self.root / "pipeline.yaml"), "--env", env, "--json", *argv)

    def ok(self, env: str, *argv: str) -> dict[str, Any]:
        res = self.cli(env, *argv)
        assert res.code == 0, res.stderr[-3000:]
        return res.json


def test_a_shared_root_keeps_each_environments_init_state_and_plans_apart(tmp_path: Path) -> None:
    shared = SharedRoot(tmp_path)
    dev, qa = shared.env_dir("dev"), shared.env_dir("qa")
    plan = shared.ok("dev", "terraform", "plan")
    assert (plan["root"], plan["dir"], plan["data_dir"]) == (str(shared.stack), str(dev), str(dev / ".terraform"))
    assert plan["plan_file"] == str(dev / "dev.tfplan") and plan["var_files"] == [str(dev / "terraform.tfvars")]
    assert plan["backend_config"] == {"keys": ["path"]}
    shared.ok("dev", "terraform", "apply")
    shared.ok("qa", "terraform", "plan")
    applied = shared.ok("qa", "terraform", "apply")
    assert applied["outputs"]["size"] == 5, "qa's own terraform.tfvars"
    assert shared.ok("dev", "terraform", "output", "--name", "size")["outputs"] == {"size": 3}
    for env_dir, size in ((dev, 3), (qa, 5)):
        state = json.loads((env_dir / "terraform.tfstate").read_text())
        assert state["outputs"]["size"]["value"] == size
        assert (env_dir / ".terraform").is_dir()
    assert sorted(p.name for p in shared.stack.iterdir()) == ["backend.tf", "main.tf"], "the root stays clean"
    assert shared.ok("dev", "terraform", "plan")["changes"] is False

    shared.ok("dev", "terraform", "plan", "--var", "size=4")
    misplaced = shared.cli("qa", "terraform", "apply", "--plan-file", str(dev / "dev.tfplan"))
    assert misplaced.code == 2 and "was planned in" in misplaced.json["message"]
    dry = shared.ok("qa", "--dry-run", "terraform", "plan")
    assert dry["commands"] == [
        f"TF_DATA_DIR={qa / '.terraform'} terraform -chdir={shared.stack} plan -no-color -input=false "
        f"-detailed-exitcode -lock-timeout=1s -out={qa / 'qa.tfplan'} -var-file={qa / 'terraform.tfvars'}",
        f"TF_DATA_DIR={qa / '.terraform'} terraform -chdir={shared.stack} show -json {qa / 'qa.tfplan'}"]


def test_a_shared_root_refuses_bad_input_before_terraform_runs(tmp_path: Path) -> None:
    shared = SharedRoot(tmp_path, backend='terraform {\n  backend "s3" {}\n}\n')
    res = shared.cli("uat", "terraform", "plan")
    assert res.code == 2 and "terraform directory for environment 'uat' not found" in res.json["message"]
    assert "existing in" in res.json["message"] and "dev, qa" in res.json["message"]

    res = shared.cli("dev", "terraform", "init")
    assert res.code == 2 and "missing backend configuration for environment 'dev'" in res.json["message"]
    assert str(shared.env_dir("dev") / "backend.hcl") in res.json["message"]

    (shared.stack / "backend.tf").unlink()
    res = shared.cli("dev", "terraform", "plan")
    assert res.code == 2 and "declares no backend" in res.json["message"]
    assert str(shared.stack / "terraform.tfstate") in res.json["message"]

    (shared.stack / "backend.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    (shared.env_dir("dev") / "main.tf").write_text(MAIN_TF)
    res = shared.cli("dev", "terraform", "plan")
    assert res.code == 2 and "main.tf" in res.json["message"] and "would not read" in res.json["message"]
    (shared.env_dir("dev") / "main.tf").unlink()

    (shared.env_dir("dev") / "terraform.tfvars").write_text("size = -1\n")
    res = shared.cli("dev", "terraform", "plan")
    assert res.code == 2 and res.json["error"] == "bad_input", res.stderr[-2000:]
    assert "size must be positive." in res.json["message"]
    assert f"{shared.env_dir('dev') / 'terraform.tfvars'} line 1" in res.json["message"]
    assert not (shared.env_dir("dev") / "dev.tfplan").exists()

    config = yaml.safe_load((tmp_path / "pipeline.yaml").read_text())
    del config["terraform"]["root"]
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(config))
    res = shared.cli("dev", "terraform", "plan")
    assert res.code == 2 and "no terraform configuration" in res.json["message"]
    assert "set terraform.root" in res.json["message"]
