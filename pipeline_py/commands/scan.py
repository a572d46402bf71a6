"""``pipeline-py scan``: the image scan gate — wait for ECR's scan of the pushed digest, fail (exit 1)
on findings at or above ``image.scan.fail_on`` that the allowlist does not allow (any more).

A command of its own, not a step of ``push``: the gate is judged when an image is promoted (before
the prod deploy), which can be long after the push — allowlist entries expire and enhanced scanning
finds new CVEs in the meantime — and it can judge any pushed digest (a rollback target) without
pushing. ``push`` keeps meaning "the image is in ECR". Without ``--image`` it scans the last ``push``
of this config directory (``.pipeline-py/last-push.json``). ``--dry-run`` reads the scan as it is
now, never starts one and never waits.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.errors import BadInput

if TYPE_CHECKING:
    from pipeline_py.context import Context

SEVERITY_CHOICES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL")


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.images.scan import parse_image, scan_gate
    from pipeline_py.images.state import read_last_push

    overrides: dict[str, Any] = {}
    if args.fail_on:
        overrides["image.scan.fail_on"] = args.fail_on.upper()
    if args.timeout is not None:
        overrides["image.scan.timeout"] = args.timeout
    settings = ctx.settings(overrides, env_required=False)
    ref = args.image
    if not ref:
        last = read_last_push(ctx.loaded().base_dir.resolve())
        if last is None:
            raise BadInput("no image to scan: pass --image REPOSITORY@sha256:… or run `pipeline-py push` first")
        ref = last["image"]
    image = parse_image(ref, settings.repository)
    ctx.reporter.step(f"scan gate: {image.display()} (fail on {settings.image.scan.fail_on} and above)")
    return scan_gate(image, settings.image.scan, ecr_client=ctx.aws(settings).client("ecr"), reporter=ctx.reporter,
                     clock=ctx.clock, dry_run=ctx.dry_run)


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "scan", run,
                    "image scan gate: wait for ECR's scan of the pushed digest, fail on findings at or above "
                    "image.scan.fail_on not allowlisted")
    p.add_argument("--image", metavar="REF",
                   help="REPOSITORY@sha256:… (or :TAG) to judge (default: the last `push` of this config directory)")
    p.add_argument("--fail-on", choices=SEVERITY_CHOICES, type=str.upper, metavar="SEVERITY",
                   help=f"override image.scan.fail_on ({', '.join(SEVERITY_CHOICES)})")
    p.add_argument("--timeout", metavar="DURATION", help="override image.scan.timeout (e.g. 600, 10m)")
