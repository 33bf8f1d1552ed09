"""Results: JSON, a markdown table (each peer as a rate and a ratio to ours) and a PNG plot of
latency against offered rate."""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def best_step(steps: list[dict]) -> dict | None:
    """The highest offered rate that met the objective (else the best accepted rate seen)."""
    ok = [s for s in steps if s["sustained"]]
    if ok:
        return max(ok, key=lambda s: s["offered_rate"])
    return max(steps, key=lambda s: s["accepted_rate"]) if steps else None


def table(results: dict) -> str:
    ours = best_step(results["ours"]["spread"])
    ours_hot = best_step(results["ours"].get("hot", []))
    ref = ours["accepted_rate"] if ours else None
    ref_hot = ours_hot["accepted_rate"] if ours_hot else ref

    def ratio(rate, against):
        return f"{rate / against:.2f}×" if rate is not None and against else "–"

    obj = results["objective"]
    lines = [
        f"Objective for a sustained step: accepted ≥ 95% of offered, errors ≤ "
        f"{obj['max_error_rate']:.1%}, acceptance p99 ≤ {obj['p99_ms']} ms.",
        "",
        "| system | workload | gifts or tx /s | accept p50 ms | accept p99 ms | p99.9 ms "
        "| visible p50 ms | visible p99 ms | ratio to ours |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|"]

    def step_row(name, workload, s, against):
        if not s:
            return
        tag = "" if s["sustained"] else " (objective not met)"
        lines.append(
            f"| {name} | {workload}, offered {s['offered_rate']:,.0f}/s{tag} "
            f"| {_fmt(s['accepted_rate'])} | {_fmt(s['p50_ms'], 1)} | {_fmt(s['p99_ms'], 1)} "
            f"| {_fmt(s['p999_ms'], 1)} | {_fmt(s.get('visible_p50_ms'), 1)} "
            f"| {_fmt(s.get('visible_p99_ms'), 1)} | {ratio(s['accepted_rate'], against)} |")

    n = results["population"]
    step_row("**coinstream** (HTTP)", f"spread over {n['creators']:,} creators", ours, ref)
    step_row("**coinstream** (HTTP)", f"{results['hot_share']:.0%} to one creator", ours_hot,
             ref)
    wp = results.get("write_path")
    if wp:
        step_row(f"coinstream write path alone (HTTP; {', '.join(wp.get('paused', []))} "
                 f"paused, backlog of {wp['backlog']:,} caught up in "
                 f"{wp['catch_up_seconds']:.0f} s after)", "spread", best_step(wp["steps"]), ref)
    step_row("naive: 1 request → 1 tx → sync Kafka send (HTTP)", "spread",
             best_step(results.get("naive", [])), ref)
    for r in results.get("eventsourcing", []):
        hot = r["hot_share"] > 0
        workload = (f"{r['hot_share']:.0%} to one creator" if hot
                    else f"spread over {r['creators']:,} creators")
        lines.append(
            f"| eventsourcing {results.get('eventsourcing_version', '')} + PostgreSQL "
            f"(in-process, {r['threads']} threads) "
            f"| {workload}"
            f", {r['conflicts']:,} version conflicts | {_fmt(r['rate'])} | {_fmt(r['p50_ms'], 1)} "
            f"| {_fmt(r['p99_ms'], 1)} | – | – | – | {ratio(r['rate'], ref_hot if hot else ref)} |")
    for r in results.get("pgbench", []):
        lines.append(f"| pgbench (PostgreSQL's own ceiling) | {r['workload']} "
                     f"| {_fmt(r['rate'])} | avg {r['latency_avg_ms']:.1f} | – | – | – | – "
                     f"| {ratio(r['rate'], ref)} |")
    gen = results.get("generator")
    if gen:
        lines += ["", f"Load generator: {gen['workers']} process(es), peak CPU "
                  f"{gen['peak_cpu_share']:.0%} of one core, send lag p99 "
                  f"{gen['peak_send_lag_p99_ms']:.1f} ms at the highest step — "
                  f"{'it was NOT the bottleneck' if gen['peak_cpu_share'] < 0.8 and gen['peak_send_lag_p99_ms'] < 20 else 'it may have limited the offered rate'}."]
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    series = [("coinstream, spread", results["ours"]["spread"], "o-"),
              ("coinstream, hot creator", results["ours"].get("hot", []), "s-"),
              ("coinstream, write path alone", results.get("write_path", {}).get("steps", []),
               "v-"),
              ("naive sync-send path", results.get("naive", []), "^--")]
    for label, steps, style in series:
        pts = [(s["offered_rate"], s["p99_ms"]) for s in steps if s["p99_ms"] is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=f"{label} (accept p99)")
    vis = [(s["offered_rate"], s["visible_p99_ms"]) for s in results["ours"]["spread"]
           if s.get("visible_p99_ms") is not None]
    if vis:
        ax.plot(*zip(*vis, strict=True), "o:", label="coinstream, spread (visible p99)")
    for r in results.get("eventsourcing", []):
        ax.plot(r["rate"], r["p99_ms"], "D", markersize=9,
                label=f"eventsourcing lib, {'hot' if r['hot_share'] else 'spread'} "
                      f"(closed loop, p99)")
    for r in results.get("pgbench", []):
        ax.plot(r["rate"], r["latency_avg_ms"], "*", markersize=12,
                label=f"pgbench {r['clients']} clients (closed loop, avg)")
    ax.set_xlabel("offered rate (gifts/s; peers: achieved rate)")
    ax.set_ylabel("latency (ms, log)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Coinstream gift path vs peers, same machine and PostgreSQL")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict) -> dict[str, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    paths = {"json": RESULTS / "latest.json", "md": RESULTS / "latest.md",
             "png": RESULTS / "latency.png"}
    paths["json"].write_text(json.dumps(results, indent=2, default=str))
    md = table(results)
    paths["md"].write_text(f"# Benchmark run {results['started']}\n\n{md}\n")
    plot(results, paths["png"])
    return paths
