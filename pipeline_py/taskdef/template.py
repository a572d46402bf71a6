"""Rendering the jinja2 JSON template into a validated, normalised task definition."""

from __future__ import annotations

import json
import os
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SecurityError

from pipeline_py import inputs
from pipeline_py.config import Settings, template_problem
from pipeline_py.errors import BadInput, PipelineError
from pipeline_py.taskdef import helpers, sandbox
from pipeline_py.taskdef.image_ref import split_ref, version_of
from pipeline_py.taskdef.normalisation import normalise, strip_describe_only
from pipeline_py.taskdef.validation import validate

# Set by pipeline-py itself; a config var or --var with one of these names is a mistake.
RESERVED = ("image", "env", "service")

_UNDEFINED = re.compile(r"^'([^']+)' is undefined$")


@dataclass
class Rendered:
    task_definition: dict[str, Any]
    template: Path
    context: dict[str, Any]
    text: str
    dropped: list[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return str(self.task_definition["family"])


def template_path(settings: Settings, base_dir: Path) -> Path:
    rel = settings.task_definition.template
    if not rel:
        raise BadInput("task_definition.template is not set in the config (e.g. deploy/taskdef.json.j2)")
    problem = template_problem(settings, base_dir)
    if problem:
        raise BadInput(f"task_definition.template: {problem}")
    return Path(base_dir) / rel


def template_context(settings: Settings, *, env: str | None, image: str,
                     extra_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    """Variables a template sees; later sources win: built-ins < config vars < ``--var``."""
    for source, values in (("task_definition.vars", settings.task_definition.vars), ("--var", extra_vars or {})):
        clash = sorted(set(values) & set(RESERVED))
        if clash:
            raise BadInput(f"{source}: {', '.join(clash)} cannot be set as template variables "
                           f"(pipeline-py sets {', '.join(RESERVED)}; use --image / --env)")
    region = settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    repository, tag, digest = split_ref(image)
    ctx: dict[str, Any] = {
        "region": region,
        "family": f"{settings.service}-{env}" if env else settings.service,
        "cluster": settings.cluster,
        "ecs_service": settings.service_name,
        "version": version_of(image),
        "image_repository": repository,
        "image_tag": tag,
        "image_digest": digest,
    }
    ctx.update(settings.task_definition.vars)
    ctx.update(extra_vars or {})
    ctx.update({"service": settings.service, "env": env, "image": image})
    return ctx


def _environment(search: list[Path], ctx: dict[str, Any], *, allow_outside: bool = False) -> jinja2.Environment:
    """The sandboxed environment (``pipeline_py.taskdef.sandbox``) with the documented helpers."""
    jenv = sandbox.TemplateEnvironment(
        search,
        allow_outside=allow_outside,
        undefined=jinja2.StrictUndefined,
        finalize=helpers.finalize,
        keep_trailing_newline=True,
        autoescape=False,
    )
    account_id = ctx.get("account_id")
    secrets = helpers.make_secrets(ctx.get("region"), str(account_id) if account_id else None)
    jenv.globals.update(
        awslogs=helpers.make_awslogs(ctx.get("region"), str(ctx["service"])),
        environment=helpers.environment,
        secrets=secrets,
    )
    jenv.filters.update(
        tojson=jenv.bounded(helpers.tojson, "tojson"),
        environment=jenv.bounded(helpers.environment, "environment"),
        secrets=jenv.bounded(secrets, "secrets"),
    )
    return jenv


def _template_frame(exc: BaseException) -> traceback.FrameSummary | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.endswith(".py") and not f.filename.startswith("<")]
    return frames[-1] if frames else None


def _where(exc: BaseException, fallback: Path) -> tuple[str, str]:
    """``file:line`` of the template line that failed, and that line quoted."""
    frame = _template_frame(exc)
    if frame is None:
        return str(fallback), ""
    quoted = f"\n    {frame.lineno} | {frame.line.strip()}" if frame.line else ""
    return f"{frame.filename}:{frame.lineno}", quoted


def render_text(path: Path, ctx: dict[str, Any], *, allow_outside: bool = False) -> str:
    """The template rendered in the sandbox; every failure is a ``BadInput`` naming the template
    file and line."""
    jenv = _environment([path.parent], ctx, allow_outside=allow_outside)
    try:
        template = jenv.get_template(path.name)
        return sandbox.render_bounded(template, ctx)
    except PipelineError:
        raise
    except SecurityError as exc:
        loc, quoted = _where(exc, path)
        raise BadInput(f"{loc}: not allowed in a template: {exc}{quoted}") from None
    except (RecursionError, MemoryError):
        raise BadInput(f"{path}: the template nests too deeply or builds values too large to render") from None
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or path}:{exc.lineno}"
        raise BadInput(f"{where}: template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        loc, quoted = _where(exc, path)
        raise BadInput(f"{loc}: template {exc.name!r} not found (looked in {path.parent}){quoted}") from None
    except jinja2.UndefinedError as exc:
        loc, quoted = _where(exc, path)
        m = _UNDEFINED.match(exc.message or "")
        known = ", ".join(sorted(k for k in ctx if not k.startswith("_")))
        if m:
            text = (f"undefined variable {m.group(1)!r} (define it under task_definition.vars, "
                    f"in the environment section, or pass --var {m.group(1)}=VALUE)")
        else:
            text = f"undefined value: {exc.message}"
        raise BadInput(f"{loc}: {text}{quoted}\n  variables: {known}") from None
    except helpers.HelperError as exc:
        loc, quoted = _where(exc, path)
        raise BadInput(f"{loc}: {exc}{quoted}") from None
    except Exception as exc:  # an error in a template expression (filter, arithmetic, …)
        if _template_frame(exc) is None:
            raise
        loc, quoted = _where(exc, path)
        raise BadInput(f"{loc}: template error: {exc.__class__.__name__}: {exc}{quoted}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"duplicate key {k!r}")
        seen[k] = v
    return seen


def parse_json(text: str, path: Path) -> Any:
    """The rendered text as JSON; errors point into the rendered output and show the line."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise BadInput(f"{path}: the rendered template nests deeper than {inputs.MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        shown = []
        for n in range(max(1, exc.lineno - 1), exc.lineno + 1):
            if n <= len(lines):
                shown.append(f"    {n:>4} | {lines[n - 1]}")
        shown.append("    " + " " * 4 + " | " + " " * (exc.colno - 1) + "^")
        hint = ""
        bad_line = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else ""
        if re.search(r"'|\bTrue\b|\bFalse\b|\bNone\b", bad_line):
            hint = ("\n  hint: a Python value was inserted as text; insert whole values with "
                    "{{ x | tojson }}")
        raise BadInput(
            f"{path}: the rendered template is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno} of the rendered output:\n" + "\n".join(shown) + hint
        ) from None
    except ValueError as exc:
        raise BadInput(f"{path}: the rendered template is not valid JSON: {exc}") from None
    inputs.check_data(data, f"{path} (rendered)")
    return data


def render_template(settings: Settings, base_dir: Path, *, env: str | None, image: str,
                    extra_vars: dict[str, Any] | None = None) -> Rendered:
    """Everything ``render`` does, plus what the CLI narrates (template, context, dropped keys)."""
    path = template_path(settings, base_dir)
    ctx = template_context(settings, env=env, image=image, extra_vars=extra_vars)
    text = render_text(path, ctx, allow_outside=settings.task_definition.allow_outside_project)
    data = parse_json(text, path)
    if not isinstance(data, dict):
        raise BadInput(f"{path}: the rendered template must be a JSON object, not {type(data).__name__}")
    td, dropped = strip_describe_only(data)
    validate(td, source=str(path))
    return Rendered(task_definition=normalise(td), template=path, context=ctx, text=text, dropped=dropped)


def render(settings: Settings, base_dir: Path, *, env: str | None, image: str,
           extra_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    """Render, parse, validate and normalise: a dict usable as ``ecs.register_task_definition(**td)``."""
    return render_template(settings, base_dir, env=env, image=image, extra_vars=extra_vars).task_definition
