"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, started with pg_ctl on a
free loopback port (no fsync: nothing here needs to survive a crash of the machine), stopped and deleted at
the end. Each test gets a fresh database of its own, copied from a template with the store's tables, owned
by a role with a password (which must never show in a message). As root the cluster runs as the `postgres`
user (initdb refuses root), in a folder that user owns."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from itertools import count
from pathlib import Path

ROLE, PASSWORD = "huashu", "s3cret-pw-7f2"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's /usr/lib/postgresql/N/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for folder in reversed(found):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb and shutil.which("pg_ctl") else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="huashu-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._names = count(1)
        self._shared: str | None = None
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr or result.stdout}\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def freeze(self, frozen: bool) -> None:
        """Stop (SIGSTOP) or resume (SIGCONT) the server and every process of it: up, its sockets open, but not
        answering (a hung host, a paused VM)."""
        import signal

        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
        for pid in [postmaster, *map(int, children)]:
            try:
                os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)
            except ProcessLookupError:
                pass

    def url(self, database: str, user: str = ROLE, password: str | None = PASSWORD) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self):
        """A superuser connection in autocommit mode (close it after use)."""
        import psycopg

        return psycopg.connect(self.url("postgres", "postgres", None), autocommit=True)

    def prepare(self) -> None:
        """The application role and a template database holding the store's tables."""
        from service.store.migrations.postgres import migrate

        import psycopg

        with self.admin() as admin:
            admin.execute(f"create role {ROLE} login password '{PASSWORD}'")
            admin.execute(f"create database huashu_template owner {ROLE}")
        with psycopg.connect(self.url("huashu_template")) as conn:
            migrate(conn)

    def database(self, empty: bool = False) -> str:
        """A new database (a copy of the template with the store's tables, or `empty`); its URL. Creating
        one takes about 0.3 s: the tests share one, emptied (`fresh`)."""
        name = f"t{next(self._names)}_{int(time.time() * 1000) % 100000}"
        with self.admin() as admin:
            template = "template0" if empty else "huashu_template"
            admin.execute(f"create database {name} owner {ROLE} template {template}")
        return self.url(name)

    def fresh(self) -> str:
        """The shared test database with its tables emptied and their ids starting again at 1 (as a new
        SQLite file would have them), in a few milliseconds; its URL."""
        import psycopg

        if self._shared is None:
            self._shared = self.database()
        with psycopg.connect(self._shared, autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "select tablename from pg_tables where schemaname = 'public' and tablename <> 'huashu_migrations'")]
            conn.execute(f"truncate {', '.join(tables)} restart identity")
        return self._shared

    def terminate(self, database: str) -> None:
        """End every session on the database (as a server restart or a network cut would)."""
        with self.admin() as admin:
            admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()", [database])

    def close(self) -> None:
        try:
            self.stop()
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
