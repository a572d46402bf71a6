"""A real connection to the environment's PostgreSQL and the runbook's queries (pure-Python ``pg8000``:
nothing to compile on a Jenkins agent).

The credentials come from Secrets Manager (the instance's managed master secret, or ``database.secret``):
a JSON object with ``username`` and ``password`` (and optionally ``host``, ``port``, ``dbname``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol

# The seed's connectivity query, and what it shows.
CONNECTIVITY_QUERY = "SELECT 1 AS ok, version() AS version, current_database() AS database, current_user AS user_name"
ACTIVITY_QUERY = ("SELECT coalesce(state, 'unknown') AS state, count(*) FROM pg_stat_activity "
                  "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC, 1")
HAS_STATEMENTS_QUERY = "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
SLOWEST_QUERY = ("SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query, calls, "
                 "round(mean_exec_time::numeric, 2) AS mean_ms, round(total_exec_time::numeric, 2) AS total_ms "
                 "FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT :limit")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    tls: str = "require"  # require | verify | disable
    ca_bundle: str | None = None
    timeout: float = 10.0

    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


class Connection(Protocol):
    def run(self, sql: str, **params: Any) -> list[list[Any]] | None: ...

    def close(self) -> None: ...


def _ssl_context(ep: Endpoint) -> ssl.SSLContext | bool:
    if ep.tls == "disable":
        return False  # (pg8000's None would mean "prefer")
    if ep.tls == "verify":
        return ssl.create_default_context(cafile=ep.ca_bundle)
    ctx = ssl.create_default_context(cafile=ep.ca_bundle)  # encrypted, like libpq's sslmode=require
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(ep: Endpoint) -> Connection:
    import pg8000.native

    return pg8000.native.Connection(ep.user, host=ep.host, port=ep.port, database=ep.database, password=ep.password,
                                    ssl_context=_ssl_context(ep), timeout=ep.timeout,
                                    application_name="pipeline-py")


def _rows(conn: Connection, sql: str, **params: Any) -> list[list[Any]]:
    return conn.run(sql, **params) or []


def connectivity(conn: Connection) -> dict[str, Any]:
    ok, version, database, user = _rows(conn, CONNECTIVITY_QUERY)[0]
    return {"ok": ok == 1, "version": str(version).split(" on ")[0], "database": database, "user": user}


def activity(conn: Connection) -> dict[str, int]:
    """``pg_stat_activity`` sessions by state (ours excluded)."""
    return {str(state): int(n) for state, n in _rows(conn, ACTIVITY_QUERY)}


def slowest_statements(conn: Connection, limit: int = 5) -> list[dict[str, Any]] | None:
    """The slowest statements by mean time; None when ``pg_stat_statements`` is not installed."""
    if int(_rows(conn, HAS_STATEMENTS_QUERY)[0][0]) == 0:
        return None
    return [{"query": q, "calls": int(calls), "mean_ms": float(mean), "total_ms": float(total)}
            for q, calls, mean, total in _rows(conn, SLOWEST_QUERY, limit=limit)]


def error_text(exc: BaseException) -> str:
    """pg8000 puts the server's message in a dict argument; everything else says what it is."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], dict):
        d = args[0]
        return f"{d.get('S', 'ERROR')} {d.get('C', '')}: {d.get('M', '')}".strip()
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
