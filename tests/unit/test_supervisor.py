"""infra.supervisor, `make run`'s runner: a role that dies comes back (after a backoff, saying
so), and Ctrl-C stops every role and whatever the roles started, leaving no process."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from infra.supervisor import backoff

ROOT = Path(__file__).resolve().parents[2]
# A role that starts a child of its own (as uvicorn or faust may), then waits.
ROLE = (
    '{python} -c "import os, subprocess, time; '
    "c = subprocess.Popen(['sleep', '600']); "
    "print('child', c.pid, flush=True); time.sleep(600)\""
)


def test_backoff_doubles_from_one_second_up_to_thirty():
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


class Lines:
    """The supervisor's output, collected by a thread; waits until a pattern has matched."""

    def __init__(self, proc: subprocess.Popen):
        self.seen: list[str] = []
        threading.Thread(target=lambda: self.seen.extend(proc.stdout), daemon=True).start()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30) -> list[re.Match]:
        """The first `count` matches of `pattern` in everything printed so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for line in list(self.seen) if (m := re.search(pattern, line))]
            if len(found) >= count:
                return found[:count]
            time.sleep(0.05)
        raise AssertionError(f"{count} x {pattern!r} not in:\n{''.join(self.seen)}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def supervised(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"web: {ROLE.format(python=sys.executable)}\nworker: {ROLE.format(python=sys.executable)}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.supervisor", str(procfile)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc, Lines(proc)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_killed_role_is_restarted_and_ctrl_c_leaves_no_process(supervised):
    proc, out = supervised
    web, worker = (
        int(out.wait_for(rf"started {role} \(pid (\d+)\)")[0][1]) for role in ("web", "worker")
    )
    web_child, worker_child = (
        int(out.wait_for(rf"{role} +\| child (\d+)")[0][1]) for role in ("web", "worker")
    )

    os.kill(web, signal.SIGKILL)
    out.wait_for(r"web killed by signal 9 after [\d.]+s; restarting it in 1s")
    again = int(out.wait_for(r"started web \(pid (\d+)\)", count=2)[1][1])
    out.wait_for(r"restarted web")
    again_child = int(out.wait_for(r"web +\| child (\d+)", count=2)[1][1])
    assert again != web and alive(again) and alive(worker)
    assert not alive(web_child), "the dead role's own child outlived it"

    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert proc.wait(timeout=30) == 0
    for pid in (again, worker, again_child, worker_child):
        assert not alive(pid), f"pid {pid} outlived the supervisor"
