"""The whole system as real processes (the Procfile's roles), for end-to-end tests, chaos runs
and benchmarks.

Each role can be SIGKILLed and restarted alone. Every process gets the namespace's database and
topic prefixes, so the system under test shares nothing with a running `make run`.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from eventkit.auth import jwks_url
from eventkit.settings import SERVICES, Settings

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / ".cache" / "system-logs"


def procfile() -> dict[str, str]:
    roles = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            roles[name.strip()] = command.strip()
    return roles


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a role runs with: the namespace's settings and this venv's python."""
    s = settings
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
        "DATABASE_URL": s.database_url,
        "DB_PREFIX": s.db_prefix,
        "TOPIC_PREFIX": s.topic_prefix,
        "JWT_JWKS_URL": jwks_url(s),  # the JWKS the tests' tokens are minted for
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **extra,
    }


class System:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.roles = procfile()
        self.ports = {svc: free_port() for svc in SERVICES}
        self.metrics_port = free_port()  # the projections worker's /metrics
        # Every other relay/consumer/worker's /metrics too, so two systems on one host (tests
        # in parallel, `make run`) never answer for each other (eventkit.metrics).
        self.metrics_ports = {
            name.upper(): free_port()
            for name in Settings.model_fields
            if name.endswith("_metrics_port") and name != "projections_metrics_port"
        }
        self.procs: dict[str, subprocess.Popen] = {}
        LOGS.mkdir(parents=True, exist_ok=True)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def env(self) -> dict[str, str]:
        return child_env(
            self.settings,
            PROJECTIONS_METRICS_PORT=str(self.metrics_port),
            **{name: str(port) for name, port in self.metrics_ports.items()},
            **{f"{svc.upper()}_PORT": str(p) for svc, p in self.ports.items()},
        )

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

    def start(self, role: str) -> None:
        log = open(LOGS / f"{self.settings.db_prefix}-{role}.log", "ab")
        self.procs[role] = subprocess.Popen(
            self.roles[role].split(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def kill(self, role: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(role)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    @contextmanager
    def paused(self, roles: tuple[str, ...]) -> Iterator[None]:
        """SIGSTOPs these roles for the block and SIGCONTs them after (the bench measures the
        write path alone this way; the paused consumers catch up once resumed)."""
        for role in roles:
            os.killpg(self.procs[role].pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for role in roles:
                os.killpg(self.procs[role].pid, signal.SIGCONT)

    def restart(self, role: str) -> None:
        self.kill(role)
        self.start(role)

    def start_all(self, timeout: float = 90) -> None:
        for role in self.roles:
            self.start(role)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90) -> None:
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
                    raise TimeoutError(f"{service} did not answer /healthz within {timeout}s")
                time.sleep(0.3)

    def stop_all(self) -> None:
        for role in list(self.procs):
            proc = self.procs.pop(role)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except ProcessLookupError:  # already gone
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
