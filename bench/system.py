"""The system under load, started on its own database/topic prefix (like tests/support/system.py)
so a benchmark never touches the default `coinstream_*` databases of a running `make run`."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from eventkit.db import migrate
from eventkit.kafka import create_topics
from eventkit.settings import Settings
from infra.__main__ import SERVICES

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".cache" / "bench-logs"


def bench_settings(prefix: str | None = None) -> Settings:
    """Settings from the environment, but on a private prefix (`bench<random>`)."""
    prefix = prefix or f"bench{uuid.uuid4().hex[:8]}"
    return Settings(db_prefix=prefix, topic_prefix=f"{prefix}.")


def server_url(settings: Settings, database: str) -> str:
    return settings.database_for("x").rsplit("/", 1)[0] + f"/{database}"


async def prepare(settings: Settings) -> None:
    for service in SERVICES:
        await migrate(settings.database_for(service), ROOT / "services" / service / "migrations")
    await create_topics(settings)


async def drop(settings: Settings, extra_databases: tuple[str, ...] = ()) -> None:
    """Drops this prefix's databases and topics (and only those)."""
    assert settings.db_prefix != "coinstream", "refusing to drop the default databases"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
    conn = await asyncpg.connect(server_url(settings, "postgres"))
    try:
        for name in (*(f"{settings.db_prefix}_{s}" for s in SERVICES), *extra_databases):
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _procfile() -> dict[str, str]:
    roles = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            roles[name.strip()] = command.strip()
    return roles


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    s = settings
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "DATABASE_URL": s.database_url, "DB_PREFIX": s.db_prefix,
            "TOPIC_PREFIX": s.topic_prefix, "JWT_SECRET": s.jwt_secret,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra}


class System:
    """Every Procfile role as a subprocess; HTTP ports are picked free."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.ports = {svc: free_port() for svc in ("recharge", "gifting", "payout")}
        self.procs: dict[str, subprocess.Popen] = {}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, timeout: float = 120) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        env = child_env(self.settings, **{f"{s.upper()}_PORT": str(p)
                                          for s, p in self.ports.items()})
        for role, command in _procfile().items():
            log = open(LOGS / f"{self.settings.db_prefix}-{role}.log", "ab")
            self.procs[role] = subprocess.Popen(
                [sys.executable if w == "python" else w for w in command.split()], cwd=ROOT,
                env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        for service in self.ports:
            while True:
                for role, proc in self.procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(f"{role} exited with {proc.returncode}; see {LOGS}")
                try:
                    if httpx.get(f"{self.url(service)}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} did not answer within {timeout}s")
                time.sleep(0.3)

    def pid(self, role: str) -> int:
        return self.procs[role].pid

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, all threads) each role has used so far, from /proc."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {}
        for role, proc in self.procs.items():
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                used[role] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                pass
        return used

    def stop(self) -> None:
        for role in list(self.procs):
            proc = self.procs.pop(role)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def run(coro):
    return asyncio.run(coro)
