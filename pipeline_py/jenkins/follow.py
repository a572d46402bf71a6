"""``jenkins build --follow``: trigger a build, follow its queue item to the build, stream the
console progressively and end with the build's result.

Polling runs on the injected clock. A queue item says ``executable`` once the build started (or
``cancelled``); the console is read from the byte offset Jenkins returned in ``X-Text-Size`` until
``X-More-Data`` is gone; then the build's ``result`` decides: SUCCESS is success, anything else
(UNSTABLE, FAILURE, ABORTED, NOT_BUILT) a failed operation (exit 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline_py.clock import Clock, Deadline
from pipeline_py.errors import OperationFailed
from pipeline_py.jenkins.client import JenkinsClient


@dataclass
class Follow:
    client: JenkinsClient
    clock: Clock
    timeout: float
    poll_interval: float
    narrate: Callable[[str], None]
    console: Callable[[str], None]

    def started(self, job: str, queue_id: int, deadline: Deadline) -> int:
        """Wait for the queue item to become a build; its number."""
        last_why = None
        while True:
            item = self.client.queue_item(queue_id)
            if item.get("cancelled"):
                raise OperationFailed(f"{job}: queue item {queue_id} was cancelled before it started",
                                      result={"queue_id": queue_id, "result": "CANCELLED"})
            executable = item.get("executable")
            if executable and executable.get("number") is not None:
                return int(executable["number"])
            why = item.get("why")
            if why and why != last_why:
                self.narrate(f"queued: {why}")
                last_why = why
            self._wait(deadline, f"{job}: still queued after {self.timeout:.0f}s ({why or 'no reason given'})",
                       {"queue_id": queue_id})

    def stream(self, job: str, number: int, deadline: Deadline) -> None:
        start = 0
        pending = ""
        while True:
            text, start, more = self.client.console_chunk(job, number, start)
            pending += text
            lines = pending.split("\n")
            pending = lines.pop()
            for line in lines:
                self.console(line)
            if not more:
                break
            self._wait(deadline, f"{job} #{number}: still running after {self.timeout:.0f}s",
                       {"build_number": number})
        if pending:
            self.console(pending)

    def result(self, job: str, number: int, deadline: Deadline) -> dict[str, Any]:
        while True:
            info = self.client.build_info(job, number)
            if not info.get("building") and info.get("result"):
                return info
            self._wait(deadline, f"{job} #{number}: no result after {self.timeout:.0f}s", {"build_number": number})

    def _wait(self, deadline: Deadline, message: str, result: dict[str, Any]) -> None:
        if deadline.expired:
            raise OperationFailed(message, result=result)
        self.clock.sleep(min(self.poll_interval, max(deadline.remaining, 0.0)))


def run_build(client: JenkinsClient, job: str, parameters: dict[str, str], *, follow: bool, clock: Clock,
              timeout: float, poll_interval: float, narrate: Callable[[str], None],
              console: Callable[[str], None]) -> dict[str, Any]:
    f = Follow(client, clock, timeout, poll_interval, narrate, console)
    deadline = Deadline(clock, timeout)
    queue_id = client.trigger(job, parameters)
    narrate(f"triggered {job} (queue item {queue_id})")
    number = f.started(job, queue_id, deadline)
    url = client.build_url(job, number)
    narrate(f"started {job} #{number}: {url}")
    out: dict[str, Any] = {"job": job, "queue_id": queue_id, "build_number": number, "url": url, "result": None}
    if not follow:
        return out
    f.stream(job, number, deadline)
    info = f.result(job, number, deadline)
    out.update(result=info["result"], duration_seconds=round((info.get("duration") or 0) / 1000, 3))
    narrate(f"{job} #{number}: {info['result']}")
    if info["result"] != "SUCCESS":
        raise OperationFailed(f"{job} #{number} finished {info['result']}", result={**out, "status": "error"})
    return out
