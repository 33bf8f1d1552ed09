"""py-spy on a running process (sampling, no code change): records collapsed stacks while load
runs, then sums self time and inclusive time per function."""

import collections
import shutil
import subprocess
import sys
from pathlib import Path


def py_spy() -> str:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else (shutil.which("py-spy") or "py-spy")


# Leaf frames that mean "waiting": the uvloop loop (Cython, so its epoll wait and any C-level
# work such as asyncpg's protocol parsing show as the Python frame that called it), idle
# threads. Shares below are of the remaining, Python-busy samples.
IDLE = {
    "Runner.run",
    "run",
    "run_until_complete",
    "run_forever",
    "Condition.wait",
    "wait",
    "select",
    "_worker",
}


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            py_spy(),
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "100",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise(raw: Path, top: int = 15) -> dict:
    """Top functions by self samples and by inclusive samples (share of all samples)."""
    self_: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";")]
        if frames[-1].split(" ")[0] in IDLE:
            idle += n
            continue
        total += n
        self_[frames[-1]] += n
        for f in set(frames):
            incl[f] += n

    def rows(counter):
        return [{"function": f, "share": c / total} for f, c in counter.most_common(top)]

    return {
        "samples": total + idle,
        "idle_or_native_share": idle / max(total + idle, 1),
        "busy_samples": total,
        "self": rows(self_) if total else [],
        "inclusive": rows(incl) if total else [],
    }


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    parts = where.split("/")
    where = (
        "/".join(parts[-2:])
        if "site-packages" not in where
        else "/".join(parts[parts.index("site-packages") + 1 :][:2])
    )
    return f"{name} ({where})"
