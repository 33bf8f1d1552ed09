"""The naive peer of `make bench` is our own gift path without batching: it must keep importing
the gifting API's request and response models as they move (it once broke silently)."""

from bench.peers import naive_app
from services.gifting.gifts import GiftCreate, GiftPublic


def test_naive_peer_serves_the_same_gift_contract():
    assert naive_app.GiftCreate is GiftCreate and naive_app.GiftPublic is GiftPublic


def test_naive_peer_builds_its_app():
    app = naive_app.create("postgresql://u:p@127.0.0.1:1/none", "naive.topic")
    assert any(getattr(r, "path", "") == "/v1/gifts" for r in app.routes)


def test_the_ledger_peer_picks_creators_like_the_http_generator():
    import random

    from bench.peers.ledger import creator_for

    rng = random.Random(1)
    picks = [creator_for(rng, ["hot", "b", "c"], 0.9) for _ in range(2000)]
    assert 0.88 < picks.count("hot") / len(picks) < 0.96
    assert {creator_for(rng, ["a", "b"], 0.0) for _ in range(200)} == {"a", "b"}


def test_the_ledger_peers_sql_is_one_function_per_transfer():
    from bench.peers import ledger

    sql = ledger.SQL.read_text()
    assert (
        "CREATE OR REPLACE FUNCTION ledger_transfer(p_from uuid, p_to uuid, p_amount bigint)" in sql
    )
    assert "FOR UPDATE" in sql and "ORDER BY id" in sql  # both rows, one global order
    assert "check_violation" in sql  # an overdraft is refused


def _step(rate, accepted, sustained=True, **cost_ms):
    comps = {
        k.replace("_", "-"): {"cpu_seconds": 0, "ms_per_gift": v, "share": 0}
        for k, v in cost_ms.items()
    }
    total = sum(cost_ms.values())
    return {
        "offered_rate": rate,
        "accepted_rate": accepted,
        "sustained": sustained,
        "p50_ms": 5.0,
        "p99_ms": 50.0,
        "p999_ms": 80.0,
        "visible_p99_ms": 90.0,
        "cpu_ms_per_gift": total,
        "cost": {
            "system_cpu_ms_per_gift": total,
            "components": comps,
            "generator": {"ms_per_gift": 0.1},
            "other_cpu_seconds": 1.0,
            "window_seconds": 10.0,
        },
    }


def _results():
    return {
        "objective": {"p99_ms": 250, "max_error_rate": 0.001},
        "hot_share": 0.9,
        "population": {"creators": 2000},
        "ours": {
            "spread": [
                _step(500, 500, gifting_api=1.0, postgresql=0.5, recharge_api=0.1),
                _step(1000, 700, False, gifting_api=1.2, postgresql=0.6),
            ],
            "hot": [_step(500, 400, gifting_api=1.0, postgresql=0.8)],
        },
        "ledger": [
            {
                "connections": 16,
                "hot_share": 0.0,
                "creators": 2000,
                "rate": 2000.0,
                "p50_ms": 4.0,
                "p99_ms": 20.0,
                "system_cpu_ms_per_gift": 0.45,
            },
            {
                "connections": 8,
                "hot_share": 0.9,
                "creators": 2000,
                "rate": 1000.0,
                "p50_ms": 8.0,
                "p99_ms": 40.0,
                "system_cpu_ms_per_gift": 0.7,
            },
        ],
        "pgbench": [
            {
                "workload": "tpcb-like, 4 clients",
                "rate": 2500.0,
                "latency_avg_ms": 1.6,
                "system_cpu_ms_per_gift": 0.5,
            }
        ],
        "generator": {
            "name": "vegeta v12.13.0 (Go, open loop)",
            "workers": 1,
            "peak_cpu_share": 0.05,
            "peak_cpu_ms_per_gift": 0.1,
            "peak_send_lag_p99_ms": 2.0,
        },
    }


def test_the_table_states_ratios_as_ours_over_the_peer():
    from bench import report

    assert report.ratio(500, 2000) == "0.25×" and report.ratio(None, 1) == "–"
    md = report.table(_results())
    rows = {
        line.split(" | ")[0] + line.split(" | ")[1]: line
        for line in md.splitlines()
        if line.startswith("| ")
    }
    ledger_spread = next(v for k, v in rows.items() if "ledger" in k and "spread" in k)
    ledger_hot = next(v for k, v in rows.items() if "ledger" in k and "one creator" in k)
    assert ledger_spread.endswith("| 0.45 | 0.25× |")  # 500 ÷ 2,000
    assert ledger_hot.endswith("| 0.70 | 0.40× |")  # hot: 400 ÷ 1,000
    assert next(v for k, v in rows.items() if "pgbench" in k).endswith("| 0.20× |")
    assert "Ratios are ours ÷ peer" in md and "Hot ÷ spread: 0.80" in md
    assert "Load generator: vegeta v12.13.0" in md
    ours = next(v for k, v in rows.items() if "coinstream** (HTTP)spread" in k)
    assert "| 1.60 |" in ours  # CPU ms per gift, system


def test_the_step_table_breaks_the_cost_down_by_component():
    from bench import report

    lines = report.steps_table(_results())
    head = next(line for line in lines if line.startswith("| series"))
    assert "| gifting-api | postgresql | rest | generator |" in head
    first = next(line for line in lines if line.startswith("| ours, spread | 500"))
    # total 1.6 = gifting-api 1.0 + postgresql 0.5 + rest (recharge-api) 0.1; generator apart
    assert "| **1.60** | 1.00 | 0.50 | 0.10 | 0.10 | 0.10 |" in first
    assert any(line.startswith("| ours, spread | 1,000") and "(not met)" in line for line in lines)
