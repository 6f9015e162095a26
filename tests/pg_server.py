"""A throwaway PostgreSQL + PostGIS server for tests: its own cluster in a temporary folder,
listening on a free loopback port, stopped and deleted afterwards.

Needs the Debian packages ``postgresql`` and the ``postgresql-<major>-postgis-3`` of its major
version (``make test`` installs them via ``scripts/install_system_deps.sh``).
:func:`unavailable_reason` says why a server cannot be started here (the tests skip with that
reason, which in CI or under ``make test`` is a failure: tests/skip_policy.py); it never fakes a
server.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user and
``initdb``/``pg_ctl`` run through ``runuser``; as any other user they run directly.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

INSTALL_HINT = ("install the Debian packages postgresql and postgresql-<major>-postgis-3 "
                "(as root: bash scripts/install_system_deps.sh, which `make test` runs)")

# Users the tests connect as: a superuser (trust) and one that must give a password, so that
# authentication failures can be tested against a real server.
PASSWORD_USER = "siteplan_pw"
PASSWORD = "s3cret-Pa55word"


def _bindirs() -> list[Path]:
    """PostgreSQL server binary folders, newest major version first.

    ``SITEPLAN_TEST_PG_BINDIR`` names the one folder to use instead (tests/test_skip_policy.py
    points it at an empty folder to show that a missing server fails CI instead of skipping).
    """
    override = os.environ.get("SITEPLAN_TEST_PG_BINDIR")
    if override:
        return [Path(override)] if (Path(override) / "initdb").exists() else []
    dirs = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    dirs.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    return dirs


def _has_postgis(bindir: Path) -> bool:
    """Whether the PostGIS extension is installed for the server in ``bindir``."""
    try:
        share = subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        major = bindir.parent.name
        share = f"/usr/share/postgresql/{major}"
    return (Path(share) / "extension" / "postgis.control").exists()


def find_bindir() -> tuple[Path | None, str]:
    """The server binary folder with PostGIS, or ``(None, reason)`` when there is none."""
    dirs = _bindirs()
    if not dirs:
        return None, f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}"
    for bindir in dirs:
        if (bindir / "pg_ctl").exists() and _has_postgis(bindir):
            return bindir, ""
    return None, f"PostgreSQL found in {dirs[0]} but without the PostGIS extension; {INSTALL_HINT}"


def unavailable_reason() -> str | None:
    """Why a throwaway PostGIS server cannot be started here, or None if it can."""
    bindir, reason = find_bindir()
    if bindir is None:
        return reason
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return ("running as root, and initdb refuses root, but there is no `postgres` user "
                    "to run it as (the postgresql package creates it)")
        if shutil.which("runuser") is None:
            return "running as root without `runuser` to start the server as `postgres`"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A running throwaway cluster.  Use :meth:`start` and :meth:`stop` (or ``with``)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # As root the server runs as `postgres`, which must reach the folder: /tmp always lets
        # it (a private $TMPDIR may not), and keeps the unix-socket path short.
        self.root = Path(tempfile.mkdtemp(prefix="siteplan-pg-",
                                          dir="/tmp" if os.geteuid() == 0 else None))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.startup_seconds = float("nan")
        self._as_postgres = os.geteuid() == 0
        self.user = "postgres" if self._as_postgres else pwd.getpwuid(os.geteuid()).pw_name

    # ------------------------------------------------------------------ process control

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})

    def _check(self, proc: subprocess.CompletedProcess[str], what: str) -> None:
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()}\n{log}")

    def start(self) -> PgServer:
        """Create the cluster, start it on a free loopback port and create PostGIS."""
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._check(self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user,
                              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"), "initdb")
        # The password user must authenticate; everyone else is trusted (loopback only).
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n")
        for attempt in range(3):
            self.port = _free_port()
            opts = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off")
            proc = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                             "-t", "60", "-o", opts, "start")
            if proc.returncode == 0:
                break
            if attempt == 2:  # the port may have been taken between choosing and binding
                self._check(proc, "pg_ctl start")
        self.psql("CREATE EXTENSION postgis;"
                  f"CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}';")
        return self

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Run SQL through psql on the unix socket; return its output (raise on error)."""
        proc = self._run("psql", "-h", str(self.root), "-p", str(self.port), "-U", self.user,
                         "-d", db, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql)
        self._check(proc, f"psql {sql[:60]!r}")
        return proc.stdout

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    def url(self, db: str = "postgres", user: str | None = None, password: str | None = None,
            query: str = "") -> str:
        """A ``postgresql://`` URL of this server (loopback TCP)."""
        auth = user or self.user
        if password is not None:
            auth += f":{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """Start a server for the duration of a ``with`` block (see :func:`unavailable_reason`)."""
    bindir, reason = find_bindir()
    if bindir is None:
        raise RuntimeError(reason)
    server = PgServer(bindir)
    t0 = time.perf_counter()
    try:
        server.start()
        server.startup_seconds = time.perf_counter() - t0
        yield server
    finally:
        server.stop()
