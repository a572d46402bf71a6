"""Argument parsing, params-file merge, result printing and exit codes. No logic lives here.

Global options are accepted before or after the command. A params file is a JSON object whose
keys are the command's option names (dashes or underscores); each value is turned into that
option's argument tokens and parsed by the same parser as the command line, so both paths share
one validation. Precedence: option defaults < params file < command-line flags.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from pipeline_py import __version__
from pipeline_py.commands import register_all
from pipeline_py.errors import EXIT_FAILED, EXIT_HUMAN_NEEDED, Aborted, BadInput, PipelineError
from pipeline_py.report import Redactor, Reporter, print_result

GLOBAL_HELP = {
    "config": "config file (default: pipeline.yaml, or $PIPELINE_PY_CONFIG)",
    "env": "environment section to use (or $PIPELINE_PY_ENV)",
    "dry_run": "change nothing; show the plan/diff",
    "json": "print exactly one JSON result object on stdout (narration stays on stderr)",
    "params_file": "JSON object of option values (how Jenkins passes parameters)",
    "set": "override a config field by dotted path, e.g. --set canary.bake_seconds=30 (repeatable)",
    "output": "also write the full JSON result to FILE (without --json, stdout shows a short summary)",
}


SET_AFTER = "set_after_command"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{self.prog}: {message}")


def _add_globals(p: argparse.ArgumentParser, *, top: bool) -> None:
    d: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    g = p.add_argument_group("global options")
    g.add_argument("--config", metavar="FILE", help=GLOBAL_HELP["config"], **d)
    g.add_argument("--env", metavar="NAME", help=GLOBAL_HELP["env"], **d)
    g.add_argument("--dry-run", action="store_true", help=GLOBAL_HELP["dry_run"], **d)
    g.add_argument("--json", action="store_true", help=GLOBAL_HELP["json"], **d)
    g.add_argument("--params-file", metavar="FILE", help=GLOBAL_HELP["params_file"], **d)
    # after the command, --set collects into its own list: argparse replaces the namespace's values with
    # the subcommand's, so one list would lose the --set given before the command (parse() joins them)
    g.add_argument("--set", action="append", metavar="KEY=VALUE", help=GLOBAL_HELP["set"],
                   dest="set" if top else SET_AFTER, **d)
    g.add_argument("--output", metavar="FILE", dest="output_file", help=GLOBAL_HELP["output"], **d)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pipeline-py",
        description="Build, push, render, terraform and deploy to ECS Fargate — from Jenkins or a laptop.",
        epilog="exit codes: 0 ok · 1 failed (deploys: safely rolled back) · 2 bad input · 3 human needed",
    )
    parser.add_argument("--version", action="version", version=f"pipeline-py {__version__}")
    _add_globals(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    register_all(sub, lambda p: _add_globals(p, top=False))
    return parser


def _subparser_chain(parser: argparse.ArgumentParser, path: Sequence[str]) -> list[argparse.ArgumentParser]:
    chain = [parser]
    for name in path:
        for action in chain[-1]._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                chain.append(action.choices[name])
                break
    return chain


def _option_index(chain: list[argparse.ArgumentParser]) -> dict[str, argparse.Action]:
    """Params-file keys → actions, by long option name (``rollback-timeout`` / ``rollback_timeout``)
    and by destination."""
    index: dict[str, argparse.Action] = {}
    for p in chain:
        for a in p._actions:
            if not a.option_strings or a.dest in ("help", "version", "params_file"):
                continue
            index[a.dest] = a
            for opt in a.option_strings:
                if opt.startswith("--") and not opt.startswith("--no-"):
                    index[opt[2:].replace("-", "_")] = a
    return index


def _long_option(action: argparse.Action) -> str:
    names = [o for o in action.option_strings if o.startswith("--") and not o.startswith("--no-")]
    return max(names or action.option_strings, key=len)


def _params_tokens(params: dict[str, Any], index: dict[str, argparse.Action], source: str) -> list[str]:
    tokens: list[str] = []
    for raw_key, value in params.items():
        key = str(raw_key).replace("-", "_")
        action = index.get(key)
        if action is None:
            known = ", ".join(sorted({_long_option(a)[2:] for a in index.values()}))
            raise BadInput(f"{source}: unknown key {raw_key!r} for this command (known: {known})")
        opt = _long_option(action)
        if value is None:
            continue
        if action.nargs == 0 or isinstance(action, argparse._StoreTrueAction | argparse.BooleanOptionalAction):
            if not isinstance(value, bool):
                raise BadInput(f"{source}: {raw_key} must be true or false, got {value!r}")
            if value:
                tokens.append(opt)
            elif isinstance(action, argparse.BooleanOptionalAction):
                tokens.append("--no-" + opt[2:])
            continue
        if isinstance(value, dict):
            values = [f"{k}={_scalar(v)}" for k, v in value.items()]
        elif isinstance(value, list):
            if isinstance(action, argparse._AppendAction):
                values = [_scalar(v) for v in value]
            else:
                values = [json.dumps(value)]
        else:
            values = [_scalar(value)]
        if len(values) > 1 and not isinstance(action, argparse._AppendAction):
            raise BadInput(f"{source}: {raw_key} takes one value, got {len(values)}")
        tokens.extend(f"{opt}={v}" for v in values)
    return tokens


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v)
    return str(v)


def _read_params(path: str) -> dict[str, Any]:
    from pipeline_py import inputs

    data = inputs.load_json(inputs.read_text(path, "params file", limit=inputs.MAX_CONFIG_BYTES),
                            f"params file {path}")
    if not isinstance(data, dict):
        raise BadInput(f"params file {path}: must be a JSON object, not {type(data).__name__}")
    return data


def _defaults(chain: list[argparse.ArgumentParser]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in chain:
        for a in p._actions:
            if a.dest in out and a.default is argparse.SUPPRESS:
                continue
            if a.dest not in (argparse.SUPPRESS, "help", "version") and a.default is not argparse.SUPPRESS:
                out.setdefault(a.dest, a.default)
        out.update({k: v for k, v in p._defaults.items()})
    return out


def _explicit(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse with every default suppressed, so the namespace holds only what was given. Required options
    are not enforced here: a params file may carry them (``parse`` checks them once both are merged)."""
    saved: list[tuple[argparse.Action, Any, bool]] = []
    stack = [parser]
    while stack:
        p = stack.pop()
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                stack.extend(a.choices.values())
            elif a.dest not in ("help", "version"):
                saved.append((a, a.default, a.required))
                a.default = argparse.SUPPRESS
                if a.option_strings:
                    a.required = False
    try:
        return parser.parse_args(argv)
    finally:
        for a, d, required in saved:
            a.default = d
            a.required = required


def _check_required(chain: list[argparse.ArgumentParser], merged: dict[str, Any], params_file: str | None) -> None:
    for p in chain:
        for a in p._actions:
            if a.required and a.option_strings and merged.get(a.dest) is None:
                where = " (on the command line or in the params file)" if params_file else ""
                raise BadInput(f"{p.prog}: the following arguments are required: {'/'.join(a.option_strings)}"
                               f"{where}")


def _check_text(argv: Sequence[str]) -> None:
    """Arguments are UTF-8 text: bytes that are not (kept by Python as surrogate escapes) would fail
    later, wherever the value is printed or sent."""
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = repr(arg.encode("utf-8", "surrogateescape"))[2:-1]
            raise BadInput(f"argument {i} ({shown[:80]}) is not UTF-8 text") from None


def parse(argv: Sequence[str]) -> argparse.Namespace:
    _check_text(argv)
    parser = build_parser()
    cli = _explicit(parser, list(argv))
    path = list(getattr(cli, "command_path", None) or [cli.command])
    chain = _subparser_chain(parser, path)
    merged = _defaults(chain)
    params_file = getattr(cli, "params_file", None)
    from_params: dict[str, Any] = {}
    if params_file:
        params = _read_params(params_file)
        tokens = _params_tokens(params, _option_index(chain), f"params file {params_file}")
        from_params = vars(_explicit(parser, [*path, *tokens]))
        merged.update(from_params)
        index = _option_index(chain)
        for dest, value in vars(cli).items():
            # repeatable options (--var, --tag) accumulate: params first, flags win later
            if dest != SET_AFTER and isinstance(index.get(dest), argparse._AppendAction) and dest in from_params:
                cli_value = [*from_params[dest], *value]
                setattr(cli, dest, cli_value)
    merged.update(vars(cli))
    # --set: the params file's first, then the flags before the command, then those after it (last wins)
    merged["set"] = [*(from_params.get(SET_AFTER) or []), *(getattr(cli, "set", None) or []),
                     *(getattr(cli, SET_AFTER, None) or [])] or merged.get("set")
    merged.pop(SET_AFTER, None)
    _check_required(chain, merged, params_file)
    return argparse.Namespace(**merged)


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


class _SignalGuard:
    """SIGINT/SIGTERM become an ``Aborted`` exception once, so a deploy can unwind and roll back;
    a second signal while that runs is noted, not obeyed (the rollback must finish)."""

    def __init__(self) -> None:
        self.fired: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _SignalGuard:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (tests running main() in a thread)
                pass
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.fired:
            print(f"{name} received again; still restoring a safe state", file=sys.stderr, flush=True)
            return
        self.fired = name
        raise Aborted(name)

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _is_aws_error(exc: BaseException) -> bool:
    """A botocore ClientError/BotoCoreError (checked without importing botocore at start-up)."""
    botocore = sys.modules.get("botocore.exceptions")
    return botocore is not None and isinstance(exc, botocore.ClientError | botocore.BotoCoreError)


def _unexpected(exc: Exception, reporter: Reporter) -> tuple[int, dict[str, Any]]:
    """An AWS error no phase handled is a failure (exit 1); anything else is a bug: said so, with the
    traceback, calling for a human (exit 3)."""
    if _is_aws_error(exc):
        reporter.error(f"AWS error: {exc}")
        return EXIT_FAILED, {"status": "error", "error": "aws", "message": str(exc), "exit_code": EXIT_FAILED}
    reporter.error(f"internal error: {exc.__class__.__name__}: {exc}")
    reporter.raw(traceback.format_exc())
    return EXIT_HUMAN_NEEDED, {"status": "error", "error": "internal", "message": str(exc),
                               "exit_code": EXIT_HUMAN_NEEDED}


def main(argv: Sequence[str] | None = None, *, context_factory: Any = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    redact = Redactor.from_environ()
    reporter = Reporter(redactor=redact)
    as_json = _wants_json(argv)
    result: dict[str, Any]
    code = 0
    args: argparse.Namespace | None = None
    try:
        args = parse(argv)
        as_json = bool(getattr(args, "json", False))
        if context_factory is None:
            from pipeline_py.context import Context

            context_factory = Context
        ctx = context_factory(args=args, reporter=reporter)
        with _SignalGuard():
            out = args.handler(ctx, args)
        if out is None and not as_json:
            return 0
        result = {"status": "ok", **(out or {})}
        result.setdefault("command", " ".join(getattr(args, "command_path", None) or [args.command]))
        result["api_calls"] = result.get("api_calls") or ctx.counter.snapshot()
    except PipelineError as exc:
        code = exc.exit_code
        reporter.error(exc.message)
        result = {"status": exc.result.get("status", "error"), **exc.result}
        result.update({"error": exc.kind, "message": exc.message, "exit_code": code})
    except Aborted as exc:
        code = EXIT_FAILED
        reporter.error(f"{exc}; nothing was in progress that needed restoring")
        result = {"status": "aborted", "error": "aborted", "message": str(exc), "exit_code": code}
    except KeyboardInterrupt:
        code = EXIT_FAILED
        result = {"status": "aborted", "error": "aborted", "message": "interrupted", "exit_code": code}
    except Exception as exc:
        code, result = _unexpected(exc, reporter)
    if args is not None and "command" not in result:
        result["command"] = " ".join(getattr(args, "command_path", None) or [getattr(args, "command", "")])
    if as_json or code == 0 or len(result) > 5:
        print_result(result, as_json=as_json, redact=redact)
    _write_result(args, result, redact)
    return code


def _write_result(args: argparse.Namespace | None, result: dict[str, Any], redact: Redactor) -> None:
    """``--output FILE``: the full JSON result, whatever stdout shows (unless the command writes FILE)."""
    path = getattr(args, "output_file", None)
    if not path or getattr(args, "owns_output", False):
        return
    from pipeline_py.report import to_json

    try:
        Path(path).write_text(redact(to_json(result)) + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"--output {path}: cannot write the result: {exc.strerror or exc}", file=sys.stderr)
