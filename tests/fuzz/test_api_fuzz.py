"""The schemathesis CLI with every check against each HTTP service's own OpenAPI document,
served by the real processes on real PostgreSQL and Kafka: the same command as

    schemathesis run http://127.0.0.1:800N/openapi.json \\
        -H 'Authorization: Bearer <token with fan,creator,admin>' --checks all -n 100

run against `make run`, with fewer examples per operation (COINSTREAM_FUZZ_EXAMPLES, default
30; 100 for the full run) and a printed seed (COINSTREAM_FUZZ_SEED replays one). Every phase
runs (examples, coverage, fuzzing, stateful): no 5xx, every status, header, content type and
body as documented, schema-valid requests accepted, schema-invalid ones refused, auth enforced
where the document says it is. The admin role is in the token so admin routes are exercised
past their role check (their 403 is in test_security)."""

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from eventkit.auth import mint_token

EXAMPLES = int(os.environ.get("COINSTREAM_FUZZ_EXAMPLES", "30"))
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Per-operation expectations the document cannot carry (each entry says why).
CONFIG = Path(__file__).with_name("schemathesis.toml")


def schemathesis_command(base: str, token: str, examples: int, seed: int) -> list[str]:
    return [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/openapi.json",
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "-n",
        str(examples),
        "--seed",
        str(seed),
        "--no-color",
    ]


@pytest.mark.parametrize("service", ["recharge", "gifting", "payout", "projections"])
def test_every_schemathesis_check_passes(system, service, tmp_path):
    token = mint_token(system.settings, f"fuzz-{service}", roles=["fan", "creator", "admin"])
    seed = int(os.environ.get("COINSTREAM_FUZZ_SEED") or random.randrange(2**63))
    command = schemathesis_command(system.url(service), token, EXAMPLES, seed)
    # Run from an empty directory: the CLI keeps its example database under ./.schemathesis.
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    print(f"\nschemathesis {service} (-n {EXAMPLES} --seed {seed}):\n" + done.stdout[-1500:])
    assert done.returncode == 0, (
        f"schemathesis found failures in {service} (replay: COINSTREAM_FUZZ_SEED={seed}"
        f" COINSTREAM_FUZZ_EXAMPLES={EXAMPLES}):\n{done.stdout[-12000:]}\n{done.stderr[-2000:]}"
    )
