"""What several commands do the same way, written once: effective settings with a command's options
and terraform outputs applied, template variables, the deploy engine's ports, the terraform workspace.

Imported by command handlers only when they run (never at parse time), so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.errors import BadInput

if TYPE_CHECKING:
    from pipeline_py import taskdef
    from pipeline_py.config import Settings
    from pipeline_py.context import Context
    from pipeline_py.deploy.locking import Holder
    from pipeline_py.deploy.ports import Ports
    from pipeline_py.terraform.env import Workspace

# command option → config path, for the options deploy-like commands share
DEPLOY_OPTIONS = (("strategy", "strategy"), ("timeout", "timeout"), ("poll_interval", "poll_interval"),
                  ("desired_count", "desired_count"), ("rollback_timeout", "rollback_timeout"))


def tf_workspace(ctx: Context) -> Workspace:
    from pipeline_py.terraform.env import Workspace

    return Workspace(env=ctx.require_env(), base_dir=ctx.loaded().base_dir, environ=ctx.environ,
                     reporter=ctx.reporter)


def settings_for(ctx: Context, args: argparse.Namespace) -> Settings:
    """Effective settings with this command's options applied (and terraform outputs, when asked)."""
    flags: dict[str, Any] = {}
    for opt, path in DEPLOY_OPTIONS:
        value = getattr(args, opt, None)
        if value is not None:
            flags[path] = value
    sources = {path: f"--{opt.replace('_', '-')}" for opt, path in DEPLOY_OPTIONS}
    settings = ctx.settings(flags, sources=sources)
    if settings.from_terraform_outputs:
        from pipeline_py.terraform import outputs

        values = outputs.read_outputs(settings, tf_workspace(ctx))
        derived = outputs.overrides_from_outputs(values, settings.terraform.outputs_map)
        ctx.reporter.info(f"from terraform outputs: {', '.join(sorted(derived)) or 'nothing'}")
        settings = ctx.settings({**derived, **flags},
                                sources={**{k: f"terraform output for {k}" for k in derived}, **sources})
    return settings


def require_cluster(settings: Settings) -> str:
    if not settings.cluster:
        raise BadInput("no cluster configured for this environment (set `cluster`, or from_terraform_outputs)")
    return settings.cluster


def template_vars(args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.config import parse_assignment

    out: dict[str, Any] = {}
    for item in getattr(args, "var", None) or []:
        k, v = parse_assignment(item, "--var")
        out[k] = v
    return out


def ports_for(ctx: Context, settings: Settings) -> Ports:
    from pipeline_py.deploy.adapters import aws_ports

    return aws_ports(ctx.aws(settings), ctx.reporter, ctx.clock, lock_table=settings.lock.table)


def holder_for(ctx: Context) -> Holder:
    """Who this invocation is, for the deploy lock (a Jenkins build, or user@host)."""
    from pipeline_py.deploy.locking import Holder

    return Holder.from_environ(ctx.environ, " ".join(getattr(ctx.args, "command_path", None) or []))


def duration_option(text: str, what: str) -> float:
    """An option's duration ("90", "15m", "2h") in seconds; BadInput naming the option otherwise."""
    from pipeline_py.config import _duration

    try:
        return float(_duration(text))
    except ValueError as exc:
        raise BadInput(f"{what} {text!r}: {exc}") from None


def positive_duration(text: str, what: str) -> float:
    value = duration_option(text, what)
    if value <= 0:
        raise BadInput(f"{what} {text!r}: must be more than 0")
    return value


def lock_wait(args: argparse.Namespace) -> float | None:
    """``--wait-for-lock DURATION`` in seconds; None when not given (then ``lock.wait`` applies)."""
    text = getattr(args, "wait_for_lock", None)
    if text is None:
        return None
    value = duration_option(text, "--wait-for-lock")
    if not 0 <= value <= 86400:
        raise BadInput(f"--wait-for-lock {text!r}: must be between 0 and 24h")
    return value


def attach_report(ctx: Context, result: dict[str, Any], directory: str | None) -> dict[str, Any]:
    """Write the deploy's HTML report next to its result; its path goes into the result."""
    from pathlib import Path

    from pipeline_py.deploy import html_report

    if result.get("status") == "dry_run":
        return result
    base = Path(directory) if directory else ctx.loaded().base_dir / ".pipeline-py" / "reports"
    stamp = ctx.clock.utcnow().strftime("%Y%m%dT%H%M%SZ")
    try:
        path = html_report.write(result, base, stamp)
    except OSError as exc:
        ctx.reporter.warn(f"could not write the HTML report into {base}: {exc.strerror or exc}")
        return result
    result["report_html"] = str(path.resolve())
    ctx.reporter.info(f"report: {result['report_html']}")
    return result


def add_report_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--report-dir", metavar="DIR", default=None,
                   help="where to write the HTML report (default: .pipeline-py/reports next to the config)")


def add_lock_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait-for-lock", metavar="DURATION", default=None,
                   help="when another deploy of this service holds its lock, wait this long for it (e.g. 10m) "
                        "instead of exiting 2 (default: lock.wait)")


def rendered_task_definition(ctx: Context, args: argparse.Namespace,
                             settings: Settings) -> tuple[dict[str, Any] | None, str | None]:
    """(rendered revision, None) from the template, or (None, ARN) with ``--task-definition``."""
    if args.task_definition:
        return None, args.task_definition
    if not settings.task_definition.template:
        raise BadInput("no task_definition.template configured and no --task-definition given")
    from pipeline_py import taskdef

    base = ctx.loaded().base_dir
    check_template(ctx, settings)
    image = taskdef.resolve_image(args.image, base)
    extra = template_vars(args)
    note_secret_vars(ctx, settings, extra)
    rendered = taskdef.render_template(settings, base, env=ctx.env, image=image, extra_vars=extra)
    warn_plain_text_secrets(ctx, rendered)
    return rendered.task_definition, None


def check_template(ctx: Context, settings: Settings) -> None:
    """The template is a regular file inside the project; an error names where it was set."""
    sets = {k for k in ctx.set_overrides() if k == "task_definition.template" or k == "task_definition"}
    ctx.loaded().check_template(settings, ctx.env, f"--set {sorted(sets)[-1]}" if sets else None)


def note_secret_vars(ctx: Context, settings: Settings, extra_vars: dict[str, Any]) -> None:
    """Template variables whose names look secret (``db_pass``, ``api_key``) are redacted from all output,
    from before the template renders (its errors may quote them)."""
    for source in (settings.task_definition.vars, extra_vars):
        for name, value in source.items():
            ctx.reporter.redact.add_named(str(name), value)


def warn_plain_text_secrets(ctx: Context, rendered: taskdef.Rendered) -> None:
    """Redact and warn about secrets the rendered task definition carries in plain-text ``environment``."""
    from pipeline_py.taskdef.exposure import advice, plain_text_secrets

    for found in plain_text_secrets(rendered.task_definition, rendered.context):
        ctx.reporter.redact.add(found.value)
        ctx.reporter.warn(advice(found))


def require_local_extra() -> None:
    """The local stack runs moto's server: installed with the ``local`` extra, not with the package alone."""
    import importlib.util

    missing = [m for m in ("moto", "werkzeug") if importlib.util.find_spec(m) is None]
    if missing:
        raise BadInput(f"the local stack needs the `local` extra ({', '.join(missing)} not installed): "
                       "pip install 'pipeline-py[local]'")
