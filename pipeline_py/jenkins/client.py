"""A small Jenkins client over python-jenkins.

python-jenkins does authentication (basic auth with a user's API token), fetches the CSRF crumb
from ``/crumbIssuer/api/json`` once and sends it with every POST over one requests session (so the
session cookie the crumb is bound to goes along), reads and writes ``config.xml``, triggers builds
and reads queue items and builds. The progressive console (``logText/progressiveText`` with its
``X-Text-Size``/``X-More-Data`` headers) has no python-jenkins method, so it goes through
python-jenkins' own ``jenkins_request`` (same session, auth and crumb handling).

Errors become the CLI's: a refused login or a missing item named in a message is bad input
(exit 2); Jenkins unreachable or answering 5xx is a failed operation (exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jenkins
import requests

from pipeline_py.errors import BadInput, OperationFailed

VALIDATE_PATH = "pipeline-model-converter/validateJenkinsfile"


@dataclass(frozen=True)
class Connection:
    url: str
    user: str | None
    token: str | None


def connection(url: str | None, config_user: str | None, environ: dict[str, str]) -> Connection:
    """URL: --url or the config's jenkins.url, then $JENKINS_URL (which Jenkins sets in builds).
    User: $JENKINS_USER, then jenkins.user. The API token only ever from $JENKINS_API_TOKEN."""
    base = url or environ.get("JENKINS_URL")
    if not base:
        raise BadInput("no Jenkins URL: pass --url, set jenkins.url in the config, or set JENKINS_URL")
    if not base.startswith(("http://", "https://")):
        raise BadInput(f"Jenkins URL {base!r} must start with http:// or https://")
    user = environ.get("JENKINS_USER") or config_user
    token = environ.get("JENKINS_API_TOKEN")
    if user and not token:
        raise BadInput(f"JENKINS_API_TOKEN is not set (needed for user {user!r}); "
                       "create an API token in Jenkins under the user's Security settings")
    if token and not user:
        raise BadInput("JENKINS_API_TOKEN is set but no user: set JENKINS_USER or jenkins.user")
    return Connection(base.rstrip("/") + "/", user, token)


def job_url_path(full_name: str) -> str:
    """``apps/task-api/feature%2Fx`` -> ``job/apps/job/task-api/job/feature%252Fx/`` (each name quoted)."""
    return "".join(f"job/{quote(part, safe='')}/" for part in full_name.strip("/").split("/"))


def branch_item_name(branch: str) -> str:
    """The item name a multibranch project gives a branch: ``/`` (and ``%``) are encoded."""
    return quote(branch, safe="")


class JenkinsClient:
    def __init__(self, conn: Connection, timeout: float = 30.0) -> None:
        self.conn = conn
        self.server = jenkins.Jenkins(conn.url, username=conn.user, password=conn.token, timeout=timeout)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except jenkins.NotFoundException:
            raise BadInput(f"{what}: not found on {self.conn.url}") from None
        except jenkins.JenkinsException as exc:
            text = str(exc)
            if "[401]" in text or "[403]" in text:
                who = f"user {self.conn.user!r}" if self.conn.user else "anonymous access"
                raise BadInput(f"{what}: Jenkins refused {who} ({text.splitlines()[0]}); "
                               "check JENKINS_USER/JENKINS_API_TOKEN and the user's permissions") from None
            raise OperationFailed(f"{what}: {text.splitlines()[0]}") from None
        except requests.exceptions.HTTPError as exc:
            code = exc.response.status_code if exc.response is not None else "?"
            detail = (exc.response.headers.get("X-Error") or exc.response.reason) if exc.response is not None else ""
            if code == 400:
                raise BadInput(f"{what}: Jenkins rejected the request (400 {detail})") from None
            raise OperationFailed(f"{what}: HTTP {code} {detail}") from None
        except requests.exceptions.RequestException as exc:
            raise OperationFailed(f"{what}: cannot reach Jenkins at {self.conn.url}: {exc}") from None

    # ---- items -------------------------------------------------------------------------

    def item_config(self, full_name: str) -> str | None:
        """The item's config.xml, or None when there is no such item."""
        try:
            with self._errors(f"read {full_name}/config.xml"):
                return self.server.get_job_config(full_name)
        except BadInput as exc:
            if "not found" in str(exc):
                return None
            raise

    def create_item(self, full_name: str, config_xml: str) -> None:
        with self._errors(f"create {full_name}"):
            self.server.create_job(full_name, config_xml)

    def update_item(self, full_name: str, config_xml: str) -> None:
        with self._errors(f"update {full_name}"):
            self.server.reconfig_job(full_name, config_xml)

    # ---- Jenkinsfile linter --------------------------------------------------------------

    def validate_jenkinsfile(self, text: str) -> list[str]:
        """Errors of the declarative linter (pipeline-model-definition); empty when valid."""
        with self._errors("validate the Jenkinsfile"):
            errors = self.server.check_jenkinsfile_syntax(text)
        out: list[str] = []
        for err in errors or []:
            msg = err.get("error", err) if isinstance(err, dict) else err
            out.extend(str(m) for m in (msg if isinstance(msg, list) else [msg]))
        return out

    # ---- builds ----------------------------------------------------------------------------

    def trigger(self, full_name: str, parameters: dict[str, str] | None) -> int:
        """Queue a build (buildWithParameters when there are parameters); the queue item id."""
        with self._errors(f"trigger {full_name}"):
            return int(self.server.build_job(full_name, parameters or None))

    def queue_item(self, item_id: int) -> dict[str, Any]:
        with self._errors(f"read queue item {item_id}"):
            return self.server.get_queue_item(item_id)

    def build_info(self, full_name: str, number: int) -> dict[str, Any]:
        with self._errors(f"read build {full_name} #{number}"):
            return self.server.get_build_info(full_name, number)

    def build_url(self, full_name: str, number: int) -> str:
        return f"{self.conn.url}{job_url_path(full_name)}{number}/"

    def console_chunk(self, full_name: str, number: int, start: int) -> tuple[str, int, bool]:
        """Console text from byte ``start``: (text, next start, whether more will come)."""
        url = f"{self.build_url(full_name, number)}logText/progressiveText"
        with self._errors(f"read the console of {full_name} #{number}"):
            resp = self.server.jenkins_request(requests.Request("GET", url, params={"start": start}))
        size = int(resp.headers.get("X-Text-Size", start + len(resp.content)))
        more = resp.headers.get("X-More-Data", "").lower() == "true"
        return resp.content.decode("utf-8", errors="replace"), size, more
