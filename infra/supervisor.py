"""`make run`'s process runner: every Procfile role, its output prefixed with its name, and a
role that exits is started again after a backoff (1 s, doubling to 30 s; back to 1 s once it
has run for a minute), as docker-compose's `restart: unless-stopped` does. honcho, which ran
them before, stops every process when one dies.

Ctrl-C (SIGINT) or SIGTERM stops them all: SIGTERM to each role's process group, SIGKILL to
whatever is still there after STOP_GRACE seconds, so no process is left behind.
"""

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FIRST_DELAY, MAX_DELAY, STABLE_AFTER = 1.0, 30.0, 60.0
STOP_GRACE = 15.0


def backoff(failures: int, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait before the restart that follows `failures` quick exits in a row (1..)."""
    return min(cap, first * 2 ** (failures - 1))


def read_procfile(path: Path) -> dict[str, str]:
    roles = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            roles[name.strip()] = command.strip()
    return roles


@dataclass
class Role:
    name: str
    command: str
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0  # quick exits in a row
    restart_at: float | None = None
    readers: list[threading.Thread] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        roles: dict[str, str],
        cwd: Path,
        env: dict[str, str] | None = None,
        first_delay: float = FIRST_DELAY,
        stable_after: float = STABLE_AFTER,
    ):
        self.roles = {name: Role(name, command) for name, command in roles.items()}
        self.cwd, self.env = cwd, env
        self.first_delay, self.stable_after = first_delay, stable_after
        self.width = max(map(len, roles), default=0)
        self.stopping = threading.Event()
        self.out = threading.Lock()

    def say(self, name: str, line: str) -> None:
        with self.out:
            sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {line}\n")
            sys.stdout.flush()

    def start(self, role: Role) -> None:
        # A session of its own: Ctrl-C reaches only the supervisor, which stops the roles in
        # order, and a role's children are stopped with it (its process group).
        role.proc = proc = subprocess.Popen(
            shlex.split(role.command),
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        role.started, role.restart_at = time.monotonic(), None
        reader = threading.Thread(target=self._pump, args=(role.name, proc), daemon=True)
        reader.start()
        role.readers = [reader]
        self.say("supervisor", f"started {role.name} (pid {proc.pid})")

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        for raw in proc.stdout or ():  # stdout=PIPE: always a stream
            self.say(name, raw.decode(errors="replace").rstrip("\n"))

    def _exited(self, role: Role, proc: subprocess.Popen[bytes], now: float) -> None:
        code = proc.returncode
        _signal_group(proc.pid, signal.SIGKILL)  # whatever it started goes with it
        ran = now - role.started
        role.failures = 1 if ran >= self.stable_after else role.failures + 1
        delay = backoff(role.failures, self.first_delay)
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        self.say(
            "supervisor",
            f"{role.name} {how} after {ran:.1f}s; restarting it in "
            f"{delay:g}s (quick exits in a row: {role.failures})",
        )
        role.proc, role.restart_at = None, now + delay

    def tick(self) -> None:
        """One pass: notice exits, restart what is due."""
        now = time.monotonic()
        for role in self.roles.values():
            if role.proc is not None and role.proc.poll() is not None:
                self._exited(role, role.proc, now)
            elif role.proc is None and role.restart_at is not None and now >= role.restart_at:
                self.start(role)
                self.say("supervisor", f"restarted {role.name}")

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: self.stopping.set())
        try:
            for role in self.roles.values():
                self.start(role)
            while not self.stopping.wait(0.2):
                self.tick()
        finally:
            self.stop_all()
        return 0

    def stop_all(self) -> None:
        running = [(r, r.proc) for r in self.roles.values() if r.proc is not None]
        self.say("supervisor", f"stopping {len(running)} processes")
        for _, proc in running:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for role, proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("supervisor", f"{role.name} ignored SIGTERM; killing it")
            # The group too: a role's own children may outlive it.
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
            for reader in role.readers:
                reader.join(timeout=2)
        self.say("supervisor", "all stopped")


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main(procfile: Path, cwd: Path) -> int:
    return Supervisor(read_procfile(procfile), cwd).run()


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else root / "Procfile", root))
