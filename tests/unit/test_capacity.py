"""bench.capacity: the capacity model's arithmetic from a bench results file."""

from bench import capacity


def results() -> dict:
    def step(rate, window, accepted, components):
        cost = {
            "window_seconds": window,
            "accepted": accepted,
            "components": {n: {"cpu_seconds": s} for n, s in components.items()},
        }
        return {"accepted_rate": rate, "cost": cost}

    busy = {"gifting-api.1": 1.5, "gifting-api.2": 1.5, "postgresql": 2.0, "kafka": 1.2}
    return {
        "idle": {"window_seconds": 2.0, "components": {"kafka": {"cpu_seconds": 0.2}}},
        "ours": {
            "spread": [step(100, 10.0, 1000, {"gifting-api": 9.0}), step(1000, 10.0, 10000, busy)]
        },
    }


def test_the_cost_is_the_busiest_step_less_idle_cpu_with_instances_summed_per_role():
    cost = capacity.marginal_cost(results())
    assert cost.rate == 1000
    # kafka: 1.2 s busy - 0.1 core idle x 10 s = 0.2 s over 10,000 gifts
    assert round(cost.ms_per_gift["kafka"], 6) == 0.02
    assert cost.ms_per_gift == {
        "gifting-api": 0.3,
        "postgresql": 0.2,
        "kafka": cost.ms_per_gift["kafka"],
    }


def test_cores_brokers_and_shards_scale_with_the_rate():
    cost = capacity.Cost(1000, {"gifting-api": 0.3, "postgresql": 0.9, "kafka": 0.1})
    small, big = capacity.need(cost, 10_000), capacity.need(cost, 1_000_000)
    assert small.roles["gifting-api"] == (5.0, 5)  # 10k x 0.3 ms / 60 %
    assert (small.brokers, small.shards) == (3, 1)  # at least 3 brokers; one primary
    assert big.postgres_cores == 1500.0 and big.shards == 47  # 1,500 cores / 32 per shard
    assert big.brokers == 32  # 1M x 0.1 ms x RF 3 / 60 % = 500 cores / 16
