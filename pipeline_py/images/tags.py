"""Which tags and labels an image gets, from git, Jenkins and explicit input.

Tags (in this order, deduplicated):

- ``<sha12>``: the first 12 hex digits of the commit (fixed length, so the same commit gives the
  same tag on every machine). When the build context has uncommitted changes the tag is
  ``<sha12>-dirty-<UTC yyyymmddHHMMSS>`` instead: a tag named after a commit must not claim
  content that commit does not have, and each dirty build gets its own tag so repeated laptop
  builds never collide in an immutable repository.
- ``<branch>-<BUILD_NUMBER>`` on Jenkins (``build-<N>`` when no branch is known): multibranch
  jobs restart numbering per branch, so the branch prefix keeps the tag unique.
- ``<branch>`` in a *mutable* repository only: a moving "latest of this branch" pointer cannot
  exist where tags are immutable.
- ``image.tags`` from the config, then ``--tag`` flags.
- ``dev-<UTC yyyymmddHHMMSS>`` when none of the above gave a tag (no git, no Jenkins, no flags).

Labels are the OCI annotations (``org.opencontainers.image.*``: revision, source, created,
version, title); labels from the config win over derived ones. ``created`` follows the
reproducible-builds convention: ``$SOURCE_DATE_EPOCH`` if set, else the commit time of a clean
checkout, else now. So rebuilding an unchanged commit on a warm cache yields the very same image
(every step, labels included, is a cache hit) and pushing it again is a no-op instead of a
conflict with the commit's immutable tag.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pipeline_py.errors import BadInput

SHA_LENGTH = 12
MAX_TAG_LENGTH = 128
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
OCI = "org.opencontainers.image."
DIRTY_LABEL = "io.pipeline-py.worktree"

Runner = Callable[[Sequence[str]], "str | None"]


@dataclass(frozen=True)
class SourceInfo:
    """What the checkout says about the code being built."""

    commit: str | None = None
    dirty: bool = False
    branch: str | None = None
    build_number: str | None = None
    source_url: str | None = None
    commit_time: datetime | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DerivedTag:
    tag: str
    source: str


def _git(cwd: Path) -> Runner:
    def run(args: Sequence[str]) -> str | None:
        try:
            p = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return p.stdout.strip() if p.returncode == 0 else None

    return run


def read_source_info(
    context: Path,
    environ: Mapping[str, str],
    *,
    pathspecs: Sequence[str] = (".",),
    git: Runner | None = None,
) -> SourceInfo:
    """Commit, dirtiness (limited to ``pathspecs``, relative to ``context``), branch, build number
    and source URL. Jenkins variables fill what git cannot say: a Jenkins checkout is a detached
    HEAD, so ``BRANCH_NAME``/``GIT_BRANCH`` name the branch; ``GIT_COMMIT``/``GIT_URL`` stand in
    when the workspace has no ``.git``."""
    run = git or _git(context)
    notes: list[str] = []
    commit = run(["rev-parse", "--verify", "HEAD"])
    dirty = False
    if commit:
        status = run(["status", "--porcelain", "--untracked-files=normal", "--", *pathspecs])
        dirty = bool(status)
    else:
        commit = (environ.get("GIT_COMMIT") or "").strip() or None
        if commit:
            notes.append("commit from $GIT_COMMIT (no git checkout at the build context)")
    if commit and not re.fullmatch(r"[0-9a-fA-F]{7,64}", commit):
        notes.append(f"ignoring commit {commit!r}: not a hex object name")
        commit = None

    branch = None
    for var in ("BRANCH_NAME", "GIT_LOCAL_BRANCH", "GIT_BRANCH"):
        value = (environ.get(var) or "").strip()
        if value:
            branch = strip_remote(value)
            break
    if branch is None and commit:
        head = run(["rev-parse", "--abbrev-ref", "HEAD"])
        if head and head != "HEAD":
            branch = head

    commit_time = None
    if commit and not dirty:
        stamp = run(["show", "-s", "--format=%cI", commit])
        commit_time = _parse_time(stamp)
    source = run(["config", "--get", "remote.origin.url"]) if commit else None
    source = source or (environ.get("GIT_URL") or "").strip() or None
    number = (environ.get("BUILD_NUMBER") or "").strip() or None
    return SourceInfo(commit=commit.lower() if commit else None, dirty=dirty, branch=branch,
                      build_number=number, source_url=strip_credentials(source) if source else None,
                      commit_time=commit_time, notes=tuple(notes))


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def created_time(info: SourceInfo, environ: Mapping[str, str], now: datetime) -> datetime:
    """The ``created`` label: ``$SOURCE_DATE_EPOCH``, else a clean commit's time, else ``now``."""
    epoch = (environ.get("SOURCE_DATE_EPOCH") or "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    if info.commit_time is not None and not info.dirty:
        return info.commit_time
    return now


def strip_remote(ref: str) -> str:
    """``origin/feature/x`` (Jenkins' GIT_BRANCH) or ``refs/heads/x`` → the branch name."""
    for prefix in ("refs/heads/", "refs/remotes/origin/", "remotes/origin/", "origin/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def strip_credentials(url: str) -> str:
    """Drop ``user:token@`` from an http(s) URL: labels are public, tokens are not."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and (parts.username or parts.password):
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def sanitise(text: str, max_length: int = MAX_TAG_LENGTH) -> str:
    """Make a docker/ECR tag from free text: lower case, ``[a-z0-9_.-]`` only, runs of other
    characters become one ``-``, no leading ``.``/``-``, at most ``max_length`` characters."""
    out = re.sub(r"[^a-z0-9_.-]+", "-", text.lower())
    out = re.sub(r"-{2,}", "-", out).lstrip(".-")
    out = out[:max_length].rstrip(".-")
    return out


def validate_tag(tag: str, where: str) -> str:
    if not TAG_PATTERN.fullmatch(tag):
        raise BadInput(
            f"{where}: {tag!r} is not a valid image tag (letters, digits, '_', '.', '-'; "
            f"must not start with '.' or '-'; at most {MAX_TAG_LENGTH} characters)"
        )
    return tag


def _stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")


def derive_tags(
    info: SourceInfo,
    *,
    immutable: bool,
    now: datetime,
    config_tags: Sequence[str] = (),
    cli_tags: Sequence[str] = (),
) -> list[DerivedTag]:
    out: list[DerivedTag] = []
    branch = sanitise(info.branch) if info.branch else ""
    if info.commit:
        short = info.commit[:SHA_LENGTH]
        if info.dirty:
            out.append(DerivedTag(f"{short}-dirty-{_stamp(now)}", "git commit, uncommitted changes in the context"))
        else:
            out.append(DerivedTag(short, "git commit"))
    if info.build_number:
        number = sanitise(info.build_number, 32)
        if number:
            if branch:
                prefix = branch[: MAX_TAG_LENGTH - len(number) - 1].rstrip(".-")
                out.append(DerivedTag(f"{prefix}-{number}", f"Jenkins BUILD_NUMBER on branch {info.branch}"))
            else:
                out.append(DerivedTag(f"build-{number}", "Jenkins BUILD_NUMBER"))
    if branch and not immutable:
        out.append(DerivedTag(branch, f"branch {info.branch} (moving tag: the repository is mutable)"))
    for tag in config_tags:
        out.append(DerivedTag(validate_tag(tag, "image.tags"), "image.tags"))
    for tag in cli_tags:
        out.append(DerivedTag(validate_tag(tag, "--tag"), "--tag"))
    if not out:
        out.append(DerivedTag(f"dev-{_stamp(now)}", "no git commit, Jenkins build or explicit tag"))
    seen: set[str] = set()
    unique = []
    for d in out:
        if d.tag not in seen:
            seen.add(d.tag)
            unique.append(d)
    return unique


def oci_labels(
    info: SourceInfo,
    *,
    version: str,
    created: datetime,
    title: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    labels = {OCI + "created": created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              OCI + "version": version}
    if info.commit:
        labels[OCI + "revision"] = info.commit
    if info.source_url:
        labels[OCI + "source"] = info.source_url
    if title:
        labels[OCI + "title"] = title
    if info.dirty:
        labels[DIRTY_LABEL] = "dirty"
    labels.update(extra or {})
    return labels
