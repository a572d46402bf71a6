"""``pipeline-py jenkins sync|validate|build|preflight``: Jenkins job management and pipeline gates.

URL, user and API token come from ``--url``/config/``$JENKINS_URL`` and ``$JENKINS_USER``/
``$JENKINS_API_TOKEN`` (the Jenkins library binds them from a credential ID). ``validate`` and
``build`` work without a ``pipeline.yaml``; ``sync`` and ``preflight`` need one (the service, the
alarms, AWS access).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command, add_group
from pipeline_py.errors import BadInput

if TYPE_CHECKING:
    from pipeline_py.config import JenkinsConfig
    from pipeline_py.context import Context
    from pipeline_py.jenkins.client import JenkinsClient


def _jenkins_config(ctx: Context, overrides: dict[str, Any], *, required: bool) -> tuple[JenkinsConfig, str | None]:
    """The config's jenkins section (and the service) with option overrides; defaults when there is
    no config file and none was asked for."""
    from pipeline_py.config import JenkinsConfig

    explicit = getattr(ctx.args, "config", None) or ctx.environ.get("PIPELINE_PY_CONFIG")
    if not required and not explicit and not Path(ctx.config_path).exists():
        return JenkinsConfig(**{k.split(".", 1)[1]: v for k, v in overrides.items()}), None
    settings = ctx.settings(overrides=overrides, env_required=False)
    return settings.jenkins, settings.service


def _given(**values: Any) -> dict[str, Any]:
    return {f"jenkins.{k}": v for k, v in values.items() if v is not None}


def _client(ctx: Context, cfg: JenkinsConfig) -> JenkinsClient:
    from pipeline_py.jenkins.client import JenkinsClient, connection

    return JenkinsClient(connection(cfg.url, cfg.user, ctx.environ))


def sync(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.jenkins.sync import desired_items
    from pipeline_py.jenkins.sync import sync as apply

    cfg, service = _jenkins_config(ctx, _given(url=args.url, folder=args.folder, repo_url=args.repo_url,
                                               library_repo=args.library_repo,
                                               library_version=args.library_version,
                                               credentials_id=args.credentials_id), required=True)
    if not cfg.repo_url:
        raise BadInput("jenkins sync needs the service's repository: --repo-url or jenkins.repo_url")
    items = desired_items(folder=cfg.folder or "", service=str(service), repo_url=cfg.repo_url,
                          library_name=cfg.library_name, library_version=cfg.library_version,
                          library_repo=cfg.library_repo, credentials_id=cfg.credentials_id,
                          script_path=args.script_path)
    if not cfg.library_repo:
        ctx.reporter.warn("no jenkins.library_repo: the folder gets no library (configure it globally instead)")
    out = apply(_client(ctx, cfg), items, ctx.reporter, dry_run=ctx.dry_run)
    ctx.reporter.info(f"created {len(out['created'])}, updated {len(out['updated'])}, "
                      f"unchanged {len(out['unchanged'])}")
    return out


def validate(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.jenkinsfile)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    cfg, _ = _jenkins_config(ctx, _given(url=args.url), required=False)
    errors = _client(ctx, cfg).validate_jenkinsfile(text)
    if errors:
        for e in errors:
            ctx.reporter.error(f"{path}: {e}")
        raise BadInput(f"{path}: {len(errors)} error(s) from the declarative linter: {errors[0]}",
                       result={"valid": False, "errors": errors, "jenkinsfile": str(path)})
    ctx.reporter.info(f"{path}: valid")
    return {"valid": True, "errors": [], "jenkinsfile": str(path)}


def build(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.config import parse_assignment
    from pipeline_py.jenkins.client import branch_item_name
    from pipeline_py.jenkins.follow import run_build

    cfg, service = _jenkins_config(ctx, _given(url=args.url), required=False)
    job = args.job or (f"{cfg.folder}/{service}" if cfg.folder and service else None)
    if not job:
        raise BadInput("jenkins build needs --job FOLDER/NAME (or jenkins.folder and a service in the config)")
    full = f"{job.strip('/')}/{branch_item_name(args.branch)}" if args.branch else job.strip("/")
    params = dict(parse_assignment(p, "--parameter") for p in args.parameter or [])
    parameters = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()}
    if ctx.dry_run:
        plan = [f"trigger {full}"] + ([f"follow {full} to its result"] if args.follow else [])
        return {"job": full, "parameters": parameters, "plan": plan}

    def console(line: str) -> None:
        ctx.reporter.raw(line)

    return run_build(_client(ctx, cfg), full, parameters, follow=args.follow, clock=ctx.clock,
                     timeout=args.timeout, poll_interval=args.poll_interval, narrate=ctx.reporter.info,
                     console=console)


def preflight(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.jenkins.preflight import check_alarms, snapshot_id, take_snapshot

    settings = ctx.settings()
    aws = ctx.aws(settings)
    out: dict[str, Any] = {"env": ctx.env, "alarms": {}, "snapshot": None}
    if not args.skip_alarms and settings.alarms:
        out["alarms"] = check_alarms(aws, settings.alarms, ctx.reporter)
        ctx.reporter.info(f"no alarm in ALARM ({len(settings.alarms)} checked)")
    elif not args.skip_alarms:
        ctx.reporter.info("no alarms configured for this environment")
    if args.rds_snapshot:
        sid = snapshot_id(args.rds_snapshot, ctx.clock, args.snapshot_id)
        if ctx.dry_run:
            out["snapshot"] = {"id": sid, "instance": args.rds_snapshot, "status": "would create"}
        else:
            tags = {"pipeline-py:service": settings.service, "pipeline-py:env": str(ctx.env)}
            build_tag = ctx.environ.get("BUILD_TAG")
            if build_tag:
                tags["pipeline-py:build"] = build_tag
            out["snapshot"] = take_snapshot(aws, args.rds_snapshot, sid, ctx.clock, ctx.reporter,
                                            timeout=args.timeout, poll_interval=args.poll_interval, tags=tags)
    return out


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    sub = add_group(subparsers, add_globals, "jenkins", "Jenkins: sync jobs, validate a Jenkinsfile, run builds")

    p = add_command(sub, add_globals, "sync", sync,
                    "create or update the folder (with the shared library) and the service's multibranch job",
                    path=["jenkins", "sync"])
    p.add_argument("--url", help="Jenkins URL (default: jenkins.url, then $JENKINS_URL)")
    p.add_argument("--folder", help="folder path, e.g. teams/apps (default: jenkins.folder)")
    p.add_argument("--repo-url", help="the service's git repository (default: jenkins.repo_url)")
    p.add_argument("--library-repo", help="the shared library's git repository (default: jenkins.library_repo)")
    p.add_argument("--library-version", help="default library version (default: jenkins.library_version, v1)")
    p.add_argument("--credentials-id", help="Jenkins credential for the repositories (default: jenkins.credentials_id)")
    p.add_argument("--script-path", default="Jenkinsfile", help="Jenkinsfile path in the repository")

    p = add_command(sub, add_globals, "validate", validate,
                    "lint a declarative Jenkinsfile with Jenkins' own validator", path=["jenkins", "validate"])
    p.add_argument("--jenkinsfile", default="Jenkinsfile", help="file to validate (default: Jenkinsfile)")
    p.add_argument("--url", help="Jenkins URL (default: jenkins.url, then $JENKINS_URL)")

    p = add_command(sub, add_globals, "build", build,
                    "trigger a (branch) build; with --follow stream its console and exit with its result",
                    path=["jenkins", "build"])
    p.add_argument("--job", help="job path, e.g. apps/task-api (default: jenkins.folder/service)")
    p.add_argument("--branch", help="branch of a multibranch job (encoded as Jenkins names it)")
    p.add_argument("--parameter", action="append", metavar="K=V", help="build parameter (repeatable)")
    p.add_argument("--follow", action="store_true", help="follow the build: console, then its result")
    p.add_argument("--url", help="Jenkins URL (default: jenkins.url, then $JENKINS_URL)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait in all (default 3600)")
    p.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls (default 2)")

    p = add_command(sub, add_globals, "preflight", preflight,
                    "pre-deploy gates: no configured alarm in ALARM; optionally an RDS snapshot",
                    path=["jenkins", "preflight"])
    p.add_argument("--skip-alarms", action="store_true",
                   help="do not check the configured alarms (by default any alarm in ALARM fails the gate)")
    p.add_argument("--rds-snapshot", metavar="DB_INSTANCE", help="snapshot this RDS instance and wait for it")
    p.add_argument("--snapshot-id", help="snapshot identifier (default: <instance>-pre-deploy-<UTC time>)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the snapshot (default 1800)")
    p.add_argument("--poll-interval", type=float, default=15.0, help="seconds between snapshot polls")

