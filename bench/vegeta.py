"""The compiled open-loop generator: vegeta (a Go module, built once by `go install` into
.cache/bin). On two shared cores an asyncio client at 2,000 requests/s takes a good part of a
core from the system it measures; vegeta sends the same requests for a fraction of that.

Every request is distinct, as with the Python generator: its own Idempotency-Key, a fan's
token, a creator picked the same way. They are written up front as vegeta's JSON targets (one
per line, base64 body, headers as lists) and vegeta sends each once, at `rate`/s, for
`duration` s. Its results (`vegeta encode -to json`: seq, code, timestamp, latency, error and the
response body in base64) become the same `load.Outcome`: accepted / refused / errored, the
event ids of accepted gifts (from the bodies, for the visibility measure), and latencies from
each request's *scheduled* time (`began + seq / rate`), so a stalled server cannot hide its
queueing here either (vegeta starts more workers rather than delay a due request, up to
`max_in_flight`; requests it never sent count as dropped)."""

import base64
import datetime
import os
import random
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from bench import load
from infra.paths import CACHE

MODULE = "github.com/tsenart/vegeta/v12"
VERSION = "v12.13.0"
BIN = CACHE / "bin" / "vegeta"
WORK = CACHE / "bench"


def binary(install: bool = True, say=print) -> str | None:
    """The vegeta binary, built on first use with the Go toolchain (None if it cannot be)."""
    if BIN.exists():
        return str(BIN)
    go = shutil.which("go") or next(
        (g for g in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if Path(g).exists()), None
    )
    if not install or not go:
        if install:
            say("  vegeta: no Go toolchain found; using the Python generator")
        return None
    say(f"  vegeta: go install {MODULE}@{VERSION} into {BIN.parent} (once, ~1-2 min) ...")
    env = {
        **os.environ,
        "GOBIN": str(BIN.parent),
        "GOPATH": str(CACHE / "go"),
        "GOFLAGS": "-modcacherw",
        "CGO_ENABLED": "0",
        # build with the installed Go (vegeta needs 1.22+), never download another toolchain
        "GOTOOLCHAIN": "local",
    }
    try:
        done = subprocess.run(
            [go, "install", f"{MODULE}@{VERSION}"],
            env=env,
            text=True,
            capture_output=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired:
        say("  vegeta: go install timed out; using the Python generator")
        return None
    if done.returncode or not BIN.exists():
        say(
            f"  vegeta: go install failed ({done.stderr.strip()[-300:]}); using the Python "
            "generator"
        )
        return None
    return str(BIN)


def targets(plan: load.Plan, count: int) -> Iterator[bytes]:
    """`count` distinct gift POSTs as vegeta JSON target lines (seeded like the Python
    generator: same fan and creator choice)."""
    rng = random.Random(plan.seed)
    auth = [[f"Bearer {tok}"] for _, tok in plan.fan_tokens]
    for _ in range(count):
        header = {
            "Authorization": auth[rng.randrange(len(auth))],
            "Content-Type": ["application/json"],
            # random, not seeded: two steps at one rate share a seed, never a key
            "Idempotency-Key": [str(uuid.uuid4())],
        }
        body = load._body(plan, rng)
        yield (
            orjson.dumps(
                {
                    "method": "POST",
                    "url": plan.url,
                    "header": header,
                    "body": base64.b64encode(body).decode(),
                }
            )
            + b"\n"
        )


_FRACTION = re.compile(r"(\.\d{6})\d+")


def epoch(ts: str) -> float:
    """RFC 3339 with nanoseconds (Go's time.Time in JSON) -> seconds since the epoch."""
    return datetime.datetime.fromisoformat(_FRACTION.sub(r"\1", ts)).timestamp()


def parse_results(lines: Iterable[bytes], rate: float, planned: int) -> load.Outcome:
    """vegeta's JSON results -> Outcome. `planned` requests were due; any vegeta did not send
    count as dropped (errored). Latency of an accepted gift = from its scheduled time
    (began + seq / rate, began being the earliest such origin) to its reply."""
    rows = []
    for line in lines:
        if line.strip():
            r = orjson.loads(line)
            rows.append(
                (
                    r["seq"],
                    epoch(r["timestamp"]),
                    r["latency"] / 1e9,
                    r["code"],
                    r.get("error") or "",
                    r.get("body"),
                )
            )
    out = load.Outcome()
    if not rows:
        out.offered = out.dropped = out.errored = planned
        return out
    began = min(ts - seq / rate for seq, ts, *_ in rows)
    end = began
    for seq, ts, latency, code, error, body in rows:
        due = began + seq / rate
        out.send_lag.append(ts - due)
        end = max(end, ts + latency)
        if code:
            out.statuses[code] = out.statuses.get(code, 0) + 1
        if error or not code or code >= 500:  # transport error, timeout, or a server error
            out.errored += 1
        elif code == 201:
            out.accepted += 1
            out.latencies.append(ts + latency - due)
            out.events.append((orjson.loads(base64.b64decode(body))["event_id"], ts + latency))
        else:
            out.refused += 1
    out.offered = max(planned, len(rows))
    out.dropped = out.offered - len(rows)
    out.errored += out.dropped
    out.wall_seconds = end - began
    return out


def attack(plan: load.Plan, vegeta: str, on_start=lambda: None) -> load.Outcome:
    """Runs one open-loop step with vegeta; the Outcome's cpu_seconds is vegeta's own (the
    attack only: encoding the results afterwards competes with nothing). `on_start` is called
    once the targets are written, right before the attack starts."""
    WORK.mkdir(parents=True, exist_ok=True)
    stem = WORK / f"vegeta-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tfile, rfile, efile = (stem.with_suffix(s) for s in (".targets", ".bin", ".err"))
    planned = int(plan.rate * plan.duration)
    try:
        with tfile.open("wb") as f:
            # A few spare targets: vegeta cycles through the list, and must never resend a key.
            f.writelines(targets(plan, planned + max(10, planned // 20)))
        time.sleep(max(0.0, plan.start_at - time.time()))
        on_start()
        with efile.open("wb") as err:
            proc = subprocess.Popen(
                [
                    vegeta,
                    "attack",
                    "-format=json",
                    f"-targets={tfile}",
                    f"-output={rfile}",
                    # per 1000 s, so a fractional rate is kept exactly
                    f"-rate={round(plan.rate * 1000)}/1000s",
                    f"-duration={plan.duration}s",
                    f"-workers={min(plan.connections, plan.max_in_flight)}",
                    f"-max-workers={plan.max_in_flight}",
                    f"-connections={plan.connections}",
                    f"-max-connections={plan.connections}",
                    "-timeout=30s",
                    "-http2=false",
                ],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(
                f"vegeta attack exited {proc.returncode}: {efile.read_text()[-500:]}"
            )
        enc = subprocess.Popen(
            [vegeta, "encode", "-to", "json", str(rfile)], stdout=subprocess.PIPE
        )
        out = parse_results(enc.stdout or (), plan.rate, planned)  # stdout=PIPE: a stream
        if enc.wait():
            raise RuntimeError(f"vegeta encode exited {enc.returncode}")
        out.cpu_seconds = usage.ru_utime + usage.ru_stime
        return out
    finally:
        for path in (tfile, rfile, efile):
            path.unlink(missing_ok=True)
