"""A private PostgreSQL cluster (Debian's server binaries) under .cache/postgres on its own port.

initdb/postgres refuse to run as root, so as root the cluster belongs to the `postgres` user the
Debian package creates (via runuser); as any other user it belongs to that user. That user must
be able to enter the cluster's directory: when root's clone sits in a directory the `postgres`
user cannot enter (a clone under /root, or under any `chmod 700` directory), the cluster lives
in /var/lib/coinstream/<clone>-<hash of the cache dir> instead, one per cache dir, and
`.cache/postgres` then holds only a note saying where.
"""

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from infra.owner import mark, port_taken
from infra.paths import CACHE, POSTGRES_PASSWORD, POSTGRES_PORT, POSTGRES_USER
from infra.proc import exists, log_tail, pid_alive, port_open

INSIDE = CACHE / "postgres"
OUTSIDE = Path("/var/lib/coinstream")  # reachable by the postgres user (0755 root)
SERVICE_DATABASES = ("recharge", "gifting", "payout", "projections")


def home_for(cache: Path, as_root: bool, postgres_can_enter_cache: bool) -> Path:
    """Where a cache dir's cluster lives (pure: the decision apart from the checks)."""
    if not as_root or postgres_can_enter_cache:
        return cache / "postgres"
    digest = hashlib.sha256(str(cache.resolve()).encode()).hexdigest()[:10]
    return OUTSIDE / f"{cache.resolve().parent.name or 'root'}-{digest}"


def _postgres_can_enter(path: Path) -> bool:
    """Whether the postgres user can reach `path` (search permission on it and every parent):
    the cluster's own directory in it is then made for and handed to that user."""
    return (
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-x", str(path)], cwd="/", check=False
        ).returncode
        == 0
    )


@functools.cache
def home() -> Path:
    if (INSIDE / "data" / "PG_VERSION").exists():  # a cluster made here stays here
        return INSIDE
    as_root = os.geteuid() == 0
    if as_root:
        CACHE.mkdir(parents=True, exist_ok=True)
    return home_for(CACHE, as_root, as_root and _postgres_can_enter(CACHE))


def data() -> Path:
    return home() / "data"


def log() -> Path:
    return home() / "postgres.log"


def _bindir() -> str:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return os.path.dirname(found[-1])
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("postgres: installing Debian's postgresql package ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True, env=env)
        return _bindir()
    sys.exit(
        "postgres: no server found under /usr/lib/postgresql/*/bin. Install it with\n"
        "  sudo apt-get install -y postgresql\n"
        "or point DATABASE_URL at an existing server."
    )


def _as_owner(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        # From "/": initdb and pg_ctl look up their working directory, which the postgres user
        # may not be allowed to enter.
        cmd, kw = ["runuser", "-u", "postgres", "--", *cmd], {"cwd": "/", **kw}
    return subprocess.run(cmd, **kw)


def _init(bindir: str) -> None:
    HOME, DATA = home(), data()
    if (DATA / "PG_VERSION").exists():
        return
    if HOME != INSIDE:
        OUTSIDE.mkdir(parents=True, exist_ok=True)
        OUTSIDE.chmod(0o755)  # whatever the umask: the postgres user must enter it
        INSIDE.mkdir(parents=True, exist_ok=True)
        (INSIDE / "WHERE").write_text(
            f"The postgres user cannot enter {CACHE}, so this cache dir's cluster is in\n"
            f"{HOME}\n(`make down` stops it; delete that directory to forget its data).\n"
        )
        print(
            f"postgres: the postgres user cannot enter {CACHE}; the cluster lives in {HOME}",
            flush=True,
        )
    HOME.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(HOME, "postgres", "postgres")
        HOME.chmod(0o700)
    pwfile = HOME / ".pw"
    pwfile.write_text(POSTGRES_PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    _as_owner(
        [
            f"{bindir}/initdb",
            "-D",
            str(DATA),
            "-U",
            POSTGRES_USER,
            f"--pwfile={pwfile}",
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pwfile.unlink()
    with open(DATA / "postgresql.conf", "a") as conf:
        conf.write(
            "\n# coinstream private cluster\n"
            f"port = {POSTGRES_PORT}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{DATA}'\nmax_connections = 300\n"
            "shared_buffers = 256MB\nlogging_collector = off\n"
        )


def start(wait_seconds: float = 60) -> None:
    bindir = _bindir()
    DATA, LOG = data(), log()
    if (DATA / "postmaster.pid").exists() and pid_alive(DATA / "postmaster.pid"):
        return
    if port_open(POSTGRES_PORT):
        sys.exit(
            port_taken(
                "postgres",
                POSTGRES_PORT,
                "COINSTREAM_POSTGRES_PORT (or DATABASE_URL to use a running server)",
            )
        )
    _init(bindir)
    mark(home())
    if os.geteuid() == 0:
        LOG.touch()
        shutil.chown(LOG, "postgres", "postgres")
    _as_owner(
        [
            f"{bindir}/pg_ctl",
            "-D",
            str(DATA),
            "-l",
            str(LOG),
            "-w",
            "-t",
            str(int(wait_seconds)),
            "start",
        ],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    _wait_open(POSTGRES_PORT, wait_seconds, LOG, "postgres")
    print(
        f"postgres: ready on 127.0.0.1:{POSTGRES_PORT} as {POSTGRES_USER} (log {LOG})", flush=True
    )


def _wait_open(port: int, wait_seconds: float, log: Path, what: str) -> None:
    deadline = time.monotonic() + wait_seconds
    while not port_open(port):
        if time.monotonic() > deadline:
            sys.exit(f"{what}: did not start; log tail:\n{log_tail(log)}")
        time.sleep(0.3)


def _stop(data_dir: Path, what: str) -> None:
    if not (data_dir / "postmaster.pid").exists():
        return
    _as_owner(
        [f"{_bindir()}/pg_ctl", "-D", str(data_dir), "-m", "fast", "-w", "stop"],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    print(f"{what} stopped", flush=True)


def stop() -> None:
    _stop(data(), "postgres:")


def forget() -> None:
    """Stops the cluster and deletes a cluster kept outside the cache dir (deleting the cache
    dir deletes the rest)."""
    stop()
    if home() != INSIDE:
        shutil.rmtree(home(), ignore_errors=True)
        print(f"postgres: deleted {home()}", flush=True)


def status() -> str:
    pid = pid_alive(data() / "postmaster.pid")
    return (
        f"postgres: running (pid {pid}) on 127.0.0.1:{POSTGRES_PORT}, data in {data()}"
        if pid
        else "postgres: stopped"
    )


def crash() -> None:
    """SIGKILL the server and its backends (fault injection); `start()` recovers from WAL."""
    DATA = data()
    pid = pid_alive(DATA / "postmaster.pid")
    if not pid:
        return
    subprocess.run(["pkill", "-9", "-P", str(pid)], check=False)
    os.kill(pid, 9)
    while pid_alive(DATA / "postmaster.pid") or port_open(POSTGRES_PORT):
        time.sleep(0.05)
    # Dead but maybe not yet reaped by init: PostgreSQL would take the zombie's pid in the lock
    # file for a live server and refuse to start, so the stale lock file goes.
    deadline = time.monotonic() + 5
    while exists(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if exists(pid):
        (DATA / "postmaster.pid").unlink(missing_ok=True)


# --- A streaming standby (`make cluster`): a hot copy for readers on its own port ------------
# pg_basebackup -R copies the primary and writes the standby's primary_conninfo (as the
# cluster's superuser, allowed by initdb's `host replication` line); it replays the primary's
# WAL from then on and answers read-only queries (the analysts' views, the read API).

# Seconds the standby's replay is behind the primary: 0 when it has replayed all it received
# (an idle primary writes nothing to wait for), else the age of the last replayed transaction.
REPLAY_LAG_SQL = (
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8"
)


def standby_home() -> Path:
    return home().with_name(f"{home().name}-standby")


def _standby_data() -> Path:
    return standby_home() / "data"


def start_standby(port: int, wait_seconds: float = 60) -> None:
    """Starts the standby of the running primary on `port` (copied from it the first time)."""
    bindir, sdata = _bindir(), _standby_data()
    slog = standby_home() / "postgres.log"
    if pid_alive(sdata / "postmaster.pid"):
        return
    if port_open(port):
        sys.exit(port_taken("postgres standby", port, "COINSTREAM_CLUSTER_STANDBY_PORT"))
    if not (sdata / "PG_VERSION").exists():
        standby_home().mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(standby_home(), "postgres", "postgres")
            standby_home().chmod(0o700)
        primary = (
            f"host=127.0.0.1 port={POSTGRES_PORT} user={POSTGRES_USER} "
            f"password={POSTGRES_PASSWORD} application_name=standby"
        )
        _as_owner(
            [f"{bindir}/pg_basebackup", "-D", str(sdata), "-R", "-X", "stream", "-c", "fast"]
            + ["-d", primary],
            check=True,
        )
        with open(sdata / "postgresql.conf", "a") as conf:  # the last setting of a name wins
            conf.write(
                "\n# coinstream streaming standby\n"
                f"port = {port}\nunix_socket_directories = '{sdata}'\n"
                "hot_standby = on\nhot_standby_feedback = on\n"
            )
    if os.geteuid() == 0:
        slog.touch()
        shutil.chown(slog, "postgres", "postgres")
    _as_owner(
        [f"{bindir}/pg_ctl", "-D", str(sdata), "-l", str(slog), "-w"]
        + ["-t", str(int(wait_seconds)), "start"],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    _wait_open(port, wait_seconds, slog, "postgres standby")
    print(f"postgres: standby of :{POSTGRES_PORT} ready on 127.0.0.1:{port} (log {slog})")


def stop_standby() -> None:
    _stop(_standby_data(), "postgres: standby")
