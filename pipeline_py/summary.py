"""What a person sees at the end of a command without ``--json``: a few lines of verdict, what changed,
timings and where the report is — not the whole result object (that is ``--json``, or ``--output FILE``).
The narration above it (stderr) already told the story."""

from __future__ import annotations

from typing import Any

OK_STATUSES = ("ok", "succeeded", "paused", "dry_run")
MARK = {"ok": "✓", "succeeded": "✓", "paused": "‖", "dry_run": "·", "rolled_back": "↺", "not_started": "·"}

# (result key, label) shown when present, in this order
FACTS: tuple[tuple[str, str], ...] = (
    ("strategy", "strategy"),
    ("task_definition_arn", "new revision"),
    ("previous_task_definition_arn", "previous revision"),
    ("image", "image"),
    ("digest", "digest"),
    ("weights", "weights"),
    ("container_exit_code", "container exit code"),
    ("task_arn", "task"),
    ("plan_file", "plan file"),
    ("state_file", "state file"),
    ("report_html", "report"),
)


def _short(value: Any) -> str:
    if isinstance(value, str) and value.startswith("arn:") and "/" in value:
        return value.rsplit("/", 1)[1]
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}%" if isinstance(v, int) else f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def headline(result: dict[str, Any]) -> str:
    status = str(result.get("status") or "ok")
    command = result.get("command") or ""
    mark = MARK.get(status, "✗")
    why = result.get("reason") or (result.get("message") if status not in OK_STATUSES else None)
    text = f"{mark} {command + ': ' if command else ''}{status.replace('_', ' ')}"
    return text + (f" — {why}" if why else "")


def lines(result: dict[str, Any]) -> list[str]:
    out = [headline(result)]
    for key, label in FACTS:
        value = result.get(key)
        if value not in (None, "", [], {}):
            out.append(f"  {label}: {_short(value)}")
    analysis = result.get("analysis") or []
    if analysis:
        steps = " → ".join(f"{a.get('weight')}% {a.get('result')}" for a in analysis)
        out.append(f"  analysis: {steps}")
    if result.get("status") == "dry_run" and result.get("plan"):
        out.append("  plan:")
        out.extend(f"    - {step}" for step in result["plan"])
    if "changed" in result:
        out.append(f"  changed: {'yes' if result['changed'] else 'no'}")
    plan = result.get("summary")
    if isinstance(plan, dict) and {"add", "change", "destroy", "replace"} <= set(plan):
        out.append(f"  terraform: {plan['add']} to add, {plan['change']} to change, {plan['destroy']} to destroy, "
                   f"{plan['replace']} to replace")
    timing = (result.get("timings") or {}).get("total_seconds")
    calls = (result.get("api_calls") or {}).get("total")
    tail = [f"took {timing:.1f}s" if isinstance(timing, int | float) else "",
            f"{calls} AWS API calls" if calls else ""]
    if any(tail):
        out.append("  " + " · ".join(t for t in tail if t))
    if result.get("status") not in OK_STATUSES and result.get("exit_code"):
        out.append(f"  exit code {result['exit_code']} · the full result: --json or --output FILE")
    return out


def text(result: dict[str, Any]) -> str:
    return "\n".join(lines(result))
