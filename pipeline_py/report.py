"""Narration (always stderr) and the command result (stdout).

With ``--json`` stdout carries exactly one JSON object; without it the result is printed as
indented ``key: value`` lines. Every line that leaves the process passes through the redactor,
so secret values bound into the environment never reach a log.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, TextIO

# Values that are far too common to redact without destroying the log.
_MIN_SECRET_LEN = 6
MASK = "****"

# A name is secret-looking when one of its words (split at _ - . and camelCase) is one of these ...
_SECRET_WORDS = frozenset({"pass", "passwd", "password", "passphrase", "pwd", "secret", "token", "credential",
                           "secrets", "credentials", "creds", "apikey", "privatekey", "cookie", "signature"})
# ... or when its last word is one of these (api_key, private_key, signing_key, but not key_id) ...
_SECRET_LAST_WORDS = frozenset({"key", "auth", "private", "session", "sig"})
# ... unless its last word says the value only points to the secret (DB_PASSWORD_ARN, TOKEN_FILE).
_REFERENCE_WORDS = frozenset({"arn", "file", "path", "dir", "url", "id", "name", "names", "type", "sock", "ref",
                              "refs", "length", "ttl", "timeout", "header", "prefix", "expiry", "expires"})
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def looks_secret(name: str) -> bool:
    """Whether a variable named ``name`` (environment, template variable, container environment)
    holds a secret: ``db_pass``, ``DB_PASSWORD``, ``apiKey``, ``GITHUB_TOKEN``; not ``PWD``,
    ``AWS_ACCESS_KEY_ID`` or ``DB_PASSWORD_ARN``."""
    if name in _NOT_SECRET_NAMES:
        return False
    words = [w.lower() for w in _WORD.findall(name)]
    if not words or words[-1] in _REFERENCE_WORDS:
        return False
    return any(w in _SECRET_WORDS for w in words) or words[-1] in _SECRET_LAST_WORDS


def is_reference(value: str) -> bool:
    """A value that names where a secret lives (an ARN, an SSM parameter path), not the secret."""
    return value.startswith(("arn:", "/"))


def _forms(secret: str) -> set[str]:
    """The ways a secret appears in output: raw, JSON-escaped (once and twice, ASCII or not), repr,
    YAML single-quoted, URL-encoded and base64 (every alignment, standard and URL-safe)."""
    import base64
    from urllib.parse import quote

    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             json.dumps(json.dumps(secret))[3:-3], repr(secret)[1:-1], secret.replace("'", "''"),
             quote(secret, safe="")}
    raw = secret.encode("utf-8")
    for pad in range(3):
        data = b"\0" * pad + raw
        full = len(data) // 3 * 3
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            core = enc(data[:full]).decode("ascii")[4 if pad else 0:]
            if len(core) >= 8:
                forms.add(core)
    return {f for f in forms if len(f) >= _MIN_SECRET_LEN}


# Secrets by shape: credentials in URLs, well-known token formats, long high-entropy strings. Each
# is one precompiled regex; the first two run only when their marker is in the line at all.
_URL_CREDENTIALS = re.compile(r"(://[^\s/:@'\"]+:)[^\s/@'\"]+(?=@)")
_TOKEN_MARKERS = ("gh", "github_pat_", "glpat-", "xox", "sk_live_", "eyJ", "-----BEGIN")
_TOKENS = re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}"
                     r"|xox[abprs]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{20,}"
                     r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
                     r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL)
# an ARN is an identifier, never a secret: matched first (from its "arn:") and kept whole
# (not right after a backslash: in JSON text that is an escape, "\\nAbC…" must stay valid JSON)
_ENTROPIC = re.compile(r"(?P<arn>arn:aws[a-z-]*:[^\s\"'<>]*)|(?<!\\)[A-Za-z0-9+/_=-]{24,}")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RANDOM_IDS = ("service-deployment/", "service-revision/", "ecs-pause-", "ecs-lambda-")
MIN_ENTROPY = 4.0  # bits per character; random base64 of 24+ characters has 4.3 or more, hex at most 4.0


_WORDY = re.compile(r"[a-z]{5,}")


def high_entropy(token: str) -> bool:
    """A random-looking token: upper- and lower-case letters and digits, not hex, not a UUID, not a
    path (``/a/b/…``) or a run of words (a quarter or more of it in lower-case runs of 5+ letters,
    which random base64 almost never has: ``test_a_dockerfile_syntax_error0``), and at least
    ``MIN_ENTROPY`` bits of Shannon entropy per character."""
    if not (any(c.isupper() for c in token) and any(c.islower() for c in token) and any(c.isdigit() for c in token)):
        return False
    if _UUID.match(token) or (token.startswith("/") and token.count("/") >= 2):
        return False
    if sum(len(w) for w in _WORDY.findall(token)) * 4 >= len(token):
        return False
    n = len(token)
    entropy = -sum(k / n * math.log2(k / n) for k in Counter(token).values())
    return entropy >= MIN_ENTROPY


class Redactor:
    """Replaces secrets in every line that leaves the process: known values (from the environment by
    name, template variables and container environment by name, credentials pipeline-py handles) in
    all their printed forms, and values with a secret's shape. One precompiled regex per set of
    secrets, rebuilt only when a secret is added."""

    def __init__(self, secrets: Iterable[str] = (), *, shapes: bool = True) -> None:
        self._secrets: set[str] = set()
        self.shapes = shapes
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= _MIN_SECRET_LEN and secret not in self._secrets:
            with self._lock:
                self._secrets.add(secret)
                self._pattern = None

    def add_named(self, name: str, value: Any) -> list[str]:
        """Add ``value`` (and, for a mapping or list, its members by their own names) when ``name``
        looks secret; references (ARNs, SSM paths) are not secrets. Returns the names added."""
        added: list[str] = []
        if isinstance(value, dict):
            for k, v in value.items():
                added.extend(self.add_named(str(k), v))
            return added
        if isinstance(value, list):
            for v in value:
                added.extend(self.add_named(name, v))
            return added
        if value is None or isinstance(value, bool) or not looks_secret(name):
            return added
        text = str(value)
        if len(text) >= _MIN_SECRET_LEN and not is_reference(text):
            self.add(text)
            added.append(name)
        return added

    @classmethod
    def from_environ(cls, environ: dict[str, str] | Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        return cls(v for k, v in env.items() if looks_secret(k) and not is_reference(v))

    def _compiled(self) -> re.Pattern[str] | None:
        """One regex of every known secret in every form (longest first), compiled once per change."""
        pattern = self._pattern
        if pattern is None and self._secrets:
            with self._lock:
                literals = sorted({f for s in self._secrets for f in _forms(s)}, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, literals)))
        return pattern

    @staticmethod
    def _entropic(m: re.Match[str]) -> str:
        token = m.group(0)
        if m.group("arn") is not None or token.startswith(_RANDOM_IDS):
            return token  # ARNs and AWS's random resource ids (ECS deployments, hooks) are not secrets
        return MASK if high_entropy(token.rstrip("=")) else token

    def __call__(self, text: str) -> str:
        literal = self._compiled()
        if literal is not None:
            text = literal.sub(MASK, text)
        if self.shapes:
            if "://" in text:
                text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK, text)
            if any(marker in text for marker in _TOKEN_MARKERS):
                text = _TOKENS.sub(MASK, text)
            text = _ENTROPIC.sub(self._entropic, text)
        return text


class Reporter:
    """Human narration on stderr; thread-safe; timestamps in UTC."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        redactor: Redactor | None = None,
        quiet: bool = False,
        timestamps: bool = True,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.redact = redactor or Redactor.from_environ()
        self.quiet = quiet
        self.timestamps = timestamps
        self._lock = threading.Lock()
        self.lines: list[str] = []
        self._live = False  # a progress line is on the terminal, not yet ended
        self._last_progress = ""

    @property
    def tty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def _end_progress(self) -> None:
        if self._live:
            self.stream.write("\n")
            self._live = False

    def _emit(self, prefix: str, message: str) -> None:
        message = self.redact(message)
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S ") if self.timestamps else ""
        with self._lock:
            if not self.quiet:
                self._end_progress()
            for i, line in enumerate(message.splitlines() or [""]):
                text = f"{stamp}{prefix if i == 0 else ' ' * len(prefix)}{line}"
                self.lines.append(text)
                if not self.quiet:
                    print(text, file=self.stream, flush=True)

    def info(self, message: str) -> None:
        self._emit("", message)

    def progress(self, message: str, *, key: str | None = None) -> None:
        """How far a long wait is (counts, phase, elapsed/timeout). On a terminal one line that updates in
        place; elsewhere (Jenkins) a plain line, only when its ``key`` (default: the text) changed."""
        message = self.redact(message)
        state = message if key is None else key
        with self._lock:
            if state == self._last_progress and not self.tty:
                return
            self._last_progress = state
        if not self.tty or self.quiet:
            self._emit("", message)
            return
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S ") if self.timestamps else ""
        with self._lock:
            self.lines.append(f"{stamp}{message}")
            self.stream.write(f"\r\x1b[2K{stamp}{message}")
            self.stream.flush()
            self._live = True

    def step(self, message: str) -> None:
        self._emit("==> ", message)

    def detail(self, message: str) -> None:
        self._emit("    ", message)

    def warn(self, message: str) -> None:
        self._emit("WARN ", message)

    def error(self, message: str) -> None:
        self._emit("ERROR ", message)

    def raw(self, text: str) -> None:
        """Pass-through output of a child tool (docker build, terraform), redacted."""
        text = self.redact(text)
        with self._lock:
            if not self.quiet:
                self.stream.write(text if text.endswith("\n") else text + "\n")
                self.stream.flush()


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    if isinstance(o, set | frozenset):
        return sorted(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, default=_default, sort_keys=False)


def print_result(result: dict[str, Any], *, as_json: bool, redact: Redactor, stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    if as_json:
        out.write(redact(to_json(result)) + "\n")
    else:
        from pipeline_py import summary

        out.write(redact(summary.text(result)) + "\n")
    out.flush()


def _human(value: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}{k}:")
                lines.append(_human(v, indent + 1))
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict | list):
                body = _human(item, indent + 1).lstrip()
                lines.append(f"{pad}- {body}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return "\n".join(lines)
    return pad + _scalar(value)


def _scalar(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, dict | list):
        return json.dumps(v)
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)
