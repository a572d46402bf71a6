"""The CLI fuzzed (hypothesis) over every input it takes: pipeline.yaml, params files, ``--set``,
templates and ``--var``, through ``config``, ``render`` and ``deploy --dry-run`` (the latter against
the sandbox on the local stack, so nothing leaves the machine).

Whatever the input: no traceback, an exit code in {0, 1, 2} (3 means "human needed", which nothing
read-only can be), exactly one ``ERROR`` line on failure, one JSON object on stdout with that exit
code, and an error message that names its source (the file, ``--set``/``--var``/the option, or the
field). Bounded: a fixed number of examples per command (derandomized, so a run is reproducible)
and a per-example deadline; the counts are printed at the end of each test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLE, CliResult, run_cli
from tests.integration.deploy_fixtures import LOCAL_ENV, Project, project

__all__ = ["project"]

# examples per command; PIPELINE_PY_FUZZ_SCALE=10 runs ten times as many (a deeper search, outside CI)
SCALE = int(os.environ.get("PIPELINE_PY_FUZZ_SCALE", "1"))
EXAMPLES = {k: v * SCALE for k, v in {"config": 90, "render": 90, "deploy": 40}.items()}
FUZZ = settings(deadline=timedelta(seconds=60), derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
ERROR_LINE = re.compile(r"^\d\d:\d\d:\d\d ERROR ", re.M)

ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True))
HOSTILE_VALUES: list[Any] = [
    "", " ", "abc", "-1", "0", "65536", "70000", "1e999", ".inf", "-.inf", ".nan", "9" * 5000,
    "999999999999999999999h", "1e26", "[" * 3000 + "]" * 3000, "{a: " * 200, "&a [*a]", "*undefined",
    "\x00", "é" * 300, "a" * 300, "not-an-arn", "arn:aws:iam::123:role/x", "true", "null", "{a: 1}",
    "[1, 2]", "/etc/passwd", "../../..", "{{ 7*7 }}", "'\"\\", "💥", "\u202e", "%s%n", "$(id)", "x" * 70000,
    -1, 0, 1, 70000, 10**30, -(10**30), 1.5, float("inf"), True, None, [], {}, [1, [2, [3]]], {"k": {"k": "v"}},
]
HOSTILE_DOCS = [
    ALIAS_BOMB, "service: x\nalarms: " + "[" * 5000, "- " * 3000 + "x", "a:\n" + "".join(
        "  " * i + "b:\n" for i in range(1, 400)), "service: " + "9" * 5000, "service: x\ntimeout: .inf\n",
    "!!python/object/apply:os.system ['id']", "service: [unclosed", "\t\tservice: x", "? [a, b]\n: c\n",
    "service: x\nenvironments: {1: {}}\n", "service: x\nenvironments: [a]\n", "--- a\n--- b\n",
]
JINJA_PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__()|length }}", "{{ cycler.__init__.__globals__ }}",
    "{{ self.__dict__ }}", "{{ range(10**9)|length }}", "{{ 'a' * 10**9 }}", "{{ 10**(10**10) }}",
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "{{ '{:>999999999}'.format(1) }}",
    "{{ container_port | int * 'x' }}", "{{ undefined_var }}", "{% if %}", "{{ (((((((((( 1 ))))))))) }}",
    "{{ lipsum.__globals__ }}", "{{ 'x'|center(10**8) }}", "{% include '../../../etc/passwd' %}",
    "{{ config.items() }}", "{{ 1/0 }}", "{{ [] | first }}", "{{ x.y.z }}", "\x00", "{{ '%999999999d' % 1 }}",
    "{{ " + "(" * 400 + "1" + ")" * 400 + " }}", "{% set x = 'a' %}{{ x|int }}", "{{ 'abc'|int }}",
]
CONFIG_PATHS = [
    "service", "region", "role_arn", "cluster", "ecs_service", "desired_count", "strategy", "timeout",
    "poll_interval", "rollback_timeout", "max_failed_tasks", "bake_seconds", "alarms", "alarm_grace",
    "preexisting_alarms", "task_definition.template", "task_definition.vars", "task_definition.vars.container_port",
    "task_definition.vars.cpu", "task_definition.vars.memory", "task_definition.vars.execution_role_arn",
    "task_definition.vars.log_group", "task_definition.vars.db_pass", "blue_green.listener_port",
    "blue_green.target_groups.blue", "blue_green.services.green", "blue_green.load_balancer", "canary.steps",
    "canary.bake_seconds", "canary.analysis.period", "canary.analysis.max_p99_ms", "lock.table", "lock.ttl",
    "image.repository", "image.kms_key", "smoke", "smoke.url", "unknown.key", "environments", "run_task.container",
]
VAR_NAMES = ["container_port", "cpu", "memory", "execution_role_arn", "task_role_arn", "log_group", "scenario",
             "app_secrets", "sidecar", "db_pass", "image", "family", "x"]
PARAM_KEYS = ["image", "var", "set", "strategy", "timeout", "poll_interval", "desired_count", "rollback_timeout",
              "pause_at", "nonsense", "dry_run"]


@dataclass
class Stats:
    runs: int = 0
    codes: Counter[int] = field(default_factory=Counter)
    tracebacks: int = 0


@dataclass
class Case:
    """One run: files to write (relative to the project directory), arguments, acceptable sources."""

    files: dict[str, bytes] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value) if not isinstance(value, float) or value == value else "nan"




# bytes, half of them not UTF-8
raw_bytes = st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: b[:5] + b"\xff\xc3(" + b[5:]))
hostile = st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=40), st.integers(), st.floats(),
                    st.lists(st.text(max_size=5), max_size=3))


@st.composite
def config_mutation(draw: Any, base: dict[str, Any], config_name: str) -> Case:
    how = draw(st.sampled_from(["value", "value", "value", "document", "bytes", "edit"]))
    case = Case(sources=[config_name, "deploy/taskdef.json.j2"])
    text: bytes
    if how == "document":
        text = draw(st.sampled_from(HOSTILE_DOCS)).encode()
    elif how == "bytes":
        text = draw(raw_bytes)
    elif how == "edit":
        raw = yaml.safe_dump(base, sort_keys=False)
        pos = draw(st.integers(0, len(raw)))
        text = (raw[:pos] + draw(st.text(max_size=20)) + raw[pos + draw(st.integers(0, 20)):]).encode(
            "utf-8", "surrogatepass")
    else:
        data = json.loads(json.dumps(base))
        where = draw(st.sampled_from(["top", "env"]))
        path = draw(st.sampled_from(CONFIG_PATHS)).split(".")
        value = draw(hostile)
        cur = data if where == "top" else data["environments"]["local"]
        for key in path[:-1]:
            nxt = cur.get(key)
            cur[key] = nxt = nxt if isinstance(nxt, dict) else {}
            cur = nxt
        cur[path[-1]] = value
        case.sources += [path[-1], _text(value)[:40]] if len(_text(value)) >= 3 else [path[-1]]
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8", "surrogatepass")
    case.files["pipeline.yaml"] = text
    return case


@st.composite
def assignment(draw: Any, option: str, keys: list[str]) -> tuple[list[str], list[str]]:
    key = draw(st.one_of(st.sampled_from(keys), st.text(max_size=12), st.lists(
        st.sampled_from(["task_definition", "vars", "canary", "x", ""]), min_size=1, max_size=40).map(".".join)))
    value = _text(draw(hostile))
    return [option, f"{key}={value}"], [option, key or option]


@st.composite
def params_mutation(draw: Any) -> Case:
    case = Case(sources=["params file"])
    if draw(st.booleans()):
        case.files["params.json"] = draw(st.one_of(
            raw_bytes, st.sampled_from([b"[]", b"1", b'{"a": NaN}', b"[" * 60000, b'{"set": "x"',
                                                      b'{"image": "\\ud800"}', b'{"timeout": 1' + b"0" * 5000 + b"}"])))
    else:
        params = draw(st.dictionaries(st.sampled_from(PARAM_KEYS), st.one_of(
            hostile, st.lists(st.sampled_from(["cluster=x", "desired_count=1e26", "timeout=.inf", "container_port=abc",
                                               "unknown.key=1", "service=", "x"]), max_size=3)), max_size=3))
        case.files["params.json"] = json.dumps(params).encode()
        case.sources += ["--set", "--var", "--image", "cluster", "container_port", *[f"--{k.replace('_', '-')}"
                                                                                      for k in params], *params]
    case.argv = ["--params-file", "params.json"]
    return case


@st.composite
def template_mutation(draw: Any, template: str) -> Case:
    case = Case(sources=["deploy/taskdef.json.j2"])
    how = draw(st.sampled_from(["payload", "payload", "bytes", "edit"]))
    if how == "bytes":
        text = draw(raw_bytes)
    else:
        lines = template.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines)))
        snippet = draw(st.sampled_from(JINJA_PAYLOADS)) if how == "payload" else draw(st.text(max_size=30))
        text = ("".join(lines[:at]) + snippet + "\n" + "".join(lines[at:])).encode("utf-8", "surrogatepass")
    case.files["deploy/taskdef.json.j2"] = text
    return case


@st.composite
def cli_case(draw: Any, base: dict[str, Any], template: str) -> Case:
    """One to three mutated inputs at once."""
    kinds = draw(st.lists(st.sampled_from(["config", "params", "set", "var", "template"]), min_size=1, max_size=3,
                          unique=True))
    case = Case()
    for kind in kinds:
        if kind == "config":
            part = draw(config_mutation(base, "pipeline.yaml"))
        elif kind == "params":
            part = draw(params_mutation())
        elif kind == "template":
            part = draw(template_mutation(template))
        else:
            option = f"--{kind}"
            keys = CONFIG_PATHS if kind == "set" else VAR_NAMES
            argv, sources = draw(assignment(option, keys))
            part = Case(argv=argv, sources=[*sources, "deploy/taskdef.json.j2", "pipeline.yaml"])
        case.files.update(part.files)
        case.argv += part.argv
        case.sources += part.sources
    return case


def check(r: CliResult, case: Case, stats: Stats) -> None:
    stats.runs += 1
    stats.codes[r.code] += 1
    if "Traceback" in r.stderr or "internal error" in r.stderr:
        stats.tracebacks += 1
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr[-3000:]
    assert r.code in (0, 1, 2), r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert isinstance(out, dict) and out.get("exit_code", 0) == r.code
    if r.code:
        assert len(ERROR_LINE.findall(r.stderr)) == 1, r.stderr[-3000:]
        message = out["message"]
        assert any(s and s in message for s in case.sources), (message, case.sources)


def run_case(directory: Path, case: Case, *argv: str) -> CliResult:
    for rel, data in case.files.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_bytes(data)
    # the argv as a shell passes it: bytes that are not UTF-8 arrive as surrogate escapes
    args = [a.encode("utf-8", "surrogatepass").decode("utf-8", "surrogateescape") for a in case.argv]
    return run_cli("--config", "pipeline.yaml", "--json", *argv, *args, cwd=directory)


def example_dirs(root: Path, config: dict[str, Any]) -> Iterator[Path]:
    n = 0
    while True:
        n += 1
        d = root / f"ex{n}"
        (d / "deploy").mkdir(parents=True)
        shutil.copy(EXAMPLE / "deploy" / "taskdef.json.j2", d / "deploy" / "taskdef.json.j2")
        (d / "pipeline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        yield d


def base_config() -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    data["environments"] = {"local": LOCAL_ENV}
    return dict(data)


@pytest.fixture(scope="module")
def stats() -> Iterator[dict[str, Stats]]:
    out: dict[str, Stats] = {k: Stats() for k in EXAMPLES}
    yield out
    summary = {k: {"runs": s.runs, "exit_codes": dict(sorted(s.codes.items())), "tracebacks": s.tracebacks}
               for k, s in out.items()}
    print(f"\nfuzz counts: {json.dumps(summary)}")


TEMPLATE = (EXAMPLE / "deploy" / "taskdef.json.j2").read_text()
BASE = base_config()


def test_fuzz_config(aws: Any, tmp_path: Path, stats: dict[str, Stats]) -> None:
    dirs = example_dirs(tmp_path, BASE)

    @settings(FUZZ, max_examples=EXAMPLES["config"])
    @given(case=cli_case(BASE, TEMPLATE), env=st.booleans())
    def run(case: Case, env: bool) -> None:
        check(run_case(next(dirs), case, *(["--env", "local"] if env else []), "config"), case, stats["config"])

    run()


def test_fuzz_render(aws: Any, tmp_path: Path, stats: dict[str, Stats]) -> None:
    dirs = example_dirs(tmp_path, BASE)

    @settings(FUZZ, max_examples=EXAMPLES["render"])
    @given(case=cli_case(BASE, TEMPLATE))
    def run(case: Case) -> None:
        check(run_case(next(dirs), case, "--env", "local", "render", "--image", "task-api:v2"), case, stats["render"])

    run()


def test_fuzz_deploy_dry_run(project: Project, tmp_path: Path, stats: dict[str, Stats]) -> None:
    dirs = example_dirs(tmp_path, BASE)

    @settings(FUZZ, max_examples=EXAMPLES["deploy"])
    @given(case=cli_case(BASE, TEMPLATE), strategy=st.sampled_from(["rolling", "canary", "blue-green"]))
    def run(case: Case, strategy: str) -> None:
        r = run_case(next(dirs), case, "--env", "local", "--dry-run", "deploy", "--strategy", strategy,
                     "--image", "task-api:v2")
        check(r, case, stats["deploy"])

    run()
