"""``build``: plan (paths, tags, labels, build args; pure, so ``--dry-run`` needs no engine) and
run the build on the Docker engine, narrating the build log and naming the failing step.

The low-level ``client.api.build`` stream is used (the classic builder prints ``Step N/M : …``),
so a failure can be reported as the step that failed, its output and the engine's error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import docker

from pipeline_py.clock import Clock
from pipeline_py.config import ImageConfig
from pipeline_py.errors import BadInput, OperationFailed
from pipeline_py.images.tags import (
    DerivedTag,
    SourceInfo,
    created_time,
    derive_tags,
    oci_labels,
    read_source_info,
)
from pipeline_py.report import Reporter

REPOSITORY_PATTERN = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
OUTPUT_TAIL = 40


@dataclass
class BuildPlan:
    repository: str
    context: Path
    dockerfile: Path
    tags: list[DerivedTag]
    labels: dict[str, str]
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
    cache_from: list[str] = field(default_factory=list)
    no_cache: bool = False
    source: SourceInfo = field(default_factory=SourceInfo)
    prepare: list[list[str]] = field(default_factory=list)

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]

    @property
    def references(self) -> list[str]:
        return [f"{self.repository}:{t.tag}" for t in self.tags]

    def masked_build_args(self) -> dict[str, str]:
        return {k: ("****" if SECRET_NAME.search(k) else v) for k, v in self.build_args.items()}

    def secrets(self) -> list[str]:
        return [v for k, v in self.build_args.items() if SECRET_NAME.search(k)]

    def describe(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "context": str(self.context),
            "dockerfile": str(self.dockerfile),
            "tags": self.tag_names,
            "tag_sources": {t.tag: t.source for t in self.tags},
            "references": self.references,
            "labels": self.labels,
            "build_args": self.masked_build_args(),
            "target": self.target,
            "platform": self.platform,
            "cache_from": self.cache_from,
            "prepare": self.prepare,
            "no_cache": self.no_cache,
        }


def validate_repository(name: str, where: str = "image.repository") -> str:
    if not (2 <= len(name) <= 256 and REPOSITORY_PATTERN.fullmatch(name)):
        raise BadInput(f"{where}: {name!r} is not a valid repository name (lower case letters, digits and "
                       "'.', '_', '-', '/' separators; 2..256 characters)")
    return name


def parse_build_args(items: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """``K=V`` pairs; a bare ``K`` takes its value from the environment, as ``docker build`` does."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise BadInput(f"--build-arg {item!r}: expected NAME=VALUE (or NAME to take it from the environment)")
        if not sep:
            if key not in environ:
                raise BadInput(f"--build-arg {key}: no value given and ${key} is not set in the environment")
            value = environ[key]
        out[key] = value
    return out


def _existing(base_dir: Path, value: str, field_name: str, *, directory: bool) -> Path:
    path = (base_dir / value).resolve()
    if not path.exists():
        raise BadInput(f"{field_name}: {path} does not exist (paths are relative to {base_dir})")
    if directory and not path.is_dir():
        raise BadInput(f"{field_name}: {path} is not a directory")
    if not directory and not path.is_file():
        raise BadInput(f"{field_name}: {path} is not a file")
    return path


def plan_build(
    image: ImageConfig,
    *,
    repository: str,
    service: str,
    base_dir: Path,
    environ: Mapping[str, str],
    now: datetime,
    cli_tags: Sequence[str] = (),
    cli_build_args: Sequence[str] = (),
    cli_cache_from: Sequence[str] = (),
    no_cache: bool = False,
    source: SourceInfo | None = None,
) -> BuildPlan:
    """Everything the build will use, validated; touches only the filesystem and git."""
    validate_repository(repository)
    context = _existing(base_dir, image.context, "image.context", directory=True)
    dockerfile = _existing(base_dir, image.dockerfile, "image.dockerfile", directory=False)
    build_args = {**image.build_args, **parse_build_args(cli_build_args, environ)}
    if source is None:
        pathspecs = ["."]
        rel = os.path.relpath(dockerfile, context)
        if rel.startswith(".."):
            pathspecs.append(rel)
        source = read_source_info(context, environ, pathspecs=pathspecs)
    tags = derive_tags(source, immutable=image.tag_immutability, now=now,
                       config_tags=image.tags, cli_tags=cli_tags)
    labels = oci_labels(source, version=tags[0].tag, created=created_time(source, environ, now), title=service,
                        extra=image.labels)
    cache_from = list(dict.fromkeys([*image.cache_from, *cli_cache_from]))
    return BuildPlan(repository=repository, context=context, dockerfile=dockerfile, tags=tags, labels=labels,
                     build_args=build_args, target=image.target, platform=image.platform,
                     cache_from=cache_from, no_cache=no_cache, source=source,
                     prepare=[[sys.executable if arg == "{python}" else arg for arg in cmd] for cmd in image.prepare])


@dataclass
class BuildLog:
    """Follows the engine's build stream: current step, its output, the image id, the error."""

    step: str | None = None
    step_number: int | None = None
    step_total: int | None = None
    output: list[str] = field(default_factory=list)
    image_id: str | None = None
    error: str | None = None
    cached_steps: int = 0
    _partial: str = ""

    def feed(self, chunk: Mapping[str, Any]) -> list[str]:
        """Consume one decoded chunk; returns the complete lines worth narrating."""
        lines: list[str] = []
        if "stream" in chunk:
            text = self._partial + _ANSI.sub("", str(chunk["stream"]))
            *complete, self._partial = text.split("\n")
            for line in complete:
                line = line.rstrip("\r")
                if line:
                    lines.append(line)
                    self._line(line)
        if "status" in chunk and not chunk.get("progressDetail"):
            lines.append(str(chunk["status"]))
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.image_id = str(aux["ID"])
        if "error" in chunk or "errorDetail" in chunk:
            self.flush(lines)
            detail = chunk.get("errorDetail") or {}
            self.error = str(detail.get("message") or chunk.get("error") or "unknown build error").strip()
        return lines

    def flush(self, lines: list[str] | None = None) -> None:
        if self._partial.strip():
            line = self._partial.rstrip("\r")
            if lines is not None:
                lines.append(line)
            self._line(line)
        self._partial = ""

    def _line(self, line: str) -> None:
        m = _STEP.match(line)
        if m:
            self.step = line
            self.step_number, self.step_total = int(m.group(1)), int(m.group(2))
            self.output = []
            return
        stripped = line.strip()
        if stripped == "---> Using cache":
            self.cached_steps += 1
        if stripped.startswith("--->") or stripped.startswith("Removing intermediate container"):
            return
        self.output.append(line)

    def failure(self) -> OperationFailed:
        tail = self.output[-OUTPUT_TAIL:]
        where = self.step or "before the first step"
        body = "\n".join(f"  | {line}" for line in tail) if tail else "  (the step printed nothing)"
        message = f"docker build failed at {where}\n{body}\n  error: {self.error}"
        return OperationFailed(message, result={
            "failed_step": self.step,
            "step_number": self.step_number,
            "step_total": self.step_total,
            "step_output": tail,
            "build_error": self.error,
        })


def prepare_context(plan: BuildPlan, reporter: Reporter) -> None:
    """Run ``image.prepare`` in the build context; a failing command fails the build, named."""
    for cmd in plan.prepare:
        if not cmd:
            continue
        reporter.detail("prepare: $ " + " ".join(cmd))
        try:
            done = subprocess.run(cmd, cwd=plan.context, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OperationFailed(f"image.prepare command {cmd[0]} could not run: {exc}") from None
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-10:]
            raise OperationFailed(f"image.prepare command `{' '.join(cmd)}` exited {done.returncode} in "
                                  f"{plan.context}:\n" + "\n".join(f"  | {line}" for line in tail))


def _parse_error(exc: docker.errors.APIError, dockerfile: Path) -> BadInput | OperationFailed:
    text = str(exc.explanation or exc)
    m = re.search(r"dockerfile parse error line (\d+): (.*)", text, re.I)
    if m:
        return BadInput(f"{dockerfile}:{m.group(1)}: {m.group(2)}")
    if exc.status_code == 400 or (exc.response is not None and exc.response.status_code == 400):
        return BadInput(f"docker build rejected the request: {text}")
    return OperationFailed(f"docker build failed: {text}")


def build_image(client: Any, plan: BuildPlan, reporter: Reporter, clock: Clock) -> dict[str, Any]:
    """Run the build; tag every reference; return the build result (``image_id``, ``tags``,
    ``references``, ``labels``, ``duration_seconds``)."""
    for secret in plan.secrets():
        reporter.redact.add(secret)
    prepare_context(plan, reporter)
    for ref in plan.cache_from:
        try:
            client.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            reporter.warn(f"--cache-from {ref}: not present in the engine; the classic builder only uses "
                          "local images as cache (pull it first)")
    started = clock.monotonic()
    first = plan.references[0]
    reporter.step(f"building {first} from {plan.dockerfile} (context {plan.context})")
    log = BuildLog()
    try:
        stream = client.api.build(
            path=str(plan.context), dockerfile=str(plan.dockerfile), tag=first, labels=plan.labels,
            buildargs=plan.build_args or None, target=plan.target, platform=plan.platform,
            cache_from=plan.cache_from or None, nocache=plan.no_cache, rm=True, forcerm=True,
            pull=False, decode=True,
        )
        for chunk in stream:
            for line in log.feed(chunk):
                reporter.raw(line)
            if log.error:
                break
        log.flush()
    except docker.errors.APIError as exc:
        raise _parse_error(exc, plan.dockerfile) from None
    except docker.errors.DockerException as exc:
        raise OperationFailed(f"docker build failed: {exc}") from None
    if log.error:
        raise log.failure()
    image_id = log.image_id or client.api.inspect_image(first)["Id"]
    for tag in plan.tag_names[1:]:
        client.api.tag(image_id, plan.repository, tag, force=True)
    duration = round(clock.monotonic() - started, 3)
    reporter.info(f"built {image_id[:19]} in {duration:.1f}s as {', '.join(plan.references)}")
    return {
        "image_id": image_id,
        "repository": plan.repository,
        "tags": plan.tag_names,
        "references": plan.references,
        "labels": plan.labels,
        "build_args": plan.masked_build_args(),
        "steps": log.step_total,
        "cached_steps": log.cached_steps,
        "duration_seconds": duration,
    }
