"""`python -m bench` (or `make bench`): gifts per second and end-to-end latency, side by side
with peers in one run. See docs/performance.md for what each figure means."""

import argparse
import asyncio
import datetime
import os
import subprocess
import sys
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import asyncpg
import httpx

from bench import cost, load, population, profile, report, system, vegeta, visibility
from bench.peers import es_peer, ledger, pgbench
from eventkit.db import apply_migrations, ensure_database
from eventkit.settings import Settings

DEFAULT_RATES = "250,500,750,1000,1500,2000,2500,3000,4000"
# Everything downstream of a gift (the relay stays: publishing to Kafka is the write path's).
DOWNSTREAM = ("payout-consumer", "projections")
SUT: list = []  # the System under test, when this run started it (for per-process CPU)
GENERATOR: dict = {}  # which load generator runs: {"name": ..., "vegeta": path or None}


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--rate", type=float, default=500, help="offered gifts/s (without --ramp)")
    p.add_argument("--duration", type=float, default=8, help="seconds of load per step")
    p.add_argument("--fans", type=int, default=500)
    p.add_argument("--creators", type=int, default=2000)
    p.add_argument(
        "--hot-share",
        type=float,
        default=0.9,
        help="share of gifts to one creator in the hot runs (0 = no hot runs)",
    )
    p.add_argument(
        "--ramp", action="store_true", help="step the rate up (--rates) until the objective breaks"
    )
    p.add_argument("--rates", default=DEFAULT_RATES, help="ramp steps, gifts/s")
    p.add_argument("--p99-ms", type=float, default=250, help="objective: acceptance p99")
    p.add_argument("--max-error-rate", type=float, default=0.001, help="objective: errors")
    p.add_argument(
        "--generator",
        choices=("auto", "vegeta", "python"),
        default="auto",
        help="open-loop load generator: vegeta (built once with `go install`), the "
        "Python one (aiohttp), or auto: vegeta if it can be had, else Python",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Python generator processes (vegeta uses every core on its own)",
    )
    p.add_argument("--connections", type=int, default=256, help="HTTP keep-alive pool size")
    p.add_argument(
        "--peers",
        default="pgbench,eventsourcing,naive,ledger",
        help="comma-separated subset of pgbench,eventsourcing,naive,ledger (or none)",
    )
    p.add_argument("--peer-seconds", type=int, default=8)
    p.add_argument("--es-creators", type=int, default=5000)
    p.add_argument("--es-threads", default="4,8")
    p.add_argument(
        "--ledger-connections",
        default="8,16,32",
        help="asyncpg connections tried by the plain-PostgreSQL ledger peer",
    )
    p.add_argument(
        "--no-write-path",
        action="store_true",
        help="skip the write-path-alone series (consumers paused during its steps)",
    )
    p.add_argument(
        "--profile-seconds",
        type=float,
        default=0,
        help="py-spy the gifting-api during one extra run at the best rate",
    )
    p.add_argument(
        "--gifting-url",
        help="use a running system instead of starting one "
        "(with --recharge-url; DB_PREFIX etc. from the environment)",
    )
    p.add_argument("--recharge-url")
    p.add_argument("--keep", action="store_true", help="keep the bench databases and topics")
    p.add_argument(
        "--out",
        type=Path,
        default=report.RESULTS,
        help="where latest.json, latest.md and latency.png go (default bench/results;"
        " point smoke runs elsewhere)",
    )
    return p.parse_args(argv)


def say(*a):
    print(*a, flush=True)


def pick_generator(args, say=print) -> dict:
    """vegeta when asked for or (auto) when it can be had, else the Python generator."""
    path = vegeta.binary(install=True, say=say) if args.generator != "python" else None
    if args.generator == "vegeta" and not path:
        raise SystemExit("--generator vegeta: vegeta could not be built (see above)")
    if path:
        return {"name": f"vegeta {vegeta.VERSION} (Go, open loop)", "vegeta": path}
    return {
        "name": f"python (aiohttp + uvloop, {args.workers} process(es), open loop)",
        "vegeta": None,
    }


def sut_roles() -> dict[str, int]:
    return {role: proc.pid for role, proc in SUT[0].procs.items()} if SUT else {}


def step(
    settings: Settings,
    args,
    gifting: str,
    fans,
    creators,
    rate: float,
    hot: float,
    visible: bool = True,
    label: str = "",
    events: list | None = None,
    roles=sut_roles,
) -> dict:
    """One fixed-rate step; `events`, when given, receives the accepted event ids. Its CPU
    cost is measured from just before the first request to when the projector (and the
    payout consumer) have taken every accepted gift in, or, without `visible`, to the last
    reply; `roles` names the system's own processes."""
    plan = load.Plan(
        url=f"{gifting}/v1/gifts",
        rate=rate,
        duration=args.duration,
        start_at=time.time() + 0.3,
        fan_tokens=fans,
        creators=creators,
        hot_share=hot,
        connections=args.connections,
        seed=int(rate),
    )
    meter = cost.Meter(roles, settings.db_prefix)
    marks: list = []  # (CPU sample, this process's CPU) when the load starts
    if GENERATOR.get("vegeta"):
        out = vegeta.attack(
            plan,
            GENERATOR["vegeta"],
            on_start=lambda: marks.append((meter.sample(), time.process_time())),
        )
        in_process = False
    else:
        marks = [(meter.sample(), time.process_time())]
        out = load.open_loop(plan, args.workers)
        in_process = args.workers <= 1
    if events is not None:
        events.extend(e for e, _ in out.events)
    # Replies still arriving after the last send count against the rate, not for it.
    secs = max(args.duration, out.wall_seconds)
    ms = [x * 1000 for x in out.latencies]
    s = {
        "label": label,
        "generator": GENERATOR.get("name"),
        "offered_rate": rate,
        "hot_share": hot,
        "offered": out.offered,
        "accepted": out.accepted,
        "refused": out.refused,
        "errored": out.errored,
        "dropped": out.dropped,
        "statuses": out.statuses,
        "accepted_rate": out.accepted / secs,
        "p50_ms": load.percentile(ms, 50),
        "p99_ms": load.percentile(ms, 99),
        "p999_ms": load.percentile(ms, 99.9),
        "generator_cpu_share": out.cpu_seconds / max(out.wall_seconds, 1e-9),
        "send_lag_p99_ms": (load.percentile(out.send_lag, 99) or 0) * 1000,
    }
    if visible and out.events:
        ids = [e for e, _ in out.events]
        vis, unseen = asyncio.run(
            visibility.wait_visible(settings.database_for("projections"), ids)
        )
        vms = [v * 1000 for v in vis]
        s.update(
            visible_p50_ms=load.percentile(vms, 50),
            visible_p99_ms=load.percentile(vms, 99),
            never_visible=unseen,
        )
        if "payout-consumer" in roles():
            s["never_credited"] = asyncio.run(
                visibility.wait_processed(settings.database_for("payout"), ids, timeout=60)
            )
    (before, cpu0), after = marks[0], meter.sample()
    bench_cpu = time.process_time() - cpu0 - (out.cpu_seconds if in_process else 0.0)
    s["cost"] = cost.breakdown(before, after, out.accepted, out.cpu_seconds, max(0.0, bench_cpu))
    s["cpu_ms_per_gift"] = s["cost"]["system_cpu_ms_per_gift"]
    errors = (out.errored + out.refused) / max(out.offered, 1)
    s["sustained"] = (
        errors <= args.max_error_rate
        and s["accepted_rate"] >= 0.95 * rate
        and s["p99_ms"] is not None
        and s["p99_ms"] <= args.p99_ms
    )
    say(
        f"  {label:>8} offered {rate:>6,.0f}/s: accepted {s['accepted_rate']:>7,.0f}/s "
        f"refused {out.refused} errored {out.errored} p50 {s['p50_ms'] or 0:.1f} "
        f"p99 {s['p99_ms'] or 0:.1f} p99.9 {s['p999_ms'] or 0:.1f} ms"
        + (
            f" visible p50 {s['visible_p50_ms'] or 0:.0f} p99 {s['visible_p99_ms'] or 0:.0f} ms"
            if s.get("visible_p99_ms") is not None
            else ""
        )
        + f" | gen cpu {s['generator_cpu_share']:.0%} lag p99 {s['send_lag_p99_ms']:.1f} ms"
        + ("" if s["sustained"] else "  <- objective not met")
    )
    say("           " + cost.short(s["cost"]))
    return s


def idle_cost(args, seconds: float = 3.0) -> dict:
    """What the system burns with no load at all (relays and consumers polling, the broker,
    the database's background work): at low rates this fixed cost dominates CPU per gift."""
    meter = cost.Meter(sut_roles, SUT[0].settings.db_prefix)
    before = meter.sample()
    time.sleep(seconds)
    idle = cost.breakdown(before, meter.sample(), accepted=0)
    busy = list(idle["components"].items())[:5]
    say(
        f"idle system: {idle['system_cores']:.0%} of a core ("
        + ", ".join(f"{n} {c['share']:.0%}" for n, c in busy)
        + ")"
    )
    return idle


def series(
    settings,
    args,
    gifting,
    fans,
    creators,
    hot,
    visible=True,
    label="",
    events: list | None = None,
    roles=sut_roles,
) -> list[dict]:
    rates = [float(r) for r in args.rates.split(",")] if args.ramp else [args.rate]
    # Warm-up, not reported: opens the keep-alive connections and the server's pool.
    warm = argparse.Namespace(**{**vars(args), "duration": 1.0})
    step(
        settings,
        warm,
        gifting,
        fans,
        creators,
        min(rates[0], 200),
        hot,
        False,
        "warm-up",
        events,
        roles,
    )
    steps = []
    for rate in rates:
        steps.append(
            step(settings, args, gifting, fans, creators, rate, hot, visible, label, events, roles)
        )
        if not steps[-1]["sustained"]:
            break
    return steps


def write_path_alone(settings, args, sut, gifting, fans, creators) -> dict:
    """The gift path's own ceiling: the same spread ramp with the gift events' consumers
    (DOWNSTREAM) stopped, so the API, relay, PostgreSQL and Kafka have the cores to themselves,
    as on a deployment where consumers run elsewhere. Visibility is not measured; the backlog's
    catch-up time after the resume is."""
    say(f"write path alone ({', '.join(DOWNSTREAM)} paused), spread:")
    events: list = []
    with sut.paused(DOWNSTREAM):
        steps = series(
            settings,
            args,
            gifting,
            fans,
            creators,
            0.0,
            visible=False,
            label="write",
            events=events,
        )
    began = time.monotonic()
    _, unseen = asyncio.run(
        visibility.wait_visible(settings.database_for("projections"), events, timeout=300)
    )
    unseen += asyncio.run(visibility.wait_processed(settings.database_for("payout"), events))
    catch_up = time.monotonic() - began
    say(
        f"  resumed: {len(events):,} backlogged gifts projected and credited in "
        f"{catch_up:.1f}s ({len(events) / max(catch_up, 1e-9):,.0f}/s), {unseen} never seen"
    )
    return {
        "steps": steps,
        "paused": list(DOWNSTREAM),
        "backlog": len(events),
        "catch_up_seconds": catch_up,
        "never_visible": unseen,
    }


def start_naive(settings: Settings, fans) -> tuple[subprocess.Popen, str, str]:
    # A peer outside the services' roles: its own database, as the admin (the bench's server).
    dsn = settings.admin_database_for("naive")
    topic = settings.topic("naive.gifts")

    async def prep():
        from aiokafka.admin import NewTopic

        from eventkit.kafka import admin as kafka_admin

        await apply_migrations(dsn, system.ROOT / "services" / "gifting" / "migrations")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.executemany(
                "INSERT INTO wallets (user_id, balance) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [(u, 10**9) for u, _ in fans],
            )
        finally:
            await conn.close()
        admin = kafka_admin(settings)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 4, 1)])
        finally:
            await admin.close()

    asyncio.run(prep())
    port = system.free_port()
    log = open(system.LOGS / f"{settings.db_prefix}-naive.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.peers.naive_app"],
        cwd=system.ROOT,
        env=system.child_env(settings, NAIVE_DSN=dsn, NAIVE_TOPIC=topic, NAIVE_PORT=str(port)),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url, dsn
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"naive peer did not start; see {system.LOGS}")
        time.sleep(0.3)


def main(argv=None) -> None:
    args = parse(argv)
    peers = {p.strip() for p in args.peers.split(",") if p.strip() and p.strip() != "none"}
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    own = not args.gifting_url
    settings = system.bench_settings() if own else Settings()
    if own:
        say(
            f"bench prefix {settings.db_prefix} (databases {settings.db_prefix}_*, topics "
            f"{settings.topic_prefix}*) on {settings.database_url.rsplit('@', 1)[-1]}"
        )
        asyncio.run(system.prepare(settings))
        sut = system.System(settings)
        say("starting the Procfile's processes ...")
        sut.start_all()
        SUT.append(sut)
        gifting, recharge = sut.url("gifting"), sut.url("recharge")
    else:
        sut, gifting, recharge = None, args.gifting_url, args.recharge_url
    extra_dbs: list[str] = []
    naive_proc = None
    results: dict = {
        "started": started,
        "host_cpus": os.cpu_count(),
        "objective": {"p99_ms": args.p99_ms, "max_error_rate": args.max_error_rate},
        "hot_share": args.hot_share,
        "args": vars(args),
    }
    try:
        GENERATOR.update(pick_generator(args, say))
        results["generator_name"] = GENERATOR["name"]
        say(f"load generator: {GENERATOR['name']}")
        rates = [float(r) for r in args.rates.split(",")] if args.ramp else [args.rate]
        runs = (2 if args.hot_share else 1) + (0 if args.no_write_path or not own else 1)
        gifts = sum(rates) * args.duration * runs + args.rate * args.profile_seconds
        say(f"funding {args.fans} fans through POST /v1/purchases, {args.creators} creators ...")
        pop = asyncio.run(
            population.populate(
                settings,
                recharge,
                gifting,
                args.fans,
                args.creators,
                int(gifts / args.fans * 1.5) + 1,
                say,
            )
        )
        say(f"  done in {pop.seconds:.1f}s ({pop.coins_per_fan:,} coins per fan)")
        results["population"] = {
            "fans": args.fans,
            "creators": args.creators,
            "coins_per_fan": pop.coins_per_fan,
            "seconds": pop.seconds,
        }
        creators = [c for c, _ in pop.creators]
        if sut:
            caught_up = asyncio.run(visibility.wait_caught_up(settings))
            say(f"  projections took the funding in {caught_up:.1f}s after it")
            results["population"]["projections_caught_up_seconds"] = caught_up
            results["idle"] = idle_cost(args)
        say(f"coinstream: open-loop POST /v1/gifts, {args.duration:g}s per step")
        results["ours"] = {
            "spread": series(settings, args, gifting, pop.fans, creators, 0.0, label="spread")
        }
        if args.hot_share:
            results["ours"]["hot"] = series(
                settings, args, gifting, pop.fans, creators, args.hot_share, label="hot"
            )
        all_steps = results["ours"]["spread"] + results["ours"].get("hot", [])
        top = max(all_steps, key=lambda s: s["offered_rate"])
        results["generator"] = {
            "name": GENERATOR["name"],
            "workers": args.workers,
            "peak_cpu_share": top["generator_cpu_share"],
            "peak_cpu_ms_per_gift": top["cost"]["generator"]["ms_per_gift"],
            "peak_send_lag_p99_ms": top["send_lag_p99_ms"],
        }
        best = report.best_step(results["ours"]["spread"])
        if args.profile_seconds and sut and best is not None:
            raw = args.out / "profile-gifting-api.txt"
            args.out.mkdir(parents=True, exist_ok=True)
            say(f"profiling gifting-api with py-spy at {best['offered_rate']:,.0f}/s ...")
            spy = profile.start(sut.pid("gifting-api"), args.profile_seconds, raw)
            saved, args.duration = args.duration, args.profile_seconds
            step(
                settings,
                args,
                gifting,
                pop.fans,
                creators,
                best["offered_rate"],
                0.0,
                label="profile",
            )
            args.duration = saved
            spy.wait(timeout=60)
            results["profile"] = {"rate": best["offered_rate"], **profile.summarise(raw)}
            say(
                f"    {results['profile']['idle_or_native_share']:.0%} of samples idle in the "
                "loop or in C; of the Python-busy rest:"
            )
            for row in results["profile"]["self"][:10]:
                say(f"    {row['share']:6.1%} self  {row['function']}")
        if sut and not args.no_write_path:
            results["write_path"] = write_path_alone(
                settings, args, sut, gifting, pop.fans, creators
            )
        if "naive" in peers:
            say("naive baseline (1 request -> 1 tx -> sync Kafka send), spread:")
            naive_proc, naive_url, _ = start_naive(settings, pop.fans)
            extra_dbs.append(f"{settings.db_prefix}_naive")
            results["naive"] = series(
                settings,
                args,
                naive_url,
                pop.fans,
                creators,
                0.0,
                visible=False,
                label="naive",
                roles=lambda: {"naive-app": naive_proc.pid},
            )
        if "pgbench" in peers:
            db = f"{settings.db_prefix}_pgbench"
            extra_dbs.append(db)
            asyncio.run(ensure_database(system.server_url(settings, db)))
            say("pgbench tpcb-like (init scale 8) ...")
            pgbench.init(settings.database_url, db)
            results["pgbench"] = []
            for clients in (4, 8):
                r = pgbench.run(settings.database_url, db, clients, args.peer_seconds)
                say(
                    f"  {r['workload']}: {r['rate']:,.0f} tps, avg {r['latency_avg_ms']:.1f} ms, "
                    f"PostgreSQL CPU {r['system_cpu_ms_per_gift'] or 0:.2f} ms/tx, pgbench's own "
                    f"{r['client_cpu_ms_per_gift'] or 0:.2f} ms/tx"
                )
                results["pgbench"].append(r)
        if "eventsourcing" in peers:
            db = f"{settings.db_prefix}_es"
            extra_dbs.append(db)
            asyncio.run(ensure_database(system.server_url(settings, db)))
            results["eventsourcing_version"] = version("eventsourcing")
            say(
                f"eventsourcing {results['eventsourcing_version']}: {args.fans} fans, "
                f"{args.es_creators} creators ..."
            )
            fan_ids, creator_ids = es_peer.populate(
                settings.database_url, db, args.fans, args.es_creators, uuid.uuid4().hex[:6]
            )
            threads = tuple(int(t) for t in args.es_threads.split(","))
            results["eventsourcing"] = []
            for hot in (0.0, args.hot_share) if args.hot_share else (0.0,):
                r = es_peer.best(
                    settings.database_url, db, fan_ids, creator_ids, hot, args.peer_seconds, threads
                )
                say(
                    f"  hot share {hot:.0%}: {r['rate']:,.0f} gifts/s ({r['threads']} threads, "
                    f"{r['conflicts']} conflicts, p99 {r['p99_ms'] or 0:.0f} ms, CPU "
                    f"{r['system_cpu_ms_per_gift'] or 0:.2f} ms/gift)"
                )
                results["eventsourcing"].append(r)
        if "ledger" in peers:
            db = f"{settings.db_prefix}_ledger"
            extra_dbs.append(db)
            dsn = system.server_url(settings, db)
            asyncio.run(ensure_database(dsn))
            say(
                f"plain-PostgreSQL ledger (one ledger_transfer() call per gift, asyncpg): "
                f"{args.fans} fans, {args.creators} creators ..."
            )
            fan_ids, creator_ids = ledger.setup(dsn, args.fans, args.creators)
            counts = tuple(int(n) for n in args.ledger_connections.split(","))
            results["ledger"] = []
            for hot in (0.0, args.hot_share) if args.hot_share else (0.0,):
                r = ledger.best(dsn, fan_ids, creator_ids, hot, args.peer_seconds, counts)
                say(
                    f"  hot share {hot:.0%}: {r['rate']:,.0f} gifts/s ({r['connections']} "
                    f"connections; tried "
                    + ", ".join(f"{t['connections']}: {t['rate']:,.0f}/s" for t in r["tried"])
                    + f"), p99 {r['p99_ms'] or 0:.1f} ms, PostgreSQL CPU "
                    f"{r['system_cpu_ms_per_gift'] or 0:.2f} ms/gift, client "
                    f"{r['client_cpu_ms_per_gift'] or 0:.2f} ms/gift"
                )
                results["ledger"].append(r)
        paths = report.write(results, args.out)
        say("")
        say(report.table(results))
        say("")
        say(f"results: {paths['json']}  {paths['md']}  {paths['png']}")
    finally:
        if naive_proc:
            naive_proc.terminate()
            naive_proc.wait(timeout=15)
        if sut:
            sut.stop_all()
            if not args.keep:
                asyncio.run(system.drop(settings, tuple(extra_dbs)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cluster"]:  # against make cluster's shape (bench/cluster.py)
        from bench import cluster

        cluster.main(sys.argv[2:])
    else:
        main()
