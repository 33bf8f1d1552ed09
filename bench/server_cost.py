"""CPU per gift of gifting-api behind each HTTP server: `python -m bench.server_cost`.

bench.api_cost measures the app over raw ASGI; this one puts the server back: gifting-api is
started as its own process (eventkit.service.serve, as `python -m services.gifting api` runs
it) under uvicorn and under granian in turn, on a private database (`bench<random>_gifting`,
dropped at the end), and vegeta offers it gifts at a fixed rate for a fixed time. The figure
is the server process's CPU (its /proc ticks) and its PostgreSQL backends' per accepted gift,
rounds alternating between the servers so a shared machine's drift falls on both. Each round
ends with SIGTERM, and the process must end on its own within 20 s (lifespan shutdown): the supervisor
and the chaos tests stop APIs that way.
"""

import argparse
import asyncio
import importlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

import httpx
import uvloop

from bench import cost, load, vegeta
from bench.api_cost import ROOT, _drop, _fund, _own_backend_ticks
from bench.system import bench_settings
from eventkit.auth import mint_token
from eventkit.db import migrate
from infra import secrets

SERVERS = ("uvicorn", "granian", "granian-rust")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(server: str, prefix: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.server_cost", "--serve", server, "--prefix", prefix],
        env={**os.environ, "GIFTING_PORT": str(port)},
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{server} exited {proc.returncode} before it was ready")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{server} not ready in 60 s")


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


def _round(server: str, args, settings, plan_for, binary: str) -> tuple[float, float, float, str]:
    """(server ms, PostgreSQL backends ms per accepted gift, accepted share, the statuses and
    errors) of one round."""
    port = _free_port()
    proc = _start(server, settings.db_prefix, port)
    try:
        url = f"http://127.0.0.1:{port}/v1/gifts"
        vegeta.attack(plan_for(url, args.warmup), binary)
        procs = cost.scan()
        before, db_before = cost.tree_ticks(procs, proc.pid), _own_backend_ticks(settings.db_prefix)
        out = vegeta.attack(plan_for(url, args.duration), binary)
        procs = cost.scan()
        after, db_after = cost.tree_ticks(procs, proc.pid), _own_backend_ticks(settings.db_prefix)
        assert before is not None and after is not None, "the server died mid-round"
    finally:
        code = _stop(proc)
    if code not in (0, -signal.SIGTERM):  # uvicorn re-raises the signal once it has shut down
        raise RuntimeError(f"{server} exited {code} on SIGTERM (not a graceful shutdown)")
    n = max(out.accepted, 1)
    return (
        (after - before) * 1000 / cost.TICK / n,
        (db_after - db_before) * 1000 / cost.TICK / n,
        out.accepted / max(out.offered, 1),
        f"statuses {dict(sorted(out.statuses.items()))}, errored {out.errored}",
    )


def measure(args) -> None:
    binary = vegeta.binary()
    if not binary:
        raise SystemExit("vegeta is needed (bench/vegeta.py builds it with Go)")
    settings = bench_settings()
    secrets.ensure(settings)
    asyncio.run(migrate(settings, "gifting", ROOT / "services" / "gifting" / "migrations"))
    try:
        fans = [f"fan-{i}" for i in range(args.fans)]
        creators = [f"creator-{i}" for i in range(args.creators)]
        asyncio.run(_fund(settings, fans, 10**9))
        tokens = [(u, mint_token(settings, u)) for u in fans]
        port = _free_port()
        proc = _start("uvicorn", settings.db_prefix, port)
        try:  # a creator's first wallet read registers them as a user
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
                for c in creators:
                    auth = {"authorization": f"Bearer {mint_token(settings, c)}"}
                    assert http.get("/v1/wallet", headers=auth).status_code == 200
        finally:
            _stop(proc)
        seeds = iter(range(1, 10**6))

        def plan_for(url: str, duration: float) -> load.Plan:
            return load.Plan(
                url=url,
                rate=args.rate,
                duration=duration,
                start_at=time.time(),
                fan_tokens=tokens,
                creators=creators,
                connections=args.connections,
                seed=next(seeds),
            )

        figures: dict[str, list[tuple[float, float, float, str]]] = {s: [] for s in args.servers}
        for r in range(args.rounds):
            order = args.servers if r % 2 == 0 else args.servers[::-1]
            for server in order:
                f = _round(server, args, settings, plan_for, binary)
                figures[server].append(f)
                print(
                    f"  round {r + 1} {server}: server {f[0] * 1000:.0f} µs/gift, "
                    f"PostgreSQL backends {f[1] * 1000:.0f} µs/gift, accepted {f[2]:.1%} ({f[3]})",
                    flush=True,
                )
        for server, rows in figures.items():
            print(
                f"{server}: median server {statistics.median(r[0] for r in rows) * 1000:.0f} µs "
                f"CPU per gift, PostgreSQL backends "
                f"{statistics.median(r[1] for r in rows) * 1000:.0f} µs ({args.rate}/s for "
                f"{args.duration} s, {len(rows)} rounds, {args.connections} connections)"
            )
    finally:
        asyncio.run(_drop(settings))


def _serve(server: str, prefix: str) -> None:
    from eventkit.service import configure_logging, serve
    from services.gifting.api import create

    settings = bench_settings(prefix)
    configure_logging(settings, f"gifting-api-{server}")
    app = create(settings)
    if server == "uvicorn":
        serve(app, settings, settings.gifting_port)  # what `python -m services.gifting api` runs
    else:
        rust = server == "granian-rust"
        uvloop.run(_granian(app, settings.host, settings.gifting_port, rust_tasks=rust))


async def _granian(app, host: str, port: int, rust_tasks: bool) -> None:
    """Granian's embedded server: its Rust HTTP/1 stack on one runtime thread, the app on this
    process's uvloop (no worker process, so a SIGKILL leaves no orphan holding the port);
    SIGTERM/SIGINT stop it gracefully (lifespan shutdown). `rust_tasks`: its Rust task
    implementation (experimental, Python < 3.12) instead of asyncio tasks."""
    # granian is no dependency of the project (it lost this A/B: docs/performance.md), so it
    # is imported by name, after `pip install granian`, and not declared in pyproject.toml.
    constants = importlib.import_module("granian.constants")
    Interfaces, TaskImpl = constants.Interfaces, constants.TaskImpl
    LogLevels = importlib.import_module("granian.log").LogLevels
    Server = importlib.import_module("granian.server.embed").Server

    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        runtime_threads=1,
        task_impl=TaskImpl.rust if rust_tasks else TaskImpl.asyncio,
        websockets=False,
        backlog=2048,
        log_level=LogLevels.error,
        # its loggers go to the root handler (configure_logging's JSON lines), not stdout
        log_dictconfig={
            "loggers": {
                "_granian": {"level": "ERROR", "propagate": True},
                "granian.access": {"level": "WARNING", "propagate": True},
            }
        },
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server_cost", description=__doc__)
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS[:2]))
    parser.add_argument("--rate", type=float, default=400, help="gifts offered per second")
    parser.add_argument("--duration", type=float, default=15, help="seconds measured per round")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before each measure")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server, alternating")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--fans", type=int, default=500)
    parser.add_argument("--creators", type=int, default=200)
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("COINSTREAM_ENV", "development")
    if args.serve:
        _serve(args.serve, args.prefix)
    else:
        measure(args)


if __name__ == "__main__":
    main()
