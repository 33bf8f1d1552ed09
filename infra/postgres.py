"""A private PostgreSQL cluster (Debian's server binaries) under .cache/postgres on its own port.

initdb/postgres refuse to run as root, so as root the cluster belongs to the `postgres` user the
Debian package creates (via runuser); as any other user it belongs to that user.
"""

import glob
import os
import shutil
import subprocess
import sys
import time

from infra.paths import CACHE, POSTGRES_PASSWORD, POSTGRES_PORT, POSTGRES_USER
from infra.proc import exists, log_tail, pid_alive, port_open

HOME = CACHE / "postgres"
DATA = HOME / "data"
LOG = HOME / "postgres.log"
SERVICE_DATABASES = ("recharge", "gifting", "payout", "projections")


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("postgres: installing Debian's postgresql package ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True, env=env)
        return _bindir()
    sys.exit("postgres: no server found under /usr/lib/postgresql/*/bin. Install it with\n"
             "  sudo apt-get install -y postgresql\n"
             "or point DATABASE_URL at an existing server.")


def _as_owner(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, **kw)


def _init(bindir: str) -> None:
    if (DATA / "PG_VERSION").exists():
        return
    HOME.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(HOME, "postgres", "postgres")
    pwfile = HOME / ".pw"
    pwfile.write_text(POSTGRES_PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    _as_owner([f"{bindir}/initdb", "-D", str(DATA), "-U", POSTGRES_USER, f"--pwfile={pwfile}",
               "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
              check=True, stdout=subprocess.DEVNULL)
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
    if (DATA / "postmaster.pid").exists() and pid_alive(DATA / "postmaster.pid"):
        return
    if port_open(POSTGRES_PORT):
        sys.exit(f"postgres: port {POSTGRES_PORT} is taken by another process; "
                 "set COINSTREAM_POSTGRES_PORT or DATABASE_URL")
    _init(bindir)
    if os.geteuid() == 0:
        LOG.touch()
        shutil.chown(LOG, "postgres", "postgres")
    _as_owner([f"{bindir}/pg_ctl", "-D", str(DATA), "-l", str(LOG), "-w", "-t",
               str(int(wait_seconds)), "start"], check=False, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + wait_seconds
    while not port_open(POSTGRES_PORT):
        if time.monotonic() > deadline:
            sys.exit(f"postgres: did not start; log tail:\n{log_tail(LOG)}")
        time.sleep(0.3)
    print(f"postgres: ready on 127.0.0.1:{POSTGRES_PORT} as {POSTGRES_USER} (log {LOG})",
          flush=True)


def stop() -> None:
    if not (DATA / "postmaster.pid").exists():
        return
    _as_owner([f"{_bindir()}/pg_ctl", "-D", str(DATA), "-m", "fast", "-w", "stop"],
              check=False, stdout=subprocess.DEVNULL)
    print("postgres: stopped", flush=True)


def status() -> str:
    pid = pid_alive(DATA / "postmaster.pid")
    return f"postgres: running (pid {pid}) on 127.0.0.1:{POSTGRES_PORT}" if pid else \
        "postgres: stopped"


def crash() -> None:
    """SIGKILL the server and its backends (fault injection); `start()` recovers from WAL."""
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

