"""The compiled generator's glue (bench/vegeta.py): the targets it is given and how its
per-request results become the bench's Outcome. Pure: no vegeta binary needed."""

import base64
import datetime

import orjson
import pytest

from bench import load, vegeta


def plan(**kw):
    return load.Plan(
        url="http://127.0.0.1:1/v1/gifts",
        rate=100,
        duration=1,
        start_at=0,
        fan_tokens=[("f1", "tok1"), ("f2", "tok2")],
        creators=["c0", "c1", "c2"],
        **kw,
    )


def test_targets_are_distinct_gift_posts_in_vegetas_json_format():
    lines = list(vegeta.targets(plan(hot_share=0.9, seed=3), 500))
    targets = [orjson.loads(line) for line in lines]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert {t["method"] for t in targets} == {"POST"}
    assert {t["url"] for t in targets} == {"http://127.0.0.1:1/v1/gifts"}
    keys = [t["header"]["Idempotency-Key"][0] for t in targets]
    assert len(set(keys)) == 500  # every request its own key
    assert {t["header"]["Authorization"][0] for t in targets} == {"Bearer tok1", "Bearer tok2"}
    bodies = [orjson.loads(base64.b64decode(t["body"])) for t in targets]
    assert {b["gift_code"] for b in bodies} == {"rose"} and {b["quantity"] for b in bodies} == {1}
    hot = sum(b["creator_id"] == "c0" for b in bodies) / len(bodies)
    assert 0.85 < hot < 0.99


def test_two_runs_with_one_seed_never_share_an_idempotency_key():
    # Warm-up and step, spread and hot, may run at one rate (one seed): a shared key would be
    # replayed (same event id twice) or refused (same key, other body).
    keys = [
        orjson.loads(line)["header"]["Idempotency-Key"][0]
        for _ in range(2)
        for line in vegeta.targets(plan(seed=7), 50)
    ]
    assert len(set(keys)) == 100


def test_epoch_reads_gos_nanosecond_timestamps():
    want = datetime.datetime(2026, 12, 1, 20, 30, 0, 123456, tzinfo=datetime.UTC).timestamp()
    assert vegeta.epoch("2026-12-01T20:30:00.123456789Z") == pytest.approx(want)
    assert vegeta.epoch("2026-12-01T21:30:00.123456789+01:00") == pytest.approx(want)
    assert vegeta.epoch("2026-12-01T20:30:00Z") == pytest.approx(want - 0.123456)


T0 = datetime.datetime(2026, 12, 1, 20, 0, 0, tzinfo=datetime.UTC)


def result(seq, sent_after, latency, code, event=None, error=""):
    ts = (T0 + datetime.timedelta(seconds=sent_after)).isoformat().replace("+00:00", "Z")
    body = base64.b64encode(orjson.dumps({"event_id": event})).decode() if event else None
    return (
        orjson.dumps(
            {
                "attack": "",
                "seq": seq,
                "code": code,
                "timestamp": ts,
                "latency": int(latency * 1e9),
                "bytes_out": 100,
                "bytes_in": 50,
                "error": error,
                "body": body,
                "method": "POST",
                "url": "u",
                "headers": None,
            }
        )
        + b"\n"
    )


def test_results_become_the_same_outcome_as_the_python_generator():
    rate = 10.0  # due at 0.0, 0.1, 0.2, ...
    lines = [
        result(0, 0.00, 0.010, 201, "e0"),
        result(1, 0.10, 0.020, 201, "e1"),
        result(2, 0.25, 0.005, 201, "e2"),  # sent 50 ms late
        result(3, 0.30, 0.004, 409),  # a refusal
        result(4, 0.40, 0.002, 503),  # a server error
        result(5, 0.50, 30.0, 0, error="timeout"),  # a transport error: no status
        b"\n",
    ]
    out = vegeta.parse_results(lines, rate, planned=8)
    assert (out.offered, out.accepted, out.refused, out.errored, out.dropped) == (8, 3, 1, 4, 2)
    assert out.statuses == {201: 3, 409: 1, 503: 1}
    assert [e for e, _ in out.events] == ["e0", "e1", "e2"]
    assert out.events[1][1] == pytest.approx(T0.timestamp() + 0.12, abs=1e-6)
    # Latency runs from the scheduled time, so the late send shows in it.
    assert out.latencies == pytest.approx([0.010, 0.020, 0.055], abs=1e-6)
    assert max(out.send_lag) == pytest.approx(0.05, abs=1e-6)
    assert min(out.send_lag) == pytest.approx(0, abs=1e-6)
    assert out.wall_seconds == pytest.approx(30.5, abs=1e-6)


def test_a_201_with_a_transport_error_is_not_accepted():
    out = vegeta.parse_results([result(0, 0, 0.01, 201, "e0", error="body read: EOF")], 1, 1)
    assert (out.accepted, out.errored, out.events) == (0, 1, [])


def test_no_results_at_all_count_every_planned_request_as_dropped():
    out = vegeta.parse_results([], 100, planned=300)
    assert (out.offered, out.dropped, out.errored, out.accepted) == (300, 300, 300, 0)


def test_an_extra_request_past_the_plan_is_counted_offered():
    out = vegeta.parse_results([result(i, i / 10, 0.01, 201, f"e{i}") for i in range(3)], 10, 2)
    assert (out.offered, out.dropped, out.accepted) == (3, 0, 3)
