"""Runs the terraform CLI safely: never interactive, lines streamed, errors turned into exit codes.

Every run gets ``TF_IN_AUTOMATION=1``, ``TF_INPUT=0`` and ``-input=false``, ``-no-color`` unless
narration goes to a terminal, ``-lock-timeout`` on commands that lock the state, and the provider
mirror through a CLI configuration file (see ``terraform_mirror``). Terraform's own lines go to
stderr through the reporter (redacted); its JSON (``show -json``, ``output -json``) is read from
stdout.

Terraform runs in its own session, so a Ctrl-C in the terminal reaches only pipeline-py, which
forwards one SIGINT: terraform then stops cleanly (releasing its state lock) instead of receiving
the terminal's signal and ours, which it treats as "exit immediately".

Failures become the CLI's exit codes: a state lock held elsewhere or a stale saved plan is
``OperationFailed`` (1) naming the lock holder / what to do; invalid variables, tfvars or
configuration is ``BadInput`` (2) quoting terraform's message; an apply that fails after it began
changing resources is ``HumanNeeded`` (3): terraform does not roll back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_py.errors import BadInput, HumanNeeded, OperationFailed, PipelineError
from pipeline_py.report import Reporter
from pipeline_py.terraform.mirror import Mirror, cli_config

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DIAG_START = re.compile(r"^(Error|Warning): (.*)$")
_LOCK_FIELD = re.compile(r"^\s*(ID|Path|Operation|Who|Version|Created|Info):\s*(.*?)\s*$")
_CHANGING = re.compile(r": (Creating|Modifying|Destroying)\.\.\.")
_SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
INTERRUPT_GRACE_SECONDS = 120.0

# Error summaries that mean "fix your input" (exit 2) rather than "the operation failed".
_INPUT_SUMMARIES = (
    "Invalid value for input variable",
    "Invalid value for variable",
    "No value for required variable",
    "Reference to undeclared input variable",
    "Invalid backend configuration argument",
    "Missing required argument",
    "Unsupported argument",
    "Backend configuration changed",
    "Backend initialization required",
    "Required plugins are not installed",
    "Module not installed",
    "Failed to read variables file",
    "Failed to read file",
    "Invalid -var option",
    "Invalid character",
    "Invalid expression",
    "Unsupported block type",
)


@dataclass
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""

    def text(self) -> str:
        return f"{self.severity.capitalize()}: {self.summary}" + (f"\n{self.detail}" if self.detail else "")

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "summary": self.summary, "detail": self.detail}


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def parse_diagnostics(text: str) -> list[Diagnostic]:
    """Terraform's human-readable diagnostics (boxed on a terminal, plain otherwise)."""
    diags: list[Diagnostic] = []
    current: tuple[str, str, list[str]] | None = None
    boxed = False

    def close() -> None:
        nonlocal current
        if current is not None:
            sev, summary, body = current
            diags.append(Diagnostic(sev, summary, "\n".join(body).strip("\n")))
        current = None

    for raw in strip_ansi(text).splitlines():
        line = raw.rstrip()
        if line.startswith("╷"):
            close()
            boxed = True
            continue
        if line.startswith("╵"):
            close()
            boxed = False
            continue
        if boxed and line.startswith("│"):
            line = line[2:] if line.startswith("│ ") else line[1:]
        m = _DIAG_START.match(line)
        if m:
            close()
            current = (m.group(1).lower(), m.group(2).strip(), [])
            continue
        if current is not None:
            current[2].append(line)
    close()
    return diags


def lock_info(text: str) -> dict[str, str] | None:
    """The ``Lock Info:`` block of an "Error acquiring the state lock" message."""
    plain = strip_ansi(text)
    if "Error acquiring the state lock" not in plain:
        return None
    info: dict[str, str] = {}
    after = plain.split("Lock Info:", 1)
    if len(after) == 2:
        for raw in after[1].splitlines():
            line = raw.lstrip("│ ").rstrip() if raw.startswith("│") else raw
            m = _LOCK_FIELD.match(line)
            if m:
                info.setdefault(m.group(1).lower(), m.group(2))
            elif info and line.strip():
                break
    return info


def _is_input_error(d: Diagnostic) -> bool:
    if any(d.summary.startswith(s) for s in _INPUT_SUMMARIES):
        return True
    if re.search(r"\bon \S+\.tfvars(\.json)? line \d+", d.detail):
        return True
    # a configuration error points at a .tf file and at no resource instance (API errors do)
    return bool(re.search(r"\bon \S+\.tf line \d+", d.detail)) and not re.search(r"^\s*with \S+,", d.detail, re.M)


def _quote(diags: Sequence[Diagnostic], limit: int = 3) -> str:
    return "\n".join(d.text() for d in diags[:limit])


@dataclass
class Completed:
    args: list[str]
    code: int
    stdout: str = ""
    output: str = ""  # what was streamed (stderr, and stdout unless captured)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def find_binary(binary: str = "terraform") -> str:
    path = shutil.which(binary)
    if path is None:
        raise BadInput(f"terraform binary {binary!r} not found on PATH "
                       "(install terraform >= 1.5 or set terraform.binary)")
    return path


def redact_vars(args: Sequence[str]) -> list[str]:
    """``-var NAME=VALUE`` with secret-looking names shown as ``NAME=****``."""
    out = []
    for a in args:
        body = a[len("-var="):] if a.startswith("-var=") else None
        if body is not None and "=" in body and _SECRET_NAME.search(body.split("=", 1)[0]):
            a = "-var=" + body.split("=", 1)[0] + "=****"
        out.append(a)
    return out


class Terraform:
    """One root module's terraform, as a context manager (the CLI config file is temporary).

    ``workdir`` is the root module. With ``cwd`` (another directory, e.g. the environment's) terraform
    runs there as ``terraform -chdir=<workdir>``; ``data_dir`` becomes its ``TF_DATA_DIR``.
    """

    def __init__(
        self,
        workdir: Path,
        reporter: Reporter,
        *,
        environ: Mapping[str, str] | None = None,
        mirror: Mirror | None = None,
        lock_timeout: float = 60.0,
        binary: str = "terraform",
        parallelism: int | None = None,
        color: bool | None = None,
        cwd: Path | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.cwd = cwd or workdir
        self.data_dir = data_dir
        self.reporter = reporter
        self.environ = dict(os.environ if environ is None else environ)
        self.mirror = mirror
        self.lock_timeout = lock_timeout
        self.binary = binary
        self.parallelism = parallelism
        stream = getattr(reporter, "stream", None)
        self.color = bool(color if color is not None else (stream is not None and stream.isatty()))
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._env: dict[str, str] | None = None

    def __enter__(self) -> Terraform:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- environment -----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        if self._env is None:
            env = dict(self.environ)
            env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
            if self.data_dir is not None:
                env["TF_DATA_DIR"] = str(self.data_dir)
            config = self._cli_config_text(env)
            if config is not None:
                self._tmp = tempfile.TemporaryDirectory(prefix="pipeline-py-tf-")
                path = Path(self._tmp.name) / "terraform.rc"
                path.write_text(config, encoding="utf-8")
                env["TF_CLI_CONFIG_FILE"] = str(path)
            self._env = env
        return self._env

    def _cli_config_text(self, env: Mapping[str, str]) -> str | None:
        """Ours, appended to the user's own CLI config unless that already says how to install providers."""
        user_file = env.get("TF_CLI_CONFIG_FILE") or ""
        user = ""
        if user_file and Path(user_file).is_file():
            user = Path(user_file).read_text(encoding="utf-8", errors="replace")
        if self.mirror is None:
            return None if (user or not user_file) else cli_config(None)  # replace a dangling path
        if re.search(r"^\s*provider_installation\b", user, re.M):
            self.reporter.detail(f"providers installed as configured in {user_file} (mirror {self.mirror.root} unused)")
            return None
        return (user + "\n" if user else "") + cli_config(self.mirror)

    # -- running -----------------------------------------------------------------------------

    @property
    def chdir(self) -> bool:
        return self.cwd != self.workdir

    def command(self, *args: str) -> list[str]:
        sub, rest = (args[0], list(args[1:])) if args else (None, [])
        argv = [self.binary, *([f"-chdir={self.workdir}"] if self.chdir else []), *([sub] if sub else [])]
        if not self.color and sub and sub not in ("version", "output", "show", "fmt"):
            argv.append("-no-color")
        return argv + rest

    def display(self, argv: Sequence[str]) -> str:
        """The command line as a person would type it (TF_DATA_DIR included; secret -var values hidden)."""
        prefix = f"TF_DATA_DIR={self.data_dir} " if self.data_dir is not None else ""
        return prefix + " ".join(redact_vars(argv))

    def hint(self, *args: str) -> str:
        """A command for a person to run by hand, and where."""
        line = self.display([self.binary, *([f"-chdir={self.workdir}"] if self.chdir else []), *args])
        return f"`{line}`" + ("" if self.chdir else f" in {self.workdir}")

    def run(self, *args: str, capture_stdout: bool = False, quiet: bool = False) -> Completed:
        """Run terraform in the working directory; stream its lines unless ``quiet``."""
        argv = self.command(*args)
        binary = find_binary(self.binary)
        if not quiet:
            self.reporter.detail(f"$ {self.display(argv)}")
        proc = subprocess.Popen(
            [binary, *argv[1:]],
            cwd=self.cwd,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if capture_stdout else subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        streamed: list[str] = []

        def pump(pipe: Any) -> None:
            for line in pipe:
                streamed.append(line)
                if not quiet:
                    self.reporter.raw(line)

        reader: threading.Thread | None = None
        try:
            if capture_stdout:
                reader = threading.Thread(target=pump, args=(proc.stderr,), daemon=True)
                reader.start()
                stdout = proc.stdout.read() if proc.stdout else ""
                code = proc.wait()
                reader.join(timeout=10)
            else:
                pump(proc.stdout)
                stdout = ""
                code = proc.wait()
        except BaseException:
            if reader is None and proc.stdout is not None:  # keep showing what terraform says while it stops
                threading.Thread(target=pump, args=(proc.stdout,), daemon=True).start()
            self._interrupt(proc)
            raise
        output = "".join(streamed)
        return Completed(list(argv), code, stdout, output, parse_diagnostics(output))

    def _interrupt(self, proc: subprocess.Popen[str]) -> None:
        """One SIGINT (terraform finishes the calls in flight, writes state, releases the lock)."""
        if proc.poll() is not None:
            return
        self.reporter.warn(f"interrupting terraform (pid {proc.pid}); waiting for it to release the state")
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=INTERRUPT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.reporter.error("terraform did not stop in time; killing it (the state lock may need force-unlock)")
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass

    # -- commands ----------------------------------------------------------------------------

    def lock_args(self) -> list[str]:
        return [f"-lock-timeout={self.lock_timeout:g}s"]

    def parallelism_args(self) -> list[str]:
        return [f"-parallelism={self.parallelism}"] if self.parallelism else []

    def version(self) -> str:
        done = self.run("version", "-json", capture_stdout=True, quiet=True)
        try:
            return str(json.loads(done.stdout)["terraform_version"])
        except (ValueError, KeyError, TypeError):
            return "unknown"

    def check(self, done: Completed, action: str) -> Completed:
        if done.code == 0:
            return done
        raise self.failure(done, action)

    def failure(self, done: Completed, action: str) -> PipelineError:
        """The exit-code-bearing error for a failed terraform run."""
        errors = done.errors or [Diagnostic("error", f"terraform {action} exited with {done.code}",
                                            "\n".join(done.output.strip().splitlines()[-15:]))]
        result: dict[str, Any] = {"diagnostics": [d.to_dict() for d in errors[:5]], "terraform_exit_code": done.code}
        lock = lock_info(done.output)
        if lock is not None and not (lock.get("id") or lock.get("who")):
            return OperationFailed(f"terraform could not take the state lock (not held by anyone it could name):\n"
                                   f"{_quote(errors)}", result=result)
        if lock is not None:
            result["lock"] = lock
            who = lock.get("who") or "someone"
            what = lock.get("operation", "").replace("OperationType", "").lower()
            what = {"": "an operation", "invalid": "a console or state command"}.get(what, what)
            return OperationFailed(
                f"terraform state is locked by {who} ({what}, since {lock.get('created', '?')}, lock ID "
                f"{lock.get('id', '?')}); waited {self.lock_timeout:g}s. If that run is dead, release it with "
                f"{self.hint('force-unlock', lock.get('id', 'ID'))}",
                result=result,
            )
        if any(d.summary.startswith("Saved plan is stale") for d in errors):
            result["stale"] = True
            return OperationFailed(
                "the saved plan is stale: the state changed after it was created, so it no longer describes "
                "what would happen; run `terraform plan` again and review the new plan",
                result=result,
            )
        changed = action == "apply" and bool(_CHANGING.search(done.output))
        if changed:
            return HumanNeeded(
                f"terraform apply failed after it began changing resources (terraform does not roll back); "
                f"the state records what was done. Fix the cause and plan/apply again:\n{_quote(errors)}",
                result=result,
            )
        if any(_is_input_error(d) for d in errors):
            return BadInput(f"terraform {action} in {self.workdir}:\n{_quote(errors)}", result=result)
        return OperationFailed(f"terraform {action} failed in {self.workdir}:\n{_quote(errors)}", result=result)

    def show_json(self, plan_file: Path) -> dict[str, Any]:
        done = self.check(self.run("show", "-json", str(plan_file), capture_stdout=True, quiet=True), "show")
        try:
            return json.loads(done.stdout)
        except json.JSONDecodeError as exc:
            raise OperationFailed(f"terraform show -json {plan_file}: not JSON ({exc.msg})") from None

    def outputs(self, name: str | None = None) -> dict[str, Any]:
        """``terraform output -json``: ``{name: {"value", "type", "sensitive"}}``."""
        done = self.check(self.run("output", "-json", capture_stdout=True, quiet=True), "output")
        try:
            data = json.loads(done.stdout or "{}")
        except json.JSONDecodeError as exc:
            raise OperationFailed(f"terraform output -json: not JSON ({exc.msg})") from None
        if name is not None:
            if name not in data:
                known = ", ".join(sorted(data)) or "none"
                raise BadInput(f"terraform output {name!r} not found in {self.workdir} (outputs: {known})")
            data = {name: data[name]}
        return data
