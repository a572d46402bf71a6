"""``pipeline-py render``: the task definition for an environment — print it, diff it against what
the service runs now, or register it (only when it changed)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.commands._shared import check_template, note_secret_vars, warn_plain_text_secrets
from pipeline_py.errors import BadInput

if TYPE_CHECKING:
    from pipeline_py import taskdef
    from pipeline_py.context import Context

def _extra_vars(items: list[str] | None) -> dict[str, Any]:
    from pipeline_py.config import parse_assignment

    out: dict[str, Any] = {}
    for item in items or []:
        k, v = parse_assignment(item, "--var")
        out[k] = v
    return out


def _warnings(ctx: Context, rendered: taskdef.Rendered, image: str) -> None:
    td = rendered.task_definition
    if rendered.dropped:
        ctx.reporter.warn(f"{rendered.template}: ignored describe-only keys: {', '.join(rendered.dropped)}")
    containers = td.get("containerDefinitions") or []
    if not any(c.get("image") == image for c in containers):
        ctx.reporter.warn(f"no container uses the image {image} (does the template use {{{{ image }}}}?)")
    warn_plain_text_secrets(ctx, rendered)


def _write(path: str, td: dict[str, Any]) -> None:
    try:
        Path(path).write_text(json.dumps(td, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"--output {path}: cannot write: {exc.strerror or exc}") from None


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any] | None:
    from pipeline_py import taskdef

    settings = ctx.settings()
    env = ctx.require_env()
    base_dir = ctx.loaded().base_dir
    image = taskdef.resolve_image(args.image, base_dir)
    check_template(ctx, settings)
    extra = _extra_vars(args.var)
    note_secret_vars(ctx, settings, extra)
    rendered = taskdef.render_template(settings, base_dir, env=env, image=image, extra_vars=extra)
    td = rendered.task_definition
    names = ", ".join(str(c.get("name")) for c in td["containerDefinitions"])
    ctx.reporter.step(f"rendered {rendered.family} from {rendered.template} (containers: {names}; image {image})")
    _warnings(ctx, rendered, image)
    if args.output_file:
        _write(args.output_file, td)
        ctx.reporter.info(f"wrote {args.output_file}")

    result: dict[str, Any] = {"family": rendered.family, "image": image, "task_definition": td}
    if args.output_file:
        result["output"] = args.output_file
    if not (args.diff or args.register):
        if ctx.json:
            return result
        if not args.output_file:
            print(ctx.reporter.redact(json.dumps(td, indent=2)), flush=True)
        return None

    ecs = ctx.aws(settings).client("ecs")
    live_arn = taskdef.service_task_definition(ecs, settings.cluster, settings.service_name)
    live = taskdef.from_live(ecs, live_arn) if live_arn else None
    where = f"service {settings.service_name} in cluster {settings.cluster or 'default'}"
    if live_arn:
        ctx.reporter.info(f"{where} runs {live_arn}")
    result["live_task_definition_arn"] = live_arn
    result["changed"] = not taskdef.same(live, td)

    if args.diff:
        text = taskdef.diff(live, td, old_label=live_arn or "live", new_label=str(rendered.template))
        result["diff"] = text
        if live_arn is None:
            ctx.reporter.info(f"{where} does not exist yet: diffing against nothing")
        if text:
            ctx.reporter.raw(text)
        else:
            ctx.reporter.info("no differences: the rendered task definition is what the service runs")

    if args.register:
        result.update(_register(ctx, ecs, td))

    if not ctx.json:
        result.pop("task_definition")
        result.pop("diff", None)
    return result


def _register(ctx: Context, ecs: Any, td: dict[str, Any]) -> dict[str, Any]:
    from pipeline_py import taskdef

    if ctx.dry_run:
        current = taskdef.latest_active(ecs, td["family"])
        if current is not None and taskdef.same(current[1], td):
            ctx.reporter.info(f"dry run: identical to {current[0]}; nothing would be registered")
            return {"task_definition_arn": current[0], "created": False, "would_register": False}
        base = f" (latest: {current[0]})" if current else " (new family)"
        ctx.reporter.info(f"dry run: would register a new revision of {td['family']}{base}")
        if not ctx.json:
            ctx.reporter.raw(json.dumps(td, indent=2))
        return {"task_definition_arn": None, "created": False, "would_register": True}
    arn, created = taskdef.register(ecs, td)
    if created:
        ctx.reporter.info(f"registered {arn}")
    else:
        ctx.reporter.info(f"unchanged: {arn} is identical; not registered again")
    return {"task_definition_arn": arn, "created": created}


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(
        subparsers, add_globals, "render", run,
        "render the task definition; --diff against the live service, --register a new revision",
        description="Render the jinja2 task-definition template for --env, validate it against botocore's "
                    "RegisterTaskDefinition model and ECS rules, and print it (stdout), diff it against the "
                    "revision the service runs now (--diff), or register it (--register; an identical "
                    "definition is not registered again).",
    )
    p.add_argument("--image", metavar="REF",
                   help="image reference (default: the one `push` recorded in .pipeline-py/last-push.json)")
    p.add_argument("--var", action="append", metavar="KEY=VALUE",
                   help="template variable (YAML-typed), overrides task_definition.vars (repeatable)")
    p.add_argument("--diff", action="store_true", help="unified diff against the revision the service runs now")
    p.add_argument("--register", action="store_true",
                   help="register the rendered definition (with --dry-run: show what would be registered)")
    # the global --output FILE: for render, the rendered task definition (the result is --json)
    p.set_defaults(owns_output=True)
