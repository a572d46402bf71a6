"""Moving traffic between the colours: set the weights, read them back, retry until they read as set.

A listener that answers 200 and keeps its old weights is a failure, never a success, so every change
is verified by reading it back from AWS."""

from __future__ import annotations

from botocore.exceptions import ClientError

from pipeline_py.clock import Clock
from pipeline_py.deploy.ports import TrafficRouter
from pipeline_py.deploy.topology import COLOURS, TrafficError


def set_and_verify(router: TrafficRouter, weights: dict[str, int], clock: Clock, *, retries: int = 5,
                   interval: float = 1.0) -> dict[str, int]:
    """Set, read back, retry until the read-back matches; ``TrafficError`` when it never does."""
    want = {c: int(weights.get(c, 0)) for c in COLOURS}
    seen: dict[str, int] = {}
    last_error = ""
    for attempt in range(1, retries + 1):
        try:
            router.set_weights(want)
            seen = router.weights()
            if seen == want:
                return seen
            last_error = f"read back {seen}"
        except (ClientError, TrafficError) as exc:
            last_error = str(exc)
        if attempt < retries:
            clock.sleep(interval)
    raise TrafficError(f"listener weights did not take effect after {retries} attempts: wanted {want}, "
                       f"{last_error}")
