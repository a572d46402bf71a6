"""Real PostgreSQL clusters behind the local stack's RDS: one cluster per DB instance.

Debian's ``postgresql`` package provides the binaries (``/usr/lib/postgresql/<major>/bin``, the highest
major installed, or ``$PIPELINE_PY_PG_BIN``). PostgreSQL refuses to run as root: when this process is
root, every PostgreSQL program runs as the unprivileged ``postgres`` user the package creates (or
``$PIPELINE_PY_PG_USER``; ``nobody`` when neither exists), through ``subprocess``'s ``user=``/``group=``,
and everything under the data root belongs to that user. The data root is a fresh directory under the
system's temporary directory (or ``$PIPELINE_PY_RDS_DIR``), because the user running PostgreSQL must be
able to reach it (a root home directory is not).

Layout under the root::

    template/                  initdb once per root (superuser ``rdsadmin``, 1 MB WAL segments)
    instances/<id>/data        the instance's data directory (a copy of the template or of a backup)
    instances/<id>/archive     WAL archive (``archive_command`` copies each finished segment here)
    instances/<id>/backups/*   base backups (``pg_basebackup``) the instance's point-in-time restores start from
    instances/<id>/postgres.log, instances/<id>/.s.PGSQL.<port> (the Unix socket)
    snapshots/<id>             manual snapshots: base backups with the WAL they need (``-X stream``)

Clients reach an instance on a loopback address (127.0.0.1, or 127.0.0.N when its port is taken there)
and the port it was created with, with the master user's password (SCRAM); the local
stack itself talks to it over the Unix socket as ``rdsadmin`` (trusted), as RDS keeps its own
``rdsadmin`` connection. A point-in-time restore is PostgreSQL's own archive recovery: a base backup
taken before the target, ``restore_command`` reading the source's archive, ``recovery_target_time``
and ``recovery.signal``.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline_py.local.procs import pid_alive

ADMIN_USER = "rdsadmin"
HEARTBEAT_DB = "rdsadmin"
START_TIMEOUT = 60.0
_PG_ROOT = Path("/usr/lib/postgresql")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


class PostgresError(RuntimeError):
    """A PostgreSQL program failed; the message ends with the tail of its output or log."""


def bin_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory of ``initdb``/``pg_ctl``: ``$PIPELINE_PY_PG_BIN``, else the highest major version
    installed under /usr/lib/postgresql (Debian keeps them off PATH)."""
    env = os.environ if environ is None else environ
    given = env.get("PIPELINE_PY_PG_BIN")
    if given:
        return Path(given)
    versions = []
    if _PG_ROOT.is_dir():
        for d in _PG_ROOT.iterdir():
            if d.name.isdigit() and (d / "bin" / "initdb").is_file():
                versions.append(int(d.name))
    if not versions:
        raise PostgresError("PostgreSQL is not installed (apt-get install postgresql; see scripts/setup.sh)")
    return _PG_ROOT / str(max(versions)) / "bin"


def available(environ: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(True, version) when ``initdb --version`` runs; else (False, why)."""
    try:
        initdb = bin_dir(environ) / "initdb"
        out = subprocess.run([str(initdb), "--version"], capture_output=True, text=True, timeout=30)
    except (PostgresError, OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    if out.returncode != 0:
        return False, (out.stderr or out.stdout).strip()
    return True, out.stdout.strip()


@dataclass(frozen=True)
class RunAs:
    """Who PostgreSQL runs as: this process's user, or (as root) an unprivileged one."""

    user: str | None
    uid: int
    gid: int

    @classmethod
    def for_this_process(cls, environ: Mapping[str, str] | None = None) -> RunAs:
        env = os.environ if environ is None else environ
        if os.geteuid() != 0:
            return cls(None, os.getuid(), os.getgid())
        for name in (env.get("PIPELINE_PY_PG_USER"), "postgres", "nobody"):
            if not name:
                continue
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(name, pw.pw_uid, pw.pw_gid)
        raise PostgresError("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL "
                            "(set PIPELINE_PY_PG_USER)")

    def popen_kwargs(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.uid, self.gid)


def _bindable(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL binds
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_endpoint(port: int) -> tuple[str, int]:
    """A loopback address where ``port`` is free: 127.0.0.1 when it is, else the next of 127.0.0.2…254
    (the whole 127.0.0.0/8 is the loopback), so an instance always listens on the port it was asked
    for, as on RDS (and terraform, which reads it back, plans no change). A free port on 127.0.0.1
    when even those are taken."""
    for last in range(1, 255):
        host = f"127.0.0.{last}"
        if _bindable(host, port):
            return host, port
    return "127.0.0.1", free_port()


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens on 127.0.0.1 there, else a free port the kernel picks."""
    import socket

    if preferred and _bindable("127.0.0.1", preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise PostgresError(f"{name!r} is not a valid PostgreSQL identifier")
    return '"' + name + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Postgres:
    """The binaries, who runs them and the data root."""

    root: Path
    bins: Path = field(default_factory=bin_dir)
    run_as: RunAs = field(default_factory=RunAs.for_this_process)
    _template_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(cls, root: Path | None = None, environ: Mapping[str, str] | None = None) -> Postgres:
        env = os.environ if environ is None else environ
        given = root or (Path(env["PIPELINE_PY_RDS_DIR"]) if env.get("PIPELINE_PY_RDS_DIR") else None)
        if given is None:
            given = Path(tempfile.mkdtemp(prefix="pipeline-py-rds-"))
        given.mkdir(parents=True, exist_ok=True)
        pg = cls(given, bin_dir(env), RunAs.for_this_process(env))
        pg.run_as.own(given)
        os.chmod(given, 0o700)
        return pg

    def program(self, name: str) -> str:
        return str(self.bins / name)

    def run(self, *argv: str, timeout: float = 120.0, log: Path | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program (or ``cp``/``rm``) as the PostgreSQL user; raise with its output."""
        try:
            done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=str(self.root),
                                  input=input, stdin=None if input is not None else subprocess.DEVNULL,
                                  **self.run_as.popen_kwargs())
        except subprocess.TimeoutExpired:
            raise PostgresError(f"{Path(argv[0]).name} did not finish within {timeout:.0f}s{_tail(log)}") from None
        if done.returncode != 0:
            out = (done.stderr or done.stdout).strip()[-1500:]
            raise PostgresError(f"{Path(argv[0]).name} {' '.join(argv[1:3])}... exited {done.returncode}: {out}"
                                f"{_tail(log)}")
        return done

    def mkdir(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        self.run_as.own(path)
        os.chmod(path, 0o700)
        return path

    def copy_tree(self, src: Path, dest: Path) -> None:
        """``cp -a`` as the PostgreSQL user: modes and ownership stay what PostgreSQL requires."""
        self.run("cp", "-a", str(src), str(dest))

    @property
    def template(self) -> Path:
        """A freshly initialised, cleanly shut down data directory (made once per root)."""
        path = self.root / "template"
        with self._template_lock:
            if not (path / "PG_VERSION").is_file():
                if path.exists():
                    shutil.rmtree(path)
                self.run(self.program("initdb"), "-D", str(path), "-U", ADMIN_USER, "-E", "UTF8", "--locale=C.UTF-8",
                         "--auth-local=trust", "--auth-host=scram-sha-256", "--wal-segsize=1", "--no-sync",
                         "--no-instructions", timeout=180)
                tls = self._certificate(path)
                host = "hostssl" if tls else "host"  # TLS only, as RDS's rds.force_ssl = 1
                hba = path / "pg_hba.conf"
                hba.write_text(
                    "# pipeline-py local RDS: the local stack as rdsadmin over its socket; clients by password\n"
                    "local     all           all                     trust\n"
                    "local     replication   all                     trust\n"
                    f"host      all           {ADMIN_USER}   127.0.0.0/8    reject\n"
                    f"{host:<9} all           all            127.0.0.0/8    scram-sha-256\n"
                    f"{host:<9} all           all            ::1/128        scram-sha-256\n")
                with (path / "postgresql.conf").open("a") as fh:
                    fh.write(("\nssl = on\n" if tls else "\n") + "include_if_exists = 'pipeline-py.conf'\n")
                # rdsadmin's own database and heartbeat table (see Cluster.flush_archive), made once here
                postgres = self.program("postgres")
                self.run(postgres, "--single", "-D", str(path), "postgres",
                         input=f"CREATE DATABASE {quote_ident(HEARTBEAT_DB)}\n")
                self.run(postgres, "--single", "-D", str(path), HEARTBEAT_DB,
                         input="CREATE TABLE heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL)\n")
        return path

    def _certificate(self, data: Path) -> bool:
        """A self-signed server certificate (RDS serves TLS); False when ``openssl`` is missing."""
        openssl = shutil.which("openssl")
        if openssl is None:
            return False
        try:
            self.run(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj",
                     "/CN=127.0.0.1", "-keyout", str(data / "server.key"), "-out", str(data / "server.crt"))
        except PostgresError:
            return False
        os.chmod(data / "server.key", 0o600)
        return True


def _tail(log: Path | None, n: int = 1500) -> str:
    if log is None or not log.is_file():
        return ""
    text = log.read_text(errors="replace").strip()
    return f"\n--- {log} (end) ---\n{text[-n:]}" if text else ""


@dataclass
class Backup:
    """A base backup: where it is and when it became consistent (a restore target must be later)."""

    path: Path
    end: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "end": self.end.isoformat()}


@dataclass
class Cluster:
    """One instance's cluster: its directories, port and process."""

    pg: Postgres
    name: str
    port: int
    host: str = "127.0.0.1"
    backups: list[Backup] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.pg.root / "instances" / self.name

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def archive(self) -> Path:
        return self.dir / "archive"

    @property
    def log(self) -> Path:
        return self.dir / "postgres.log"

    @property
    def socket(self) -> Path:
        return self.dir / f".s.PGSQL.{self.port}"

    # ---- making the data directory

    def _prepare(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.pg.mkdir(self.pg.root / "instances")
        self.pg.mkdir(self.dir)
        self.pg.mkdir(self.archive)
        self.pg.mkdir(self.dir / "backups")

    def create(self) -> None:
        """A new, empty cluster from the template. The template, a cleanly shut down data directory that
        never changes, is also this cluster's first base backup: its archive holds every WAL segment
        written since (the first one included), so archive recovery from the template's checkpoint
        reaches any time after the creation."""
        template = self.pg.template
        self._prepare()
        self.pg.copy_tree(template, self.data)
        self.configure()
        self.backups.append(Backup(template, datetime.now(timezone.utc)))

    def restore(self, backup: Path, *, archive: Path | None = None, target: datetime | None = None) -> None:
        """A cluster from a base backup: started as is (a snapshot), or recovered to ``target`` from
        ``archive`` (point in time)."""
        self._prepare()
        self.pg.copy_tree(backup, self.data)
        for stale in ("postmaster.pid", "standby.signal", "recovery.signal"):
            (self.data / stale).unlink(missing_ok=True)
        recovery: dict[str, str] = {}
        if archive is not None:
            recovery["restore_command"] = f"cp '{archive}/%f' '%p'"
            recovery["recovery_target_action"] = "promote"
            if target is not None:
                recovery["recovery_target_time"] = target.astimezone(timezone.utc).isoformat(sep=" ")
            signal_file = self.data / "recovery.signal"
            signal_file.write_text("")
            self.pg.run_as.own(signal_file)
        self.configure(recovery)

    def configure(self, recovery: dict[str, str] | None = None) -> None:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.dir),
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_command": f"test ! -f '{self.archive}/%f' && cp '%p' '{self.archive}/%f'",
            "shared_buffers": "16MB",
            "shared_preload_libraries": "pg_stat_statements",
            "fsync": "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
            **(recovery or {}),
        }
        conf = self.data / "pipeline-py.conf"
        conf.write_text("# written by pipeline-py's local RDS for every start\n"
                        + "".join(f"{k} = {quote_literal(v)}\n" for k, v in settings.items()))
        self.pg.run_as.own(conf)

    # ---- the process

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.pg.run(self.pg.program("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t",
                    str(int(timeout)), "start", timeout=timeout + 10, log=self.log)

    def wait_promoted(self, timeout: float = START_TIMEOUT) -> None:
        """After archive recovery: wait until the server left recovery (it promotes at the target)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                rows = self.sql("SELECT pg_is_in_recovery()")
                if rows and rows[0][0] is False:
                    return
            except Exception:  # still starting up: retried until the deadline
                if not self.running():
                    raise PostgresError(f"PostgreSQL stopped during recovery{_tail(self.log)}") from None
            if time.monotonic() > deadline:
                raise PostgresError(f"still recovering after {timeout:.0f}s{_tail(self.log)}")
            time.sleep(0.1)

    def stop(self, mode: str = "fast", timeout: float = 60.0) -> None:
        if not self.running():
            return
        try:
            self.pg.run(self.pg.program("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", str(int(timeout)),
                        "stop", timeout=timeout + 10, log=self.log)
        except PostgresError:
            pid = self.pid()
            if pid:
                try:
                    os.kill(pid, signal.SIGQUIT)  # immediate shutdown
                except ProcessLookupError:
                    pass

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return pid_alive(self.pid())

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- SQL over the socket, as rdsadmin

    def connect(self, database: str = "postgres", timeout: float = 5.0) -> Any:
        import pg8000.native

        return pg8000.native.Connection(ADMIN_USER, database=database, unix_sock=str(self.socket), timeout=timeout,
                                        application_name="rdsadmin")

    def sql(self, query: str, database: str = "postgres", **params: Any) -> list[list[Any]]:
        conn = self.connect(database)
        try:
            return conn.run(query, **params) or []
        finally:
            conn.close()

    def bootstrap(self, master_user: str, password: str, db_name: str | None) -> None:
        """What RDS creates: the master user (here a superuser) and its initial database."""
        user = quote_ident(master_user)
        self._untracked(f"CREATE ROLE {user} LOGIN SUPERUSER CREATEDB CREATEROLE PASSWORD {quote_literal(password)}",
                        *([f"CREATE DATABASE {quote_ident(db_name)} OWNER {user} STRATEGY = FILE_COPY"]
                          if db_name and db_name not in ("postgres", HEARTBEAT_DB) else []))

    def set_password(self, user: str, password: str) -> None:
        self._untracked(f"ALTER ROLE {quote_ident(user)} PASSWORD {quote_literal(password)}")

    def _untracked(self, *statements: str) -> None:
        """rdsadmin's own statements, kept out of ``pg_stat_statements`` (one carries a password)."""
        conn = self.connect()
        try:
            conn.run("SET pg_stat_statements.track_utility = off")
            for statement in statements:
                conn.run(statement)
        finally:
            conn.close()

    def connections(self) -> int:
        """Client connections, as RDS's ``DatabaseConnections`` counts them (this query's own excluded)."""
        rows = self.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                        "AND pid <> pg_backend_pid()")
        return int(rows[0][0]) if rows else 0

    # ---- backups and the archive

    def flush_archive(self, timeout: float = 30.0) -> None:
        """Commit a heartbeat and switch WAL segments, then wait until the finished segment is archived:
        everything committed until now can be recovered from the archive."""
        self.sql("INSERT INTO heartbeat VALUES (1, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET at = "
                 "clock_timestamp()", HEARTBEAT_DB)
        rows = self.sql("SELECT pg_walfile_name(pg_switch_wal())")
        segment = str(rows[0][0])
        deadline = time.monotonic() + timeout
        while not (self.archive / segment).is_file():
            if time.monotonic() > deadline:
                raise PostgresError(f"WAL segment {segment} was not archived within {timeout:.0f}s{_tail(self.log)}")
            time.sleep(0.05)

    def base_backup(self, dest: Path) -> Backup:
        """``pg_basebackup`` with the WAL it needs (``-X stream``): usable on its own, or as the start of
        an archive recovery."""
        if dest.exists():
            shutil.rmtree(dest)
        self.pg.mkdir(dest.parent)
        self.pg.run(self.pg.program("pg_basebackup"), "-h", str(self.dir), "-p", str(self.port), "-U", ADMIN_USER,
                    "-D", str(dest), "-X", "stream", "-c", "fast", "--no-sync", timeout=600, log=self.log)
        backup = Backup(dest, datetime.now(timezone.utc))
        return backup

    def automated_backup(self) -> Backup:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        backup = self.base_backup(self.dir / "backups" / stamp)
        self.backups.append(backup)
        return backup

    def backup_before(self, target: datetime) -> Backup | None:
        """The newest base backup that was consistent before ``target``."""
        candidates = [b for b in self.backups if b.end <= target]
        return max(candidates, key=lambda b: b.end) if candidates else None

    def status(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "dir": str(self.dir), "running": self.running(),
                "pid": self.pid(), "backups": [b.to_dict() for b in self.backups]}


def stop_all_under(root: Path) -> list[int]:
    """Stop every cluster whose data directory is under ``root`` (``local down`` after a crash of the
    server that started them); the pids signalled."""
    stopped = []
    for pidfile in root.glob("instances/*/data/postmaster.pid"):
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
            os.kill(pid, signal.SIGQUIT)
            stopped.append(pid)
        except (OSError, ValueError):
            continue
    return stopped
