"""Every module and root is formatted, valid, documented and pinned; every environment is data only
and plans against the shared root."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from pipeline_py.report import Reporter
from pipeline_py.terraform.mirror import find_mirror
from pipeline_py.terraform.runner import Terraform
from tests.conftest import REPO
from tests.integration.terraform_fixtures import copy_terraform

pytestmark = pytest.mark.terraform

TF = REPO / "terraform"
MODULES = sorted(f"modules/{p.name}" for p in (TF / "modules").iterdir() if p.is_dir())
ROOTS = ["stack", "bootstrap"]
ENVIRONMENTS = sorted(p.name for p in (TF / "environments").iterdir() if p.is_dir())
ENVIRONMENT_FILES = {"backend.hcl", "terraform.tfvars"}


@pytest.fixture(scope="module")
def tf_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Validation writes .terraform/ and lock files: do it in a copy, never in the repository."""
    return copy_terraform(tmp_path_factory.mktemp("validate"))


def test_the_expected_modules_exist() -> None:
    expected = ("alb", "ecr", "ecs-service", "monitoring", "network", "rds", "security-groups", "state-backend")
    assert sorted(f"modules/{m}" for m in expected) == MODULES


def test_terraform_fmt_check() -> None:
    done = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-diff", "-no-color", str(TF)],
                          capture_output=True, text=True, env={**os.environ, "TF_IN_AUTOMATION": "1"})
    assert done.returncode == 0, f"not formatted (run `terraform fmt -recursive terraform`):\n{done.stdout}"


@pytest.mark.parametrize("path", MODULES + ROOTS)
def test_terraform_validate(tf_copy: Path, path: str) -> None:
    with Terraform(tf_copy / path, Reporter(quiet=True), mirror=find_mirror(None, os.environ)) as tf:
        tf.check(tf.run("init", "-backend=false", "-input=false", quiet=True), "init")
        done = tf.run("validate", "-json", capture_stdout=True, quiet=True)
    result = json.loads(done.stdout)
    problems = [f"{d['severity']}: {d['summary']}: {d.get('detail', '')}" for d in result["diagnostics"]]
    assert result["valid"] and not problems, "\n".join(problems)


def test_environments_hold_only_their_backend_and_tfvars() -> None:
    """The root module exists once (terraform/stack); an environment is its backend and its sizes."""
    assert ENVIRONMENTS == ["prod", "staging"]
    for env in ENVIRONMENTS:
        files = {p.name for p in (TF / "environments" / env).iterdir()}
        assert files == ENVIRONMENT_FILES, f"environments/{env}: {sorted(files - ENVIRONMENT_FILES)}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_plans_against_the_shared_root(tf_copy: Path, env: str) -> None:
    """`terraform test` (mocked provider) of the root with the environment's terraform.tfvars: every
    variable it sets exists and passes validation, and the plan has the environment's shape."""
    tfvars = tf_copy / "environments" / env / "terraform.tfvars"
    with Terraform(tf_copy / "stack", Reporter(quiet=True), mirror=find_mirror(None, os.environ)) as tf:
        tf.check(tf.run("init", "-backend=false", "-input=false", quiet=True), "init")
        done = tf.run("test", f"-var-file={tfvars}", quiet=True)
    assert done.code == 0, done.output[-4000:]
    # the environment's plan, and prod refused without a certificate (HTTPS only)
    assert "2 passed, 0 failed" in done.output and "Warning" not in done.output, done.output[-4000:]


@pytest.mark.parametrize("root", ROOTS)
def test_roots_pin_the_provider_and_commit_its_lock(root: str) -> None:
    versions = (TF / root / "versions.tf").read_text()
    pinned = re.search(r'version\s*=\s*"(\d+\.\d+\.\d+)"', versions)
    assert pinned, "a root module pins the exact provider version"
    # >= 1.5; the shared root >= 1.9 (its prod certificate check reads another variable)
    assert re.search(r'required_version\s*=\s*">= 1\.(5|9)\.0"', versions)
    lock = (TF / root / ".terraform.lock.hcl").read_text()
    assert f'version     = "{pinned.group(1)}"' in lock and "h1:" in lock


@pytest.mark.parametrize("path", MODULES + ROOTS)
def test_every_variable_and_output_is_described(path: str) -> None:
    for name, kind in (("variables.tf", "variable"), ("outputs.tf", "output")):
        text = (TF / path / name).read_text()
        blocks = re.split(rf'^{kind} "', text, flags=re.M)[1:]
        assert blocks, f"{path}/{name} declares no {kind}"
        undocumented = [b.split('"', 1)[0] for b in blocks if "description" not in b.split("\n}", 1)[0]]
        assert not undocumented, f"{path}/{name}: no description for {undocumented}"


def test_environment_sizes_follow_the_seed() -> None:
    def tfvars(env: str) -> str:
        return (TF / "environments" / env / "terraform.tfvars").read_text()

    def value(text: str, key: str) -> str:
        m = re.search(rf"^{key}\s*=\s*(.+?)\s*$", text, re.M)
        assert m, key
        return m.group(1)

    staging, prod = tfvars("staging"), tfvars("prod")
    assert [value(staging, k) for k in ("task_cpu", "task_memory", "desired_count", "db_instance_class")] == [
        "256", "512", "1", '"db.t3.micro"']
    assert [value(prod, k) for k in ("autoscaling_min", "autoscaling_max", "db_instance_class", "db_multi_az",
                                     "db_backup_retention_days")] == ["3", "10", '"db.t3.small"', "true", "30"]
    for env in ("staging", "prod"):
        backend = (TF / "environments" / env / "backend.hcl").read_text()
        for key in ("bucket", "key", "region", "dynamodb_table", "encrypt"):
            assert re.search(rf"^{key}\s*=", backend, re.M), f"{env}/backend.hcl: {key}"


TESTED = sorted(m for m in MODULES if any((TF / m / "tests").glob("*.tftest.hcl")))


def test_the_outputs_pipeline_py_reads_exist() -> None:
    from pipeline_py.terraform.outputs import DEFAULT_OUTPUTS_MAP

    declared = set(re.findall(r'^output "([^"]+)"', (TF / "stack" / "outputs.tf").read_text(), re.M))
    referenced = {ref.split(".")[0] for ref in DEFAULT_OUTPUTS_MAP.values()} | {"service_names"}
    assert referenced <= declared, sorted(referenced - declared)


def test_module_tests_exist_for_the_modules_with_logic() -> None:
    assert {"modules/alb", "modules/ecs-service", "modules/network", "modules/rds", "modules/security-groups",
            "modules/state-backend"} <= set(TESTED)


@pytest.mark.parametrize("path", TESTED)
def test_terraform_test_with_a_mocked_provider(tf_copy: Path, path: str) -> None:
    """`terraform test` on the module's shapes (a mocked provider: no AWS, seconds)."""
    with Terraform(tf_copy / path, Reporter(quiet=True), mirror=find_mirror(None, os.environ)) as tf:
        tf.check(tf.run("init", "-backend=false", "-input=false", quiet=True), "init")
        done = tf.run("test", quiet=True)
    assert done.code == 0, done.output[-4000:]
    assert "0 failed" in done.output and " skipped" not in done.output
