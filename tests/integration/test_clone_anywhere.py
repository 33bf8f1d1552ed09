"""A clone anywhere works: root's clone inside a `chmod 700` directory (as any clone under /root
is) starts its native PostgreSQL although the server runs as the `postgres` user, who cannot
enter that directory. And a second clone whose port that server holds is told which clone holds
it and how to stop it.

The clone is of this working tree (its tracked and new files), on a port and cache dir of its
own, so the session's servers are untouched."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from infra.system import free_port

ROOT = Path(__file__).resolve().parents[2]


def clone_into(parent: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    clone = parent / "coinstream"
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    return clone


def in_clone(clone: Path, port: int, code: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COINSTREAM_") and k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env.update(COINSTREAM_POSTGRES_PORT=str(port), **extra)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def private_clone(tmp_path_factory):
    """A clone in a 700 directory whose native PostgreSQL runs on a port of its own."""
    private = tmp_path_factory.mktemp("private") / "x"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    clone, port = clone_into(private), free_port()
    started = in_clone(
        clone,
        port,
        "import infra; from infra import postgres;"
        " postgres.start(); print(infra.__file__);"
        " print(postgres.home())",
    )
    home = Path(started.stdout.strip().splitlines()[-1]) if started.returncode == 0 else None
    try:
        yield clone, port, started, home
    finally:
        in_clone(clone, port, "from infra import postgres; postgres.forget()")
        assert not (home and home.exists() and not home.is_relative_to(clone)), (
            f"forget left {home}"
        )


async def test_a_clone_in_a_700_directory_starts_its_native_postgres(private_clone):
    clone, port, started, home = private_clone
    assert started.returncode == 0, started.stdout + started.stderr
    assert started.stdout.splitlines()[-2] == str(clone / "infra" / "__init__.py")
    if os.geteuid() == 0:  # the server's user cannot enter the clone: its cluster is elsewhere
        assert not home.is_relative_to(clone)
        assert str(home) in (clone / ".cache" / "postgres" / "WHERE").read_text()
    conn = await asyncpg.connect(f"postgresql://coinstream:coinstream@127.0.0.1:{port}/postgres")
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
    again = in_clone(
        clone, port, "from infra import postgres; postgres.start(); print(postgres.status())"
    )
    assert again.returncode == 0 and "running" in again.stdout, again.stdout + again.stderr


def test_another_clone_on_the_same_port_is_told_who_holds_it_and_how_to_stop_it(
    private_clone, tmp_path
):
    clone, port, started, _ = private_clone
    assert started.returncode == 0, started.stderr
    # This working tree plays the other clone, with a cache dir of its own: `make up` there.
    other = in_clone(
        ROOT,
        port,
        "import sys; sys.argv = ['infra', 'up']; from infra.__main__ import main; main()",
        COINSTREAM_CACHE=str(tmp_path / "cache"),
    )
    assert other.returncode != 0
    assert f"postgres: port {port} is taken by the postgres of the clone {clone}" in other.stderr, (
        other.stderr
    )
    assert f"cd {clone} && make down" in other.stderr, other.stderr
