from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline_py.errors import BadInput
from pipeline_py.images.tags import (
    OCI,
    SourceInfo,
    created_time,
    derive_tags,
    oci_labels,
    read_source_info,
    sanitise,
    strip_credentials,
    strip_remote,
    validate_tag,
)

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
SHA = "0123456789abcdef0123456789abcdef01234567"


def tags(info: SourceInfo, **kw: object) -> list[str]:
    return [t.tag for t in derive_tags(info, now=NOW, **{"immutable": True, **kw})]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("main", "main"),
        ("feature/JIRA-12_Foo bar", "feature-jira-12_foo-bar"),
        ("release/v1.2", "release-v1.2"),
        ("--weird//name..", "weird-name"),
        (".hidden", "hidden"),
        ("dependabot/npm_and_yarn/@types/node-20", "dependabot-npm_and_yarn-types-node-20"),
        ("fix/ünïcode", "fix-n-code"),
    ],
)
def test_sanitise_makes_valid_tags(raw: str, expected: str) -> None:
    assert sanitise(raw) == expected
    validate_tag(expected, "test")


def test_sanitise_truncates_without_a_trailing_separator() -> None:
    out = sanitise("a" * 126 + "-bcdef")
    assert len(out) <= 128 and not out.endswith("-")
    validate_tag(out, "test")


@pytest.mark.parametrize(
    ("ref", "branch"),
    [("origin/main", "main"), ("origin/feature/x", "feature/x"), ("refs/heads/dev", "dev"),
     ("refs/remotes/origin/rel", "rel"), ("PR-12", "PR-12")],
)
def test_strip_remote(ref: str, branch: str) -> None:
    assert strip_remote(ref) == branch


def test_strip_credentials_removes_user_and_token_only_from_http_urls() -> None:
    assert strip_credentials("https://user:ghp_secret@github.com/org/repo.git") == "https://github.com/org/repo.git"
    assert strip_credentials("https://x-token@git.example:8443/r.git") == "https://git.example:8443/r.git"
    assert strip_credentials("git@github.com:org/repo.git") == "git@github.com:org/repo.git"


def test_clean_commit_gives_the_short_sha() -> None:
    assert tags(SourceInfo(commit=SHA)) == [SHA[:12]]


def test_dirty_commit_gets_its_own_timestamped_tag() -> None:
    assert tags(SourceInfo(commit=SHA, dirty=True)) == [f"{SHA[:12]}-dirty-20260304050607"]


def test_jenkins_build_number_is_prefixed_with_the_sanitised_branch() -> None:
    info = SourceInfo(commit=SHA, branch="feature/Login", build_number="42")
    assert tags(info) == [SHA[:12], "feature-login-42"]


def test_jenkins_build_number_without_branch() -> None:
    assert tags(SourceInfo(build_number="7")) == ["build-7"]


def test_branch_tag_moves_only_in_a_mutable_repository() -> None:
    info = SourceInfo(commit=SHA, branch="main")
    assert tags(info, immutable=True) == [SHA[:12]]
    assert tags(info, immutable=False) == [SHA[:12], "main"]


def test_explicit_tags_follow_derived_ones_deduplicated() -> None:
    info = SourceInfo(commit=SHA)
    out = tags(info, config_tags=["stable", SHA[:12]], cli_tags=["rc1", "stable"])
    assert out == [SHA[:12], "stable", "rc1"]


def test_derived_tag_sources_are_explained() -> None:
    out = derive_tags(SourceInfo(commit=SHA, branch="main", build_number="3"), immutable=True, now=NOW,
                      cli_tags=["x"])
    assert [(t.tag, t.source) for t in out] == [
        (SHA[:12], "git commit"),
        ("main-3", "Jenkins BUILD_NUMBER on branch main"),
        ("x", "--tag"),
    ]


@pytest.mark.parametrize("bad", ["-lead", ".dot", "has space", "a/b", "x" * 129, ""])
def test_invalid_explicit_tags_are_bad_input_naming_the_source(bad: str) -> None:
    with pytest.raises(BadInput) as exc:
        tags(SourceInfo(commit=SHA), cli_tags=[bad])
    assert "--tag" in exc.value.message and repr(bad) in exc.value.message


def test_no_source_at_all_falls_back_to_a_dev_tag() -> None:
    assert tags(SourceInfo()) == ["dev-20260304050607"]


class FakeGit:
    def __init__(self, answers: dict[str, str | None]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> str | None:
        self.calls.append(list(args))
        return self.answers.get(args[0] + ":" + args[1] if len(args) > 1 else args[0])


def test_jenkins_detached_head_takes_the_branch_from_the_environment() -> None:
    git = FakeGit({"rev-parse:--verify": SHA, "status:--porcelain": "", "rev-parse:--abbrev-ref": "HEAD",
                   "config:--get": "https://jenkins:tok@git.example/app.git", "show:-s": "2026-01-02T03:04:05+00:00"})
    info = read_source_info(Path("."), {"GIT_BRANCH": "origin/release/2.0", "BUILD_NUMBER": "12"}, git=git)
    assert info.commit == SHA and not info.dirty
    assert info.branch == "release/2.0" and info.build_number == "12"
    assert info.source_url == "https://git.example/app.git"
    assert info.commit_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert tags(info) == [SHA[:12], "release-2.0-12"]


def test_branch_name_wins_over_git_branch() -> None:
    git = FakeGit({"rev-parse:--verify": SHA, "status:--porcelain": ""})
    info = read_source_info(Path("."), {"BRANCH_NAME": "PR-7", "GIT_BRANCH": "origin/x"}, git=git)
    assert info.branch == "PR-7"


def test_without_a_checkout_git_commit_and_url_come_from_jenkins_variables() -> None:
    info = read_source_info(Path("."), {"GIT_COMMIT": SHA.upper(), "GIT_URL": "https://u:p@h/r.git"},
                            git=FakeGit({}))
    assert info.commit == SHA and info.source_url == "https://h/r.git"
    assert info.notes and "GIT_COMMIT" in info.notes[0]


def test_a_bogus_git_commit_variable_is_ignored_with_a_note() -> None:
    info = read_source_info(Path("."), {"GIT_COMMIT": "not-a-sha"}, git=FakeGit({}))
    assert info.commit is None and "not a hex" in info.notes[-1]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_real_git_checkout_commit_branch_and_dirtiness_limited_to_the_context(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    ctx = repo / "app"
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    (repo / "README").write_text("hi\n")
    _git(repo, "init", "-q", "-b", "trunk")
    _git(repo, "-c", "user.email=t@e", "-c", "user.name=t", "add", ".")
    _git(repo, "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD")

    info = read_source_info(ctx, {})
    assert (info.commit, info.branch, info.dirty) == (head, "trunk", False)
    assert info.commit_time is not None

    (repo / "README").write_text("changed outside the context\n")
    assert read_source_info(ctx, {}).dirty is False
    (ctx / "new-file").write_text("untracked inside the context\n")
    dirty = read_source_info(ctx, {})
    assert dirty.dirty is True and dirty.commit_time is None
    assert tags(dirty)[0].startswith(head[:12] + "-dirty-")


def test_oci_labels_and_config_labels_win() -> None:
    info = SourceInfo(commit=SHA, source_url="https://git.example/app.git")
    labels = oci_labels(info, version="abc", created=NOW, title="task-api",
                        extra={OCI + "title": "custom", "team": "payments"})
    assert labels == {
        OCI + "created": "2026-03-04T05:06:07Z",
        OCI + "version": "abc",
        OCI + "revision": SHA,
        OCI + "source": "https://git.example/app.git",
        OCI + "title": "custom",
        "team": "payments",
    }


def test_created_is_reproducible_for_clean_commits() -> None:
    committed = datetime(2025, 12, 31, 23, 0, tzinfo=timezone.utc)
    clean = SourceInfo(commit=SHA, commit_time=committed)
    assert created_time(clean, {}, NOW) == committed
    assert created_time(clean, {"SOURCE_DATE_EPOCH": "0"}, NOW) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert created_time(SourceInfo(commit=SHA, dirty=True), {}, NOW) == NOW
    assert created_time(SourceInfo(), {}, NOW) == NOW
