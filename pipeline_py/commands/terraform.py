"""``pipeline-py terraform init|plan|apply|output --env E``: the environment's terraform, safely.

``plan`` saves a plan file and summarises it (add/change/destroy/replace with addresses); a plan
that destroys or replaces a protected resource type is refused (exit 1) unless ``--allow-destroy``.
``apply`` applies exactly a saved plan: never a fresh one, never a plan file that changed since
it was reviewed, never a stale one. ``output`` prints the outputs the deploy can take its ARNs from.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command, add_group
from pipeline_py.errors import Aborted, BadInput, HumanNeeded, OperationFailed, PipelineError

if TYPE_CHECKING:
    from pipeline_py.context import Context
    from pipeline_py.terraform import env as terraform_env
    from pipeline_py.terraform import plan as terraform_plan
    from pipeline_py.terraform.runner import Terraform

SENSITIVE = "(sensitive)"


def _setup(ctx: Context) -> tuple[Any, terraform_env.TfEnv, terraform_env.Workspace]:
    from pipeline_py.commands._shared import tf_workspace
    from pipeline_py.terraform import env as terraform_env

    settings = ctx.settings()
    ws = tf_workspace(ctx)
    return settings, terraform_env.resolve(settings, ws), ws


def _base(tfenv: terraform_env.TfEnv) -> dict[str, Any]:
    return tfenv.to_dict()


def _where(tfenv: terraform_env.TfEnv) -> str:
    return f"{tfenv.root} with {tfenv.dir}" if tfenv.shared else str(tfenv.dir)


def _plan_file(args: argparse.Namespace, tfenv: terraform_env.TfEnv) -> Path:
    return Path(args.plan_file).resolve() if args.plan_file else tfenv.default_plan_file()


def _var_args(values: list[str] | None) -> list[str]:
    out = []
    for item in values or []:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--var {item!r}: expected NAME=VALUE")
        out.append(f"-var={item}")
    return out


def _mask(outputs: dict[str, Any]) -> dict[str, Any]:
    return {name: SENSITIVE if item.get("sensitive") else item.get("value") for name, item in outputs.items()}


def _narrate(ctx: Context, summary: terraform_plan.PlanSummary, protected: list[dict[str, str]]) -> None:
    from pipeline_py.terraform import plan as terraform_plan

    ctx.reporter.step(f"plan: {summary.line()}")
    for action in terraform_plan.ACTIONS:
        for address in summary.addresses(action):
            ctx.reporter.detail(f"{action:8} {address}")
    for p in protected:
        verb = "replaced" if p["action"] == "replace" else "destroyed"
        ctx.reporter.warn(f"protected: {p['address']} would be {verb}")


def _narrate_blocked(ctx: Context, blocked: list[dict[str, Any]]) -> None:
    for b in blocked:
        verb = "replaced" if b["action"] == "replace" else "destroyed"
        ctx.reporter.error(f"blocked: {b['address']} would be {verb} but its {b['protection']} is on; "
                           f"AWS would refuse the delete midway through the apply")


def init(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.terraform import env as terraform_env

    settings, tfenv, ws = _setup(ctx)
    with terraform_env.terraform(settings, tfenv, ws) as tf:
        argv = tf.command(*terraform_env.init_args(tfenv, upgrade=args.upgrade))
        if ctx.dry_run:
            return {**_base(tfenv), "commands": [tf.display(argv)]}
        ctx.reporter.step(f"terraform init {tfenv.env}: {_where(tfenv)}")
        terraform_env.init(tf, tfenv, upgrade=args.upgrade)
        return {**_base(tfenv), "backend": tfenv.backend_type, "terraform_version": tf.version()}


def plan(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.terraform import env as terraform_env
    from pipeline_py.terraform import plan as terraform_plan

    settings, tfenv, ws = _setup(ctx)
    plan_file = _plan_file(args, tfenv)
    var_args = [*terraform_env.var_file_args(tfenv), *_var_args(args.var)]
    with terraform_env.terraform(settings, tfenv, ws) as tf:
        plan_args = ["plan", "-input=false", "-detailed-exitcode", *tf.lock_args(), *tf.parallelism_args(),
                     f"-out={plan_file}", *var_args]
        if ctx.dry_run:
            commands = [] if tfenv.initialized() else [tf.display(tf.command(*terraform_env.init_args(tfenv)))]
            commands += [tf.display(tf.command(*plan_args)), tf.display(tf.command("show", "-json", str(plan_file)))]
            return {**_base(tfenv), "plan_file": str(plan_file), "commands": commands}
        ctx.reporter.step(f"terraform plan {tfenv.env}: {_where(tfenv)}")
        terraform_env.ensure_init(tf, tfenv)
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        done = tf.run(*plan_args)
        if done.code not in (0, 2):
            plan_file.unlink(missing_ok=True)  # terraform saves errored plans too; nobody should apply one
            raise tf.failure(done, "plan")
        summary = terraform_plan.summarize(tf.show_json(plan_file))
        protected = terraform_plan.protected_changes(summary, settings.terraform.protected_types)
        blocked = terraform_plan.blocked_changes(summary)
        _narrate(ctx, summary, protected)
        _narrate_blocked(ctx, blocked)
        refused = bool(blocked) or (bool(protected) and not args.allow_destroy)
        result = {
            **_base(tfenv),
            "plan_file": str(plan_file),
            "summary": summary.to_dict(),
            "protected": protected,
            "blocked": blocked,
            "allow_destroy": bool(args.allow_destroy),
            "changes": summary.has_changes,
        }
        record = terraform_plan.write_record(
            plan_file, env=tfenv.env, dir=str(tfenv.dir), root=str(tfenv.root), allow_destroy=bool(args.allow_destroy),
            refused=refused, summary=result["summary"], protected=protected, blocked=blocked,
            terraform_version=tf.version(),
        )
        result["plan_record"] = str(terraform_plan.record_path(plan_file))
        result["sha256"] = record["sha256"]
        if blocked:
            plan_file.unlink()
            raise OperationFailed(terraform_plan.blocked_message(blocked), result={**result, "status": "refused"})
        if refused:
            plan_file.unlink()
            names = ", ".join(f"{p['address']} ({p['action']})" for p in protected)
            raise OperationFailed(
                f"refusing a plan that destroys or replaces protected resources: {names}. The plan file was "
                f"deleted; if this is intended, review it and plan again with --allow-destroy",
                result={**result, "status": "refused"},
            )
        return result


def apply(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.terraform import env as terraform_env
    from pipeline_py.terraform import plan as terraform_plan

    settings, tfenv, ws = _setup(ctx)
    plan_file = _plan_file(args, tfenv)
    record = terraform_plan.read_record(plan_file)
    if not plan_file.is_file():
        hint = ""
        if record and record.get("blocked"):
            hint = (f" (the last plan, {record.get('created')}, was refused: it deletes resources whose deletion "
                    f"protection is on, which apply could not complete)")
        elif record and record.get("refused"):
            hint = f" (the last plan, {record.get('created')}, was refused: it destroys protected resources)"
        raise BadInput(f"no saved plan at {plan_file}{hint}; run `pipeline-py terraform plan --env {tfenv.env}` "
                       f"and review it first")
    if record is not None:
        if record.get("sha256") != terraform_plan.sha256(plan_file):
            raise BadInput(f"{plan_file} changed since it was planned (checksum differs from "
                           f"{terraform_plan.record_path(plan_file)}); plan again and review")
        if record.get("dir") not in (None, str(tfenv.dir)):
            raise BadInput(f"{plan_file} was planned in {record.get('dir')}, not in {tfenv.dir} "
                           f"(environment {tfenv.env})")
        if record.get("root") not in (None, str(tfenv.root)):
            raise BadInput(f"{plan_file} was planned with the root module {record.get('root')}, not {tfenv.root} "
                           f"(environment {tfenv.env})")
    else:
        ctx.reporter.warn(f"{plan_file} has no plan record (not made by `pipeline-py terraform plan`); "
                          f"applying it only if it passes the destroy guard")
    allow = bool(record and record.get("allow_destroy"))
    result: dict[str, Any] = {**_base(tfenv), "plan_file": str(plan_file), "applied": False}
    with terraform_env.terraform(settings, tfenv, ws) as tf:
        terraform_env.ensure_init(tf, tfenv)
        summary = terraform_plan.summarize(tf.show_json(plan_file))
        protected = terraform_plan.protected_changes(summary, settings.terraform.protected_types)
        blocked = terraform_plan.blocked_changes(summary)
        result.update(summary=summary.to_dict(), protected=protected, blocked=blocked)
        _narrate(ctx, summary, protected)
        _narrate_blocked(ctx, blocked)
        if blocked:
            raise OperationFailed(terraform_plan.blocked_message(blocked, ending="Nothing was applied"),
                                  result={**result, "status": "refused"})
        if protected and not allow:
            raise OperationFailed(
                "refusing to apply a plan that destroys or replaces protected resources ("
                + ", ".join(p["address"] for p in protected)
                + ") without --allow-destroy at plan time",
                result={**result, "status": "refused"},
            )
        if ctx.dry_run:
            return {**result, "dry_run": True}
        ctx.reporter.step(f"terraform apply {tfenv.env}: {plan_file}")
        _apply(tf, plan_file, result)
        outputs = tf.outputs()
    if record is not None:
        terraform_plan.update_record(plan_file, applied=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return {**result, "applied": True, "outputs": _mask(outputs)}


def _apply(tf: Terraform, plan_file: Path, result: dict[str, Any]) -> None:
    try:
        done = tf.run("apply", "-input=false", *tf.lock_args(), *tf.parallelism_args(), str(plan_file))
    except Aborted as exc:
        raise HumanNeeded(
            f"terraform apply interrupted by {exc.signame}: terraform stopped after the calls in flight and saved "
            f"what it had done; plan again to see what is left and review it",
            result={**result, "interrupted": exc.signame},
        ) from None
    if done.code != 0:
        err: PipelineError = tf.failure(done, "apply")
        err.result = {**result, **err.result}
        raise err


def output(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.terraform import env as terraform_env

    settings, tfenv, ws = _setup(ctx)
    with terraform_env.terraform(settings, tfenv, ws) as tf:
        terraform_env.ensure_init(tf, tfenv)
        outputs = tf.outputs(args.name)
    for name in sorted(outputs):
        ctx.reporter.detail(f"{name}{' (sensitive)' if outputs[name].get('sensitive') else ''}")
    return {**_base(tfenv), "outputs": _mask(outputs),
            "sensitive": sorted(n for n, o in outputs.items() if o.get("sensitive"))}


def unlock(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """The seed's "Remove lock (careful!)": show the state lock's holder; remove it given its id, unless a
    terraform process of this environment is alive (see pipeline_py/ops/tflock.py)."""
    from pipeline_py.ops import tflock
    from pipeline_py.ops.adapters import StateLocks

    settings, tfenv, _ = _setup(ctx)
    backend = tflock.backend_of(tfenv.backend_type, tfenv.backend_source, tfenv.data_dir, dict(ctx.environ))
    if backend is None:
        raise BadInput(f"environment {tfenv.env}: the state is not in an S3 backend ({tfenv.backend_type or 'none'} "
                       f"in {tfenv.root}): there is no DynamoDB state lock to show or remove")
    req = tflock.UnlockRequest(backend, tfenv.data_dir, [tfenv.dir, tfenv.root], args.lock_id,
                               hint=f"pipeline-py terraform unlock --env {tfenv.env}")
    out = tflock.unlock(StateLocks(ctx.aws(settings)), req, ctx.reporter, dry_run=ctx.dry_run,
                        processes=lambda: tflock.terraform_processes(settings.terraform.binary))
    return {**_base(tfenv), **out}


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    sub = add_group(subparsers, add_globals, "terraform",
                    "the environment's terraform: init, plan, apply, output, unlock")
    p = add_command(sub, add_globals, "init", init, "terraform init with the environment's backend configuration",
                    path=["terraform", "init"])
    p.add_argument("--upgrade", action="store_true", help="allow newer provider/module versions within constraints")
    p = add_command(sub, add_globals, "plan", plan,
                    "save a plan, summarise it, refuse destroying protected resources",
                    path=["terraform", "plan"])
    p.add_argument("--plan-file", metavar="F",
                   help="where to save the plan (default: <dir>/<env>.tfplan, in the environment's directory)")
    p.add_argument("--allow-destroy", action="store_true",
                   help="accept a plan that destroys or replaces protected resource types")
    p.add_argument("--var", action="append", metavar="NAME=VALUE", help="terraform -var (repeatable)")
    p = add_command(sub, add_globals, "apply", apply, "apply exactly a saved, reviewed plan",
                    path=["terraform", "apply"])
    p.add_argument("--plan-file", metavar="F", help="the saved plan (default: <dir>/<env>.tfplan)")
    p = add_command(sub, add_globals, "output", output, "the environment's terraform outputs",
                    path=["terraform", "output"])
    p.add_argument("--name", metavar="N", help="only this output")
    p = add_command(sub, add_globals, "unlock", unlock,
                    "show the state lock's holder; remove it given its --lock-id when no terraform of ours is alive",
                    path=["terraform", "unlock"])
    p.add_argument("--lock-id", metavar="ID", default=None,
                   help="the lock's ID as `terraform unlock` shows it: remove that lock (not the deploy lock)")
