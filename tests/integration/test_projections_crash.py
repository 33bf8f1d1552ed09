"""The projections worker SIGKILLed at random points while generated events flow in: every read
model still counts every event exactly once (a few seeds here; `python -m
scripts.projections_crash --seeds 20` runs the long table)."""

import pytest

from scripts.projections_crash import drop_faust_topics, row, run_seed


@pytest.mark.parametrize("seed", [101, 202])
async def test_sigkilled_worker_counts_every_event_exactly_once(namespace, seed):
    settings = await namespace(f"cr{seed}")
    try:
        outcome = await run_seed(settings, seed, events=1500, kills=2)
    finally:
        await drop_faust_topics(settings)
    print(row(outcome))
    assert outcome.mismatches == [], outcome.mismatches[:10]
    assert len(outcome.lag_at_kills) == 2
