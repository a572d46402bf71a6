"""The deploy report people look at: one self-contained HTML file (inline SVG, no JavaScript, no network)
written next to the JSON result. Per colour over time it draws the listener weights, the request
rate, the 5XX rate with its confidence band and the limit, and the p99; every analysis decision,
pause and rollback is marked on the time axis, and listed below with its numbers.

Pure: ``render(result)`` turns the deploy's result dict into HTML; ``write`` puts it in a file.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

COLOUR = {"blue": "#2b6cb0", "green": "#2f855a"}
FAIL = "#c53030"
PAUSE = "#b7791f"
MUTED = "#718096"
W, LEFT, RIGHT = 920, 70, 20
PANEL_H, GAP = 130, 34


def _text(value: object) -> str:
    """JSON as people read it: ``–`` and ``×`` as themselves, not ``\\u2013``."""
    return json.dumps(value, ensure_ascii=False)


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


class _Axis:
    def __init__(self, t_max: float) -> None:
        self.t_max = max(t_max, 1.0)

    def x(self, t: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * min(max(t, 0.0), self.t_max) / self.t_max


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    for m in (1, 2, 2.5, 5, 10):
        for exp in range(-6, 8):
            top = m * 10 ** exp
            if top >= v * 1.1:
                return top
    return v * 1.2


def _series(samples: list[dict[str, Any]], new: str, stable: str) -> dict[str, list[dict[str, Any]]]:
    """Per colour: one point per analysis look (its time, the window's rate and p99, the step's
    cumulative 5XX rate and bounds)."""
    out: dict[str, list[dict[str, Any]]] = {new: [], stable: []}
    prev_t: float | None = None
    for s in samples:
        t = float(s.get("t") or 0.0)
        span = max(t - prev_t, 1e-9) if prev_t is not None else None
        prev_t = t
        for key, colour in (("canary", new), ("stable", stable)):
            cum, win = s.get(key), (s.get("window") or {}).get(key)
            if not cum or not win:
                continue
            out[colour].append({
                "t": t, "weight": s.get("weight"),
                "rps": (win["requests"] / span) if span else None,
                "rate": cum.get("error_rate"), "bounds": cum.get("error_rate_bounds"),
                "p99": win.get("p99_ms"), "result": s.get("result") if key == "canary" else None,
                "requests": cum.get("requests"), "errors": cum.get("errors_5xx"),
            })
    return out


def _weights(result: dict[str, Any]) -> list[tuple[float, dict[str, int]]]:
    steps = [(float(e["t"]), e["weights"]) for e in result.get("timeline") or [] if e.get("kind") == "weights"]
    return steps


def _label(value: float, unit: str) -> str:
    """Axis labels: ``unit`` "%" takes fractions (0.05 → 5%), "pp" takes percentages (50 → 50%)."""
    if unit == "%":
        value, unit = 100 * value, "%"
    elif unit == "pp":
        unit = "%"
    text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return f"{text}{unit}"


def _panel(y0: float, title: str, unit: str, top: float, axis: _Axis, body: str, limit: float | None = None) -> str:
    h = PANEL_H
    parts = [f'<g class="panel" data-title="{_esc(title)}">',
             f'<text x="{LEFT}" y="{y0 - 8}" class="title">{_esc(title)}</text>',
             f'<rect x="{LEFT}" y="{y0}" width="{W - LEFT - RIGHT}" height="{h}" class="frame"/>']
    for frac in (0, 0.5, 1):
        y = y0 + h - frac * h
        label = _label(top * frac, unit)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_esc(label)}</text>')
    if limit is not None and 0 < limit <= top:
        y = y0 + h - h * limit / top
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="limit">'
                     f'<title>limit {_esc(limit)}</title></line>'
                     f'<text x="{W - RIGHT - 4}" y="{y - 4:.1f}" class="tick" text-anchor="end">limit</text>')
    parts.append(body)
    parts.append("</g>")
    return "".join(parts)


def _polyline(points: Iterable[tuple[float, float]], colour: str, cls: str = "line") -> str:
    """A line through the points, each point also drawn as a dot (one look is still visible)."""
    pts = list(points)
    if not pts:
        return ""
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    dots = "" if "weights" in cls else "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{colour}" class="dot"/>' for x, y in pts)
    return f'<g class="{cls}"><polyline points="{line}" fill="none" stroke="{colour}" class="line"/>{dots}</g>'


def _chart(result: dict[str, Any]) -> str:
    samples = list(result.get("analysis_samples") or [])
    timeline = list(result.get("timeline") or [])
    if not samples and not _weights(result):
        return '<p class="tick">no traffic shifts or analysis in this deploy (rolling): see the timeline</p>'
    total = float((result.get("timings") or {}).get("total_seconds") or 0.0)
    t_max = max([total] + [float(e["t"]) for e in timeline] + [float(s.get("t") or 0) for s in samples])
    axis = _Axis(t_max)
    new, stable = result.get("new_colour") or "green", result.get("live_colour") or "blue"
    series = _series(samples, new, stable)
    y = 40.0
    panels = []

    # 1. weights (a step line per colour)
    body = []
    steps = _weights(result)
    for colour in (stable, new):
        corners: list[tuple[float, float]] = []
        last: float | None = None
        for t, w in steps:
            v = y + PANEL_H - PANEL_H * w.get(colour, 0) / 100
            if last is not None:
                corners.append((axis.x(t), last))
            corners.append((axis.x(t), v))
            last = v
        if last is not None:
            corners.append((axis.x(t_max), last))
        body.append(_polyline(corners, COLOUR.get(colour, MUTED), f"line weights weights-{colour}"))
    panels.append(_panel(y, "listener weight per colour", "pp", 100, axis, "".join(body)))
    y += PANEL_H + GAP

    # 2. request rate per colour
    top = _nice_max(max([p["rps"] or 0 for c in series.values() for p in c] + [1]))
    body = [_polyline([(axis.x(p["t"]), y + PANEL_H - PANEL_H * (p["rps"] or 0) / top) for p in pts if p["rps"]
                       is not None], COLOUR.get(c, MUTED), f"line rps rps-{c}") for c, pts in series.items()]
    panels.append(_panel(y, "requests per second per colour", "/s", top, axis, "".join(body)))
    y += PANEL_H + GAP

    # 3. 5XX rate (step cumulative) with its confidence band, and the limit
    limit = result.get("analysis_limits", {}).get("max_error_rate")
    top = _nice_max(max([p["rate"] or 0 for c in series.values() for p in c] + [limit or 0.01]) * 1.5)
    body = []
    for c, pts in series.items():
        band = [(p["t"], p["bounds"]) for p in pts if p["bounds"]]
        if band:
            upper = [(axis.x(t), y + PANEL_H - PANEL_H * min(b[1], top) / top) for t, b in band]
            lower = [(axis.x(t), y + PANEL_H - PANEL_H * min(b[0], top) / top) for t, b in reversed(band)]
            poly = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower)
            body.append(f'<polygon points="{poly}" fill="{COLOUR.get(c, MUTED)}" class="band band-{c}"/>')
        body.append(_polyline([(axis.x(p["t"]), y + PANEL_H - PANEL_H * min(p["rate"] or 0, top) / top)
                               for p in pts if p["rate"] is not None], COLOUR.get(c, MUTED), f"line rate rate-{c}"))
    panels.append(_panel(y, "5XX rate per colour (step total, with its confidence band)", "%", top, axis,
                         "".join(body), limit))
    y += PANEL_H + GAP

    # 4. p99 per colour
    p99_limit = result.get("analysis_limits", {}).get("max_p99_ms")
    top = _nice_max(max([p["p99"] or 0 for c in series.values() for p in c] + [p99_limit or 0, 10]))
    body = [_polyline([(axis.x(p["t"]), y + PANEL_H - PANEL_H * (p["p99"] or 0) / top) for p in pts
                       if p["p99"] is not None], COLOUR.get(c, MUTED), f"line p99 p99-{c}")
            for c, pts in series.items()]
    panels.append(_panel(y, "p99 latency per colour", " ms", top, axis, "".join(body), p99_limit))
    y += PANEL_H

    # decisions, pauses, rollbacks across all panels
    marks = []
    for p in series.get(new, []):
        if p["result"]:
            colour = FAIL if p["result"] == "fail" else MUTED
            x = axis.x(p["t"])
            marks.append(f'<g class="decision decision-{p["result"]}"><line x1="{x:.1f}" x2="{x:.1f}" y1="40" '
                         f'y2="{y:.1f}" stroke="{colour}" class="mark"/><circle cx="{x:.1f}" cy="{y + 10:.1f}" '
                         f'r="4" fill="{colour}"><title>{_esc(p["result"])} at {_esc(p["weight"])}%: '
                         f'{_esc(p["errors"])}/{_esc(p["requests"])} 5XX</title></circle></g>')
    for e in timeline:
        if e.get("kind") in ("pause", "rollback"):
            x = axis.x(float(e["t"]))
            colour = PAUSE if e["kind"] == "pause" else FAIL
            label = "paused" if e["kind"] == "pause" else "rollback"
            # a mark in the right half labels to its left, so the label stays inside the chart
            tx, anchor = (x - 3, "end") if x > W / 2 else (x + 3, "start")
            marks.append(f'<g class="event event-{e["kind"]}"><line x1="{x:.1f}" x2="{x:.1f}" y1="30" y2="{y:.1f}" '
                         f'stroke="{colour}" class="event-line"/><text x="{tx:.1f}" y="28" fill="{colour}" '
                         f'text-anchor="{anchor}" class="tick">{label}</text>'
                         f'<title>{_esc(e.get("reason") or e.get("weight") or "")}</title>'
                         f"</g>")
    ticks = []
    for i in range(6):
        t = axis.t_max * i / 5
        label = f"{t:.0f}s" if axis.t_max >= 20 else f"{t:.1f}s"
        ticks.append(f'<text x="{axis.x(t):.1f}" y="{y + 28:.1f}" class="tick" text-anchor="middle">{label}</text>')
    legend = "".join(
        f'<rect x="{LEFT + 140 * i}" y="{y + 40:.1f}" width="12" height="12" fill="{COLOUR.get(c, MUTED)}"/>'
        f'<text x="{LEFT + 140 * i + 18}" y="{y + 50:.1f}" class="tick">{_esc(c)}'
        f'{" (new)" if c == new else " (stable)"}</text>' for i, c in enumerate((stable, new)))
    height = y + 60
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height:.0f}" '
            f'viewBox="0 0 {W} {height:.0f}" role="img" aria-label="deploy chart">'
            + "".join(panels) + "".join(marks) + "".join(ticks) + legend + "</svg>")


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1a202c;max-width:980px}
h1{font-size:20px;margin:0 0 4px} .status{font-weight:700;padding:2px 8px;border-radius:4px;color:#fff}
.succeeded{background:#2f855a}.rolled_back{background:#c05621}.failed{background:#c53030}.paused{background:#b7791f}
.dry_run,.not_started{background:#718096} table{border-collapse:collapse;margin:12px 0;width:100%}
td,th{border-bottom:1px solid #e2e8f0;padding:4px 6px;text-align:left;vertical-align:top;font-size:13px}
th{color:#4a5568;font-weight:600} code{font-size:12px} .fail{color:#c53030;font-weight:600}
svg .frame{fill:#fff;stroke:#cbd5e0} svg .grid{stroke:#edf2f7} svg .limit{stroke:#c53030;stroke-dasharray:6 4}
svg .line{stroke-width:2.2} svg .band{opacity:.18} svg .mark{stroke-dasharray:2 3;opacity:.7}
svg .event-line{stroke-width:2} svg .title{font-size:13px;font-weight:600;fill:#2d3748}
svg .tick{font-size:11px;fill:#4a5568}
"""


def _counts(x: dict[str, Any]) -> str:
    if not x:
        return "—"
    b = x.get("error_rate_bounds")
    band = f" [{_fmt_pct(b[0])}–{_fmt_pct(b[1])}]" if b else ""
    p99 = x.get("p99_ms") if x.get("p99_ms") is not None else "n/a"
    return (f"{x.get('requests', 0)} req, {x.get('errors_5xx', 0)} 5XX = "
            f"{_fmt_pct(x.get('error_rate'))}{band}, p99 {p99} ms")


def render(result: dict[str, Any]) -> str:
    status = str(result.get("status") or "unknown")
    title = f"{result.get('strategy', 'deploy')} of {result.get('service', '')}"
    facts = [
        ("status", f'<span class="status {_esc(status)}">{_esc(status)}</span>'),
        ("reason", _esc(result.get("reason") or result.get("message") or "—")),
        ("cluster", _esc(result.get("cluster"))),
        ("new revision", f"<code>{_esc(result.get('task_definition_arn') or '—')}</code>"),
        ("previous revision", f"<code>{_esc(result.get('previous_task_definition_arn') or '—')}</code>"),
        ("colours", f"{_esc(result.get('live_colour', '—'))} (stable) → {_esc(result.get('new_colour', '—'))} (new)"),
        ("final weights", _esc(_text(result.get("weights") or {}))),
        ("total time", f"{(result.get('timings') or {}).get('total_seconds', 0):.1f}s"),
    ]
    lock = result.get("lock") or {}
    if lock.get("holder"):
        facts.append(("deploy lock", _esc(f"{lock.get('key')} held by {lock['holder'].get('who')}")))
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    looks = []
    for s in result.get("analysis_samples") or []:
        c, st = s.get("canary") or {}, s.get("stable") or {}
        cls = ' class="fail"' if s.get("result") == "fail" else ""
        looks.append(f"<tr><td>{_esc(s.get('t'))}s</td><td>{_esc(s.get('weight'))}%</td><td{cls}>"
                     f"{_esc(s.get('result'))}</td><td>{_esc(_counts(c))}</td><td>{_esc(_counts(st))}</td>"
                     f"<td>{_esc('; '.join(s.get('reasons') or []))}</td></tr>")
    decisions = ("<h2>analysis decisions</h2><table><tr><th>t</th><th>weight</th><th>verdict</th><th>new colour "
                 "(step total)</th><th>stable colour (step total)</th><th>why</th></tr>" + "".join(looks)
                 + "</table>") if looks else ""
    events = "".join(f"<tr><td>{_esc(e.get('t'))}s</td><td>{_esc(e.get('kind'))}</td><td>"
                     f"{_esc(_text({k: v for k, v in e.items() if k not in ('t', 'kind')}))}</td></tr>"
                     for e in result.get("timeline") or [])
    phases = "".join(f"<tr><td>{_esc(p.get('at'))}s</td><td>{_esc(p.get('phase'))}</td></tr>"
                     for p in result.get("phases") or [])
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_esc(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{_esc(title)}</h1><table>{rows}</table>"
            f"{_chart(result)}{decisions}<h2>timeline</h2><table>{events}</table>"
            f"<h2>phases</h2><table>{phases}</table></body></html>\n")


def report_name(result: dict[str, Any], stamp: str) -> str:
    raw = f"{result.get('service') or 'deploy'}-{result.get('strategy') or ''}-{stamp}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-") + ".html"


def write(result: dict[str, Any], directory: Path, stamp: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / report_name(result, stamp)
    path.write_text(render(result), encoding="utf-8")
    return path
