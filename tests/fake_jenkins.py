"""A small Jenkins for tests: the REST endpoints ``pipeline-py jenkins …`` uses, with the response
shapes of a real Jenkins (2.4xx with cloudbees-folder, workflow-multibranch, pipeline-model-definition):

- basic auth with a user's API token (403 anonymous, 401 wrong token), ``X-Jenkins`` header;
- ``GET /crumbIssuer/api/json`` -> ``{"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb",
  "crumbRequestField": "Jenkins-Crumb"}``; the crumb is bound to the session cookie it was issued
  with, and every POST but ``/pipeline-model-converter/*`` (a crumb exclusion in the plugin) must
  carry it (403 "No valid crumb was included in the request");
- ``/api/json``, ``/job/…/api/json``; ``/job/…/config.xml`` GET and POST; ``createItem?name=`` with an
  XML body (400 with ``X-Error`` when the item exists, 404 when the parent does not). Saved configs
  are re-serialised the way XStream does (``plugin="name@version"`` attributes, default fields we
  never send, XML 1.1), so idempotency is tested against what Jenkins really hands back;
- ``POST /pipeline-model-converter/validateJenkinsfile`` (form field ``jenkinsfile``) ->
  ``{"status": "ok", "data": {"result": "success"}}`` or ``{"result": "failure", "errors": [{"error": …}]}``;
- ``POST /job/…/build`` or ``buildWithParameters`` -> 201 with ``Location: …/queue/item/N/``;
  ``/queue/item/N/api/json`` -> a ``Queue$WaitingItem`` with ``why`` for a few polls, then a
  ``Queue$LeftItem`` with ``executable: {number, url}`` (or ``cancelled: true``);
- ``/job/…/N/api/json`` (``WorkflowRun``: ``building``, ``result``, ``duration`` …) and
  ``/job/…/N/logText/progressiveText?start=K`` (the text from byte K, ``X-Text-Size``, and
  ``X-More-Data: true`` while the build runs). A scripted build reveals one console chunk per
  console request and finishes after the last one, so tests need no clock.

Not a Jenkins: the Jenkinsfile "validator" is a heuristic, and nothing runs.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

JENKINS_VERSION = "2.462.3"
FOLDER = "com.cloudbees.hudson.plugins.folder.Folder"
MULTIBRANCH = "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
WORKFLOW_JOB = "org.jenkinsci.plugins.workflow.job.WorkflowJob"
CONTAINERS = {FOLDER, MULTIBRANCH}

# Which plugin a saved element (by tag or class attribute) belongs to, as XStream writes it.
_FOLDER_PLUGIN = "cloudbees-folder@6.951.v5f91d88d76b_b_"
PLUGINS = {
    FOLDER: _FOLDER_PLUGIN,
    MULTIBRANCH: "workflow-multibranch@795.ve0cb_1f45ca_9a_",
    WORKFLOW_JOB: "workflow-job@1436.vfa_244484591f",
    "org.jenkinsci.plugins.workflow.libs.FolderLibraries": "pipeline-groovy-lib@727.ve832a_9244dfa_",
    "jenkins.plugins.git.GitSCMSource": "git@5.2.2",
    "org.jenkinsci.plugins.github_branch_source.GitHubSCMSource": "github-branch-source@1797.v86fdb_4d57d43",
    "com.cloudbees.hudson.plugins.folder.computed.DefaultOrphanedItemStrategy": _FOLDER_PLUGIN,
    "com.cloudbees.hudson.plugins.folder.computed.PeriodicFolderTrigger": _FOLDER_PLUGIN,
    "jenkins.branch.MultiBranchProject$BranchSourceList": "branch-api@2.1169.va_f810c56e895",
}
# Fields Jenkins writes back although nobody sent them.
DEFAULT_CHILDREN = {
    FOLDER: ["actions", "folderViews", "healthMetrics", "icon"],
    MULTIBRANCH: ["actions", "folderViews", "healthMetrics", "icon"],
    WORKFLOW_JOB: ["actions", "keepDependencies"],
}


def reserialise(xml: bytes | str) -> tuple[str, str]:
    """(item class, config as Jenkins would store and return it); ValueError for bad XML."""
    try:
        root = ET.fromstring(xml if isinstance(xml, bytes) else xml.encode("utf-8"))
    except ET.ParseError as exc:
        raise ValueError(str(exc)) from None
    for e in root.iter():
        plugin = PLUGINS.get(e.get("class", "")) or PLUGINS.get(e.tag)
        if plugin and "plugin" not in e.attrib:
            e.set("plugin", plugin)
    present = {c.tag for c in root}
    for i, tag in enumerate(DEFAULT_CHILDREN.get(root.tag, [])):
        if tag not in present:
            root.insert(i, ET.Element(tag))
    ET.indent(root, space="  ")
    return root.tag, "<?xml version='1.1' encoding='UTF-8'?>\n" + ET.tostring(root, encoding="unicode")


def heuristic_validator(text: str) -> list[str]:
    """Enough of the declarative linter's answers for tests (it is not Jenkins' parser)."""
    if "pipeline" not in text:
        return [f"Jenkinsfile content '{text}' did not contain the 'pipeline' step"]
    depth = 0
    for n, line in enumerate(text.splitlines(), 1):
        depth += line.count("{") - line.count("}")
        if depth < 0:
            return [f"WorkflowScript: {n}: unexpected token: }} @ line {n}, column {line.index('}') + 1}."]
    if depth:
        return ["WorkflowScript: unexpected end of file (unclosed '{')"]
    errors = []
    for section in ("agent", "stages"):
        if section not in text:
            errors.append(f'Missing required section "{section}" @ line 1, column 1.')
    return errors


@dataclass
class BuildScript:
    console: list[str]
    result: str = "SUCCESS"
    queue_polls: int = 2
    cancelled: bool = False


@dataclass
class Build:
    job: str
    number: int
    queue_id: int
    script: BuildScript
    revealed: int = 0

    @property
    def building(self) -> bool:
        return self.revealed < len(self.script.console)


@dataclass
class QueueItem:
    id: int
    job: str
    params: dict[str, str]
    script: BuildScript
    polls: int = 0
    build: Build | None = None


@dataclass
class FakeJenkins:
    user: str = "deployer"
    token: str = field(default_factory=lambda: "11" + secrets.token_hex(16))
    items: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    validator: Callable[[str], list[str]] = heuristic_validator
    scripts: dict[str, list[BuildScript]] = field(default_factory=dict)
    queue: dict[int, QueueItem] = field(default_factory=dict)
    builds: dict[tuple[str, int], Build] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_queue_id: int = 100

    def start(self) -> FakeJenkins:
        fake = self

        class Handler(_Handler):
            jenkins = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- test helpers -------------------------------------------------------------------

    def add_item(self, full_name: str, config: str) -> None:
        cls, xml = reserialise(config)
        self.items[full_name] = {"class": cls, "config": xml}

    def add_job(self, full_name: str) -> None:
        self.add_item(full_name, f"<{WORKFLOW_JOB}><description/></{WORKFLOW_JOB}>")

    def script_build(self, job: str, console: list[str], result: str = "SUCCESS", queue_polls: int = 2,
                     cancelled: bool = False) -> None:
        self.scripts.setdefault(job, []).append(BuildScript(console, result, queue_polls, cancelled))

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST" and not r["path"].startswith("/pipeline-model")]

    def config(self, full_name: str) -> str:
        return self.items[full_name]["config"]


class _Handler(BaseHTTPRequestHandler):
    jenkins: FakeJenkins
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ---- plumbing ------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes | str = b"", content_type: str = "text/plain;charset=UTF-8",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("X-Jenkins", JENKINS_VERSION)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(200, json.dumps(obj), "application/json;charset=utf-8", headers)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _session(self) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k.startswith("JSESSIONID"):
                return v
        return None

    def _authenticated(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            self._send(403, "Authentication required", headers={"X-You-Are-Authenticated-As": "anonymous"})
            return False
        user, _, token = base64.b64decode(auth[6:]).decode().partition(":")
        if user != self.jenkins.user or token != self.jenkins.token:
            self._send(401, f"Invalid password/token for user: {user}",
                       headers={"WWW-Authenticate": 'Basic realm="Jenkins"'})
            return False
        return True

    def _record(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        self.jenkins.requests.append({
            "method": method, "path": path, "query": query,
            "crumb": self.headers.get("Jenkins-Crumb"), "session": self._session(),
            "content_type": self.headers.get("Content-Type"),
        })

    @staticmethod
    def _split(path: str) -> tuple[str, list[str]]:
        """``/job/a/job/b%252Fc/config.xml`` -> (``a/b%2Fc``, ``['config.xml']``)."""
        parts = [p for p in path.split("/") if p]
        names = []
        while len(parts) >= 2 and parts[0] == "job":
            names.append(unquote(parts[1]))
            parts = parts[2:]
        return "/".join(names), parts

    def _item(self, full: str) -> dict[str, str] | None:
        return self.jenkins.items.get(full)

    def _item_json(self, full: str, item: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {"_class": item["class"], "name": full.rsplit("/", 1)[-1], "fullName": full,
                               "url": f"{self.jenkins.url}{_job_path(full)}"}
        if item["class"] in CONTAINERS:
            prefix = full + "/"
            out["jobs"] = [{"_class": v["class"], "name": k[len(prefix):], "url": f"{self.jenkins.url}{_job_path(k)}"}
                           for k, v in self.jenkins.items.items()
                           if k.startswith(prefix) and "/" not in k[len(prefix):]]
        else:
            out.update(buildable=True, color="blue", nextBuildNumber=1 + sum(
                1 for (j, _n) in self.jenkins.builds if j == full))
        return out

    # ---- GET ---------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self._record("GET", url.path, query)
        if not self._authenticated():
            return
        j = self.jenkins
        with j.lock:
            if url.path == "/crumbIssuer/api/json":
                session = secrets.token_hex(8)
                crumb = secrets.token_hex(16)
                j.sessions[session] = crumb
                self._json({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": crumb,
                            "crumbRequestField": "Jenkins-Crumb"},
                           {"Set-Cookie": f"JSESSIONID.{session[:8]}={session}; Path=/; HttpOnly"})
                return
            if url.path in ("/api/json", "/"):
                top = [k for k in j.items if "/" not in k]
                self._json({"_class": "hudson.model.Hudson", "mode": "NORMAL", "nodeName": "",
                            "nodeDescription": "the Jenkins controller's built-in node", "numExecutors": 0,
                            "useCrumbs": True, "useSecurity": True,
                            "jobs": [{"_class": j.items[k]["class"], "name": k,
                                      "url": f"{j.url}{_job_path(k)}"} for k in top]})
                return
            parts = [p for p in url.path.split("/") if p]
            if parts[:2] == ["queue", "item"] and len(parts) >= 3:
                self._queue_item(int(parts[2]))
                return
            full, rest = self._split(url.path)
            item = self._item(full) if full else None
            if item is None:
                self._send(404, "Not Found")
                return
            if rest == ["api", "json"]:
                self._json(self._item_json(full, item))
            elif rest == ["config.xml"]:
                self._send(200, item["config"], "application/xml")
            elif len(rest) >= 2 and rest[0].isdigit():
                self._build_get(full, int(rest[0]), rest[1:], query)
            else:
                self._send(404, "Not Found")

    def _queue_item(self, qid: int) -> None:
        j = self.jenkins
        q = j.queue.get(qid)
        if q is None:
            self._send(404, "Not Found")
            return
        task = {"_class": WORKFLOW_JOB, "name": q.job.rsplit("/", 1)[-1], "url": f"{j.url}{_job_path(q.job)}"}
        base = {"actions": [{"_class": "hudson.model.CauseAction", "causes": [
            {"_class": "hudson.model.Cause$UserIdCause", "shortDescription": f"Started by user {j.user}",
             "userId": j.user, "userName": j.user}]}],
            "blocked": False, "id": qid, "inQueueSince": 1767225600000, "params": "".join(
                f"\n{k}={v}" for k, v in q.params.items()), "stuck": False, "task": task,
            "url": f"queue/item/{qid}/"}
        if q.polls < q.script.queue_polls:
            q.polls += 1
            why = "In the quiet period. Expires in 4.9 sec" if q.polls == 1 else "Waiting for next available executor"
            self._json({"_class": "hudson.model.Queue$WaitingItem", **base, "buildable": False,
                        "why": why, "timestamp": 1767225605000})
            return
        if q.script.cancelled:
            self._json({"_class": "hudson.model.Queue$LeftItem", **base, "buildable": False, "why": None,
                        "cancelled": True, "executable": None})
            return
        if q.build is None:
            number = 1 + sum(1 for (job, _n) in j.builds if job == q.job)
            q.build = Build(q.job, number, qid, q.script)
            j.builds[(q.job, number)] = q.build
        self._json({"_class": "hudson.model.Queue$LeftItem", **base, "buildable": False, "why": None,
                    "cancelled": False, "executable": {
                        "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": q.build.number,
                        "url": f"{j.url}{_job_path(q.job)}{q.build.number}/"}})

    def _build_get(self, job: str, number: int, rest: list[str], query: dict[str, list[str]]) -> None:
        j = self.jenkins
        b = j.builds.get((job, number))
        if b is None:
            self._send(404, "Not Found")
            return
        if rest == ["api", "json"]:
            self._json({"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "actions": [], "artifacts": [],
                        "building": b.building, "inProgress": b.building, "description": None,
                        "displayName": f"#{number}", "duration": 0 if b.building else 4242,
                        "estimatedDuration": 4000, "executor": None,
                        "fullDisplayName": f"{job.replace('/', ' » ')} #{number}", "id": str(number),
                        "keepLog": False, "number": number, "queueId": b.queue_id,
                        "result": None if b.building else b.script.result, "timestamp": 1767225606000,
                        "url": f"{j.url}{_job_path(job)}{number}/"})
        elif rest == ["logText", "progressiveText"]:
            start = int((query.get("start") or ["0"])[0])
            if b.building:
                b.revealed += 1
            text = "".join(b.script.console[: b.revealed]).encode("utf-8")
            headers = {"X-Text-Size": str(len(text))}
            if b.building:
                headers["X-More-Data"] = "true"
            self._send(200, text[start:], "text/plain;charset=UTF-8", headers)
        else:
            self._send(404, "Not Found")

    # ---- POST --------------------------------------------------------------------------------------

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        body = self._body()
        self._record("POST", url.path, query)
        if not self._authenticated():
            return
        j = self.jenkins
        with j.lock:
            if url.path.startswith("/pipeline-model-converter/"):
                self._validate(url.path, body)
                return
            session = self._session()
            if not session or j.sessions.get(session) != self.headers.get("Jenkins-Crumb"):
                self._send(403, "No valid crumb was included in the request")
                return
            full, rest = self._split(url.path)
            if rest == ["createItem"]:
                self._create(full, (query.get("name") or [""])[0], body)
                return
            item = self._item(full) if full else None
            if item is None:
                self._send(404, "Not Found")
            elif rest == ["config.xml"]:
                try:
                    cls, xml = reserialise(body)
                except ValueError as exc:
                    self._send(500, f"Unable to parse the posted config.xml: {exc}")
                    return
                if cls != item["class"]:
                    self._send(400, "Cannot change the type of an item", headers={"X-Error": "wrong type"})
                    return
                item["config"] = xml
                self._send(200)
            elif rest in (["build"], ["buildWithParameters"]):
                self._trigger(full, item, rest[0], query, body)
            else:
                self._send(404, "Not Found")

    def _create(self, parent: str, name: str, body: bytes) -> None:
        j = self.jenkins
        if parent and (self._item(parent) or {}).get("class") not in CONTAINERS:
            self._send(404, "Not Found")
            return
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() not in ("application/xml", "text/xml"):
            self._send(400, "", headers={"X-Error": "No mode and no config.xml given"})
            return
        full = f"{parent}/{name}" if parent else name
        if full in j.items:
            self._send(400, "", headers={"X-Error": f"A job already exists with the name \u2018{name}\u2019"})
            return
        try:
            cls, xml = reserialise(body)
        except ValueError as exc:
            self._send(500, f"Failed to parse the config.xml: {exc}")
            return
        j.items[full] = {"class": cls, "config": xml}
        self._send(200)

    def _trigger(self, full: str, item: dict[str, str], how: str, query: dict[str, list[str]], body: bytes) -> None:
        j = self.jenkins
        if item["class"] in CONTAINERS:
            self._send(405, "Method Not Allowed")
            return
        scripts = j.scripts.get(full) or []
        script = scripts.pop(0) if scripts else BuildScript(["Started\n", "Finished: SUCCESS\n"])
        params = {k: v[0] for k, v in {**query, **parse_qs(body.decode())}.items()}
        qid = j.next_queue_id
        j.next_queue_id += 1
        j.queue[qid] = QueueItem(qid, full, params if how == "buildWithParameters" else {}, script)
        self._send(201, "", headers={"Location": f"{j.url}queue/item/{qid}/"})

    def _validate(self, path: str, body: bytes) -> None:
        if path != "/pipeline-model-converter/validateJenkinsfile":
            self._send(404, "Not Found")
            return
        text = (parse_qs(body.decode("utf-8")).get("jenkinsfile") or [""])[0]
        if not text:
            errors = ["No content found for 'jenkinsfile' parameter"]
        else:
            errors = self.jenkins.validator(text)
        data: dict[str, Any] = {"result": "success"}
        if errors:
            data = {"result": "failure", "errors": [{"error": errors if len(errors) > 1 else errors[0]}]}
        self._json({"status": "ok", "data": data})


def _job_path(full: str) -> str:
    from urllib.parse import quote

    return "".join(f"job/{quote(p, safe='')}/" for p in full.split("/"))
