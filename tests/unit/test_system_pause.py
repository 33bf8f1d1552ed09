"""infra.system.System.paused: the bench's write-path-alone series stops the downstream
consumers with it, so it must really stop them and always resume them."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventkit.settings import Settings
from infra.system import System


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def wait_state(pid: int, want: str) -> str:
    for _ in range(100):
        if (now := state(pid)) == want:
            return now
        time.sleep(0.02)
    return state(pid)


@pytest.fixture
def system():
    sut = System(Settings())
    sut.procs["sleeper"] = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    yield sut
    sut.stop_all()


def test_paused_stops_the_roles_and_resumes_them(system):
    pid = system.pid("sleeper")
    with system.paused(("sleeper",)):
        assert wait_state(pid, "T") == "T"
    assert wait_state(pid, "S") == "S"


def test_paused_resumes_even_when_the_block_fails(system):
    pid = system.pid("sleeper")
    with pytest.raises(RuntimeError), system.paused(("sleeper",)):
        raise RuntimeError("a bench step failed")
    assert wait_state(pid, "S") == "S"
