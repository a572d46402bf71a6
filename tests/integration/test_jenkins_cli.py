"""``pipeline-py jenkins sync|validate|build`` against tests/fake_jenkins.py (Jenkins' endpoints and
response shapes, auth and crumbs), through the real CLI and python-jenkins."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.context import Context
from tests.conftest import CliResult
from tests.fake_jenkins import FOLDER, MULTIBRANCH, FakeJenkins

CONFIG = """\
service: task-api
region: us-east-1
jenkins:
  url: {url}
  folder: apps
  library_repo: https://git.example.com/platform/pipeline-py.git
  repo_url: https://github.com/example/task-api.git
  credentials_id: github-app
environments:
  staging: {{cluster: c}}
"""

VALID = """pipeline {
    agent any
    stages {
        stage('Build') { steps { sh 'make' } }
    }
}
"""


@pytest.fixture
def jenkins(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJenkins]:
    fake = FakeJenkins().start()
    monkeypatch.setenv("JENKINS_USER", fake.user)
    monkeypatch.setenv("JENKINS_API_TOKEN", fake.token)
    monkeypatch.delenv("JENKINS_URL", raising=False)
    monkeypatch.delenv("PIPELINE_PY_CONFIG", raising=False)
    yield fake
    fake.stop()


@pytest.fixture
def config(tmp_path: Path, jenkins: FakeJenkins) -> Path:
    p = tmp_path / "pipeline.yaml"
    p.write_text(CONFIG.format(url=jenkins.url))
    return p


def cli(*argv: str, clock: FakeClock | None = None, cwd: Path | None = None) -> CliResult:
    """The CLI in-process with an injected clock (the pollers never really sleep)."""
    from pipeline_py.cli import main

    fake = clock or FakeClock()
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv), context_factory=lambda **kw: Context(clock=fake, **kw))
    finally:
        os.chdir(old)
    return CliResult(code, out.getvalue(), err.getvalue())


# ---- sync ---------------------------------------------------------------------------------------------

def test_sync_creates_the_folder_with_the_library_and_the_multibranch_job(jenkins: FakeJenkins, config: Path) -> None:
    r = cli("--config", str(config), "--json", "jenkins", "sync")
    assert r.code == 0, r.stderr
    assert r.json["created"] == ["apps", "apps/task-api"] and r.json["updated"] == []
    assert jenkins.items["apps"]["class"] == FOLDER
    assert jenkins.items["apps/task-api"]["class"] == MULTIBRANCH
    folder = jenkins.config("apps")
    assert "<name>pipeline-py</name>" in folder and "<defaultVersion>v1</defaultVersion>" in folder
    assert "<remote>https://git.example.com/platform/pipeline-py.git</remote>" in folder
    job = jenkins.config("apps/task-api")
    assert "<repoOwner>example</repoOwner>" in job and "<repository>task-api</repository>" in job
    assert "OriginPullRequestDiscoveryTrait" in job and "<scriptPath>Jenkinsfile</scriptPath>" in job
    assert "<credentialsId>github-app</credentialsId>" in job
    # python-jenkins fetched a crumb and sent it, with its session cookie, on every POST
    posts = jenkins.writes()
    assert [p["path"] for p in posts] == ["/createItem", "/job/apps/createItem"]
    assert all(p["crumb"] and jenkins.sessions[p["session"]] == p["crumb"] for p in posts)
    assert all(p["content_type"].startswith("text/xml") for p in posts)


def test_sync_again_changes_nothing_although_jenkins_rewrote_the_configs(jenkins: FakeJenkins, config: Path) -> None:
    assert cli("--config", str(config), "jenkins", "sync").code == 0
    assert "plugin=\"cloudbees-folder@" in jenkins.config("apps")  # Jenkins' own serialisation
    writes = len(jenkins.writes())
    r = cli("--config", str(config), "--json", "jenkins", "sync")
    assert r.code == 0, r.stderr
    assert r.json["unchanged"] == ["apps", "apps/task-api"]
    assert r.json["created"] == [] and r.json["updated"] == []
    assert len(jenkins.writes()) == writes


def test_sync_updates_only_what_changed_and_keeps_what_others_configured(jenkins: FakeJenkins, config: Path) -> None:
    assert cli("--config", str(config), "jenkins", "sync").code == 0
    # someone adds folder-scoped credentials in the UI (they live in the folder's config.xml)
    creds = ("<com.cloudbees.hudson.plugins.folder.properties.FolderCredentialsProvider_-FolderCredentialsProperty>"
             "<domainCredentialsMap/></com.cloudbees.hudson.plugins.folder.properties."
             "FolderCredentialsProvider_-FolderCredentialsProperty>")
    jenkins.add_item("apps", jenkins.config("apps").replace("<properties>", "<properties>" + creds, 1))
    before = jenkins.config("apps/task-api")
    r = cli("--config", str(config), "--json", "jenkins", "sync", "--library-version", "v2")
    assert r.code == 0, r.stderr
    assert r.json["updated"] == ["apps"] and r.json["unchanged"] == ["apps/task-api"]
    assert "-          <defaultVersion>v1</defaultVersion>" in r.json["diffs"]["apps"]
    assert "+          <defaultVersion>v2</defaultVersion>" in r.json["diffs"]["apps"]
    folder = jenkins.config("apps")
    assert "<defaultVersion>v2</defaultVersion>" in folder
    assert "FolderCredentialsProperty" in folder
    assert jenkins.config("apps/task-api") == before


def test_sync_dry_run_writes_nothing(jenkins: FakeJenkins, config: Path) -> None:
    r = cli("--config", str(config), "--json", "--dry-run", "jenkins", "sync")
    assert r.code == 0, r.stderr
    assert r.json["created"] == ["apps", "apps/task-api"] and r.json["dry_run"] is True
    assert "would create folder apps" in r.stderr
    assert jenkins.writes() == [] and jenkins.items == {}


def test_sync_of_a_plain_git_repository_and_a_nested_folder(jenkins: FakeJenkins, config: Path) -> None:
    r = cli("--config", str(config), "--json", "jenkins", "sync", "--folder", "teams/payments",
            "--repo-url", "https://git.example.com/payments/task-api.git")
    assert r.code == 0, r.stderr
    assert r.json["created"] == ["teams", "teams/payments", "teams/payments/task-api"]
    assert "FolderLibraries" not in jenkins.config("teams")
    assert "FolderLibraries" in jenkins.config("teams/payments")
    job = jenkins.config("teams/payments/task-api")
    assert 'class="jenkins.plugins.git.GitSCMSource"' in job
    assert "<remote>https://git.example.com/payments/task-api.git</remote>" in job


def test_a_wrong_token_is_a_clear_configuration_error(jenkins: FakeJenkins, config: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_API_TOKEN", "not-the-token")
    r = cli("--config", str(config), "--json", "jenkins", "sync")
    assert r.code == 2
    assert "Jenkins refused user 'deployer'" in r.json["message"] and "401" in r.json["message"]
    assert "Traceback" not in r.stderr
    assert "not-the-token" not in r.stdout + r.stderr


def test_a_user_without_a_token_is_refused_before_any_request(jenkins: FakeJenkins, config: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JENKINS_API_TOKEN")
    r = cli("--config", str(config), "--json", "jenkins", "sync")
    assert r.code == 2 and "JENKINS_API_TOKEN is not set" in r.json["message"]
    assert jenkins.requests == []


def test_unreachable_jenkins_is_a_failed_operation(config: Path, tmp_path: Path, jenkins: FakeJenkins) -> None:
    jenkins.stop()
    r = cli("--config", str(config), "--json", "jenkins", "sync")
    assert r.code == 1 and "cannot reach Jenkins" in r.json["message"]
    jenkins.start()


# ---- validate ---------------------------------------------------------------------------------------

def test_validate_accepts_a_valid_jenkinsfile_without_a_config(jenkins: FakeJenkins, tmp_path: Path) -> None:
    (tmp_path / "Jenkinsfile").write_text(VALID)
    r = cli("--json", "jenkins", "validate", "--url", jenkins.url, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert r.json["valid"] is True and r.json["errors"] == []
    (req,) = [q for q in jenkins.requests if q["path"].startswith("/pipeline-model-converter")]
    assert req["path"] == "/pipeline-model-converter/validateJenkinsfile"


def test_validate_reports_the_linters_errors(jenkins: FakeJenkins, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_URL", jenkins.url)
    f = tmp_path / "Jenkinsfile.broken"
    f.write_text("pipeline {\n  stages {\n  }\n}\n}\n")
    r = cli("--json", "jenkins", "validate", "--jenkinsfile", str(f), cwd=tmp_path)
    assert r.code == 2
    assert r.json["valid"] is False
    assert r.json["errors"] == ["WorkflowScript: 5: unexpected token: } @ line 5, column 1."]
    f.write_text("pipeline {\n}\n")
    r = cli("--json", "jenkins", "validate", "--jenkinsfile", str(f), cwd=tmp_path)
    assert r.json["errors"] == ['Missing required section "agent" @ line 1, column 1.',
                                'Missing required section "stages" @ line 1, column 1.']


def test_validate_a_missing_file_or_url_is_bad_input(jenkins: FakeJenkins, tmp_path: Path) -> None:
    r = cli("--json", "jenkins", "validate", "--jenkinsfile", "nope", "--url", jenkins.url, cwd=tmp_path)
    assert r.code == 2 and "cannot read nope" in r.json["message"]
    (tmp_path / "Jenkinsfile").write_text(VALID)
    r = cli("--json", "jenkins", "validate", cwd=tmp_path)
    assert r.code == 2 and "no Jenkins URL" in r.json["message"]


# ---- build --follow ------------------------------------------------------------------------------------

def test_build_follow_streams_the_console_and_exits_with_the_result(jenkins: FakeJenkins, config: Path) -> None:
    jenkins.add_item("apps", f"<{FOLDER}/>")
    jenkins.add_item("apps/task-api", f"<{MULTIBRANCH}/>")
    jenkins.add_job("apps/task-api/feature%2Flogin")
    console = ["Started by user deployer\n", "[Pipeline] stage\n[Pipeline] { (Build", " image)\n",
               "pipeline-py build: ok\n", "Finished: SUCCESS\n"]
    jenkins.script_build("apps/task-api/feature%2Flogin", console, queue_polls=3)
    clock = FakeClock()
    r = cli("--config", str(config), "--json", "jenkins", "build", "--branch", "feature/login", "--follow",
            clock=clock)
    assert r.code == 0, r.stderr
    assert r.json["result"] == "SUCCESS" and r.json["build_number"] == 1
    assert r.json["job"] == "apps/task-api/feature%2Flogin"
    assert r.json["url"] == f"{jenkins.url}job/apps/job/task-api/job/feature%252Flogin/1/"
    lines = [ln for ln in r.stderr.splitlines() if not ln[:2].isdigit()]
    assert lines == ["Started by user deployer", "[Pipeline] stage", "[Pipeline] { (Build image)",
                     "pipeline-py build: ok", "Finished: SUCCESS"]
    assert "queued: In the quiet period. Expires in 4.9 sec" in r.stderr
    # the console was read from the offset Jenkins returned each time
    starts = [int(q["query"]["start"][0]) for q in jenkins.requests if q["path"].endswith("progressiveText")]
    sizes = [0] + [len("".join(console[:n]).encode()) for n in range(1, len(console))]
    assert starts == sizes
    assert clock.sleeps and all(s == 2.0 for s in clock.sleeps)
    trigger = [q for q in jenkins.writes() if q["path"].endswith("/build")]
    assert trigger[0]["path"] == "/job/apps/job/task-api/job/feature%252Flogin/build"


@pytest.mark.parametrize("result", ["FAILURE", "UNSTABLE", "ABORTED"])
def test_build_follow_fails_unless_the_build_succeeded(jenkins: FakeJenkins, result: str) -> None:
    jenkins.add_job("deploy-prod")
    jenkins.script_build("deploy-prod", ["Started\n", f"Finished: {result}\n"], result=result)
    r = cli("--json", "jenkins", "build", "--url", jenkins.url, "--job", "deploy-prod", "--follow")
    assert r.code == 1
    assert r.json["result"] == result and r.json["build_number"] == 1
    assert r.json["message"] == f"deploy-prod #1 finished {result}"


def test_build_with_parameters_uses_build_with_parameters(jenkins: FakeJenkins) -> None:
    jenkins.add_job("release")
    r = cli("--json", "jenkins", "build", "--url", jenkins.url, "--job", "release",
            "--parameter", "VERSION=1.2.3", "--parameter", "DRY_RUN=true")
    assert r.code == 0, r.stderr
    assert r.json["build_number"] == 1 and r.json["result"] is None
    (post,) = [q for q in jenkins.writes() if "build" in q["path"]]
    assert post["path"] == "/job/release/buildWithParameters"
    assert jenkins.queue[post_queue_id(jenkins)].params == {"VERSION": "1.2.3", "DRY_RUN": "true"}
    assert not [q for q in jenkins.requests if q["path"].endswith("progressiveText")]


def post_queue_id(jenkins: FakeJenkins) -> int:
    return max(jenkins.queue)


def test_a_cancelled_queue_item_fails(jenkins: FakeJenkins) -> None:
    jenkins.add_job("nightly")
    jenkins.script_build("nightly", [], cancelled=True)
    r = cli("--json", "jenkins", "build", "--url", jenkins.url, "--job", "nightly", "--follow")
    assert r.code == 1 and "was cancelled before it started" in r.json["message"]


def test_a_build_that_never_leaves_the_queue_times_out_on_the_clock(jenkins: FakeJenkins) -> None:
    jenkins.add_job("stuck")
    jenkins.script_build("stuck", ["x\n"], queue_polls=10_000)
    clock = FakeClock()
    r = cli("--json", "jenkins", "build", "--url", jenkins.url, "--job", "stuck", "--follow",
            "--timeout", "30", "--poll-interval", "5", clock=clock)
    assert r.code == 1
    assert r.json["message"] == "stuck: still queued after 30s (Waiting for next available executor)"
    assert sum(clock.sleeps) == pytest.approx(30)


def test_building_a_missing_branch_says_not_found(jenkins: FakeJenkins) -> None:
    jenkins.add_item("apps", f"<{FOLDER}/>")
    r = cli("--json", "jenkins", "build", "--url", jenkins.url, "--job", "apps/task-api", "--branch", "main")
    assert r.code == 2
    assert r.json["message"] == f"trigger apps/task-api/main: not found on {jenkins.url}"


def test_results_are_one_json_object(jenkins: FakeJenkins) -> None:
    jenkins.add_job("j")
    r = cli("--json", "jenkins", "build", "--url", jenkins.url, "--job", "j", "--follow")
    obj: dict[str, Any] = json.loads(r.stdout)
    assert obj["status"] == "ok" and obj["command"] == "jenkins build"
