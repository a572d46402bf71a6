from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.config import ImageConfig
from pipeline_py.errors import BadInput
from pipeline_py.images.build import (
    BuildLog,
    BuildPlan,
    build_image,
    parse_build_args,
    plan_build,
    validate_repository,
)
from pipeline_py.images.state import read_last_build, read_last_push, write_last_build, write_last_push
from pipeline_py.images.tags import SourceInfo, derive_tags
from pipeline_py.report import Reporter

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
SHA = "f" * 40


def feed(log: BuildLog, *chunks: dict) -> list[str]:
    out: list[str] = []
    for c in chunks:
        out += log.feed(c)
    return out


def test_build_log_follows_steps_across_split_chunks_and_strips_colour() -> None:
    log = BuildLog()
    lines = feed(
        log,
        {"stream": "Step 1/3 : FROM scratch"}, {"stream": "\n"}, {"stream": " ---> \n"},
        {"stream": "Step 2/3 : COPY a /a\n ---> Using cache\n ---> 1234\n"},
        {"stream": "Step 3/3 : RUN [\"/bin/busybox\", \"false\"]"}, {"stream": "\n"},
        {"stream": " ---> Running in abc\n"}, {"stream": "\x1b[91mon stderr\n\x1b[0m"}, {"stream": "partial "},
        {"stream": "line\n"}, {"stream": "Removing intermediate container abc\n"},
        {"errorDetail": {"code": 1, "message": "The command returned a non-zero code: 1"}, "error": "x"},
    )
    assert "Step 3/3 : RUN [\"/bin/busybox\", \"false\"]" in lines and "on stderr" in lines
    assert (log.step_number, log.step_total, log.cached_steps) == (3, 3, 1)
    assert log.output == ["on stderr", "partial line"]
    err = log.failure()
    assert err.exit_code == 1
    assert err.message.splitlines()[0] == 'docker build failed at Step 3/3 : RUN ["/bin/busybox", "false"]'
    assert "  | on stderr" in err.message and "non-zero code: 1" in err.message
    assert err.result["failed_step"].startswith("Step 3/3") and err.result["step_output"] == log.output


def test_build_log_takes_the_image_id_from_aux() -> None:
    log = BuildLog()
    feed(log, {"aux": {"ID": "sha256:abc"}}, {"stream": "Successfully built abc\n"})
    assert log.image_id == "sha256:abc" and log.error is None


def test_a_failure_before_any_step_says_so() -> None:
    log = BuildLog()
    feed(log, {"error": "no space left", "errorDetail": {"message": "no space left"}})
    assert "before the first step" in log.failure().message


def test_build_args_parse_and_bare_names_come_from_the_environment() -> None:
    assert parse_build_args(["A=1", "B=x=y", "C="], {}) == {"A": "1", "B": "x=y", "C": ""}
    assert parse_build_args(["HOME_DIR"], {"HOME_DIR": "/h"}) == {"HOME_DIR": "/h"}
    with pytest.raises(BadInput, match=r"--build-arg MISSING: .*\$MISSING is not set"):
        parse_build_args(["MISSING"], {})
    with pytest.raises(BadInput, match="expected NAME=VALUE"):
        parse_build_args(["=v"], {})


@pytest.mark.parametrize("bad", ["Task-Api", "a", "-x", "x//y", "x_"])
def test_invalid_repository_names(bad: str) -> None:
    with pytest.raises(BadInput, match=r"image\.repository"):
        validate_repository(bad)


def write_app(tmp_path: Path, dockerfile: str = "Dockerfile") -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / dockerfile).write_text("FROM scratch\n")
    return tmp_path


def plan(tmp_path: Path, image: ImageConfig, **kw: object) -> BuildPlan:
    return plan_build(image, repository="task-api", service="task-api", base_dir=tmp_path, environ={}, now=NOW,
                      source=SourceInfo(commit=SHA), **kw)  # type: ignore[arg-type]


def test_paths_are_relative_to_the_config_directory(tmp_path: Path) -> None:
    base = write_app(tmp_path)
    p = plan(base, ImageConfig(context="app", dockerfile="app/Dockerfile"))
    assert p.context == base / "app" and p.dockerfile == base / "app" / "Dockerfile"


def test_a_missing_context_or_dockerfile_is_bad_input_naming_the_field_and_path(tmp_path: Path) -> None:
    base = write_app(tmp_path)
    with pytest.raises(BadInput) as exc:
        plan(base, ImageConfig(context="nope", dockerfile="app/Dockerfile"))
    assert exc.value.message.startswith("image.context: ") and str(base / "nope") in exc.value.message
    with pytest.raises(BadInput) as exc:
        plan(base, ImageConfig(context="app", dockerfile="app/Missing.Dockerfile"))
    assert exc.value.message.startswith("image.dockerfile: ") and "Missing.Dockerfile" in exc.value.message
    with pytest.raises(BadInput, match="is not a directory"):
        plan(base, ImageConfig(context="app/Dockerfile", dockerfile="app/Dockerfile"))


def test_plan_merges_config_and_flags_and_masks_secret_build_args(tmp_path: Path) -> None:
    base = write_app(tmp_path)
    image = ImageConfig(context="app", dockerfile="app/Dockerfile", build_args={"A": "1", "NPM_TOKEN": "s3cr3t!"},
                        cache_from=["task-api:cache"], tags=["stable"], labels={"team": "x"})
    p = plan(base, image, cli_tags=["rc"], cli_build_args=["A=2"], cli_cache_from=["task-api:cache", "other:1"])
    d = p.describe()
    assert d["tags"] == [SHA[:12], "stable", "rc"]
    assert d["references"] == [f"task-api:{SHA[:12]}", "task-api:stable", "task-api:rc"]
    assert d["build_args"] == {"A": "2", "NPM_TOKEN": "****"}
    assert p.build_args["NPM_TOKEN"] == "s3cr3t!"
    assert d["cache_from"] == ["task-api:cache", "other:1"]
    assert d["labels"]["org.opencontainers.image.version"] == SHA[:12]
    assert d["labels"]["org.opencontainers.image.revision"] == SHA and d["labels"]["team"] == "x"


def test_secret_build_args_are_redacted_from_narration() -> None:
    class Boom(Exception):
        pass

    class Api:
        def build(self, **kw: object) -> object:
            raise Boom

    stream = io.StringIO()
    reporter = Reporter(stream, timestamps=False)
    p = BuildPlan(repository="r1", context=Path("."), dockerfile=Path("Dockerfile"),
                  tags=derive_tags(SourceInfo(commit=SHA), immutable=True, now=NOW), labels={},
                  build_args={"API_TOKEN": "hunter2-secret"})
    with pytest.raises(Boom):
        build_image(SimpleNamespace(api=Api()), p, reporter, FakeClock())
    reporter.info("the value hunter2-secret leaked")
    assert "hunter2-secret" not in stream.getvalue() and "****" in stream.getvalue()


def test_state_files_round_trip_and_complain_clearly(tmp_path: Path) -> None:
    assert read_last_build(tmp_path) is None and read_last_push(tmp_path) is None
    write_last_build(tmp_path, {"image_id": "sha256:1", "tags": ["a"]})
    assert read_last_build(tmp_path) == {"image_id": "sha256:1", "tags": ["a"]}
    pushed = {"image": "r@sha256:2", "repository_uri": "r", "digest": "sha256:2", "tags": ["a"],
              "pushed_at": NOW.isoformat()}
    path = write_last_push(tmp_path, pushed)
    assert path == tmp_path / ".pipeline-py" / "last-push.json"
    assert read_last_push(tmp_path) == pushed
    path.write_text("{not json")
    with pytest.raises(BadInput, match=r"last-push.json:1: not valid JSON"):
        read_last_push(tmp_path)
    path.write_text('{"image": "x"}')
    with pytest.raises(BadInput, match="missing repository_uri, digest"):
        read_last_push(tmp_path)


def test_dry_run_build_through_the_cli_with_a_params_file(tmp_path: Path) -> None:
    import json

    from tests.conftest import run_cli

    base = write_app(tmp_path)
    (base / "pipeline.yaml").write_text(
        "service: task-api\nimage: {repository: task-api, context: app, dockerfile: app/Dockerfile, "
        "build_args: {A: from-config}}\nenvironments: {local: {image: {target: final}}}\n")
    params = base / "params.json"
    params.write_text(json.dumps({"build-arg": {"A": "from-params", "NPM_TOKEN": "xyz-secret"},
                                  "tag": ["p1"], "no_cache": True}))
    r = run_cli("--config", str(base / "pipeline.yaml"), "--env", "local", "--json", "--dry-run",
                "--params-file", str(params), "build", "--tag", "cli1", "--platform", "linux/amd64")
    assert r.code == 0, r.stderr
    out = r.json
    assert out["dry_run"] is True and out["tags"][-2:] == ["p1", "cli1"]
    assert out["build_args"] == {"A": "from-params", "NPM_TOKEN": "****"}
    assert (out["target"], out["platform"], out["no_cache"]) == ("final", "linux/amd64", True)
    assert "xyz-secret" not in r.stdout + r.stderr
    assert not (base / ".pipeline-py").exists()
