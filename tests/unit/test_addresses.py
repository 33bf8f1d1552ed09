"""`make run` prints the addresses its processes really use: `python -m infra addresses` reads
the same settings (COINSTREAM_*_PORT for the native servers, KAFKA_BOOTSTRAP_SERVERS,
DATABASE_URL, <SERVICE>_PORT), not the defaults."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OVERRIDDEN = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "HOST", "DB_PREFIX")


def addresses(**env: str) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("COINSTREAM_") or k.endswith("_PORT") or k in OVERRIDDEN)
    }
    run = subprocess.run(
        [sys.executable, "-m", "infra", "addresses"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return run.stdout


def test_native_ports_from_the_environment_are_printed():
    out = addresses(
        COINSTREAM_KAFKA_PORT="29092",
        COINSTREAM_POSTGRES_PORT="25432",
        GIFTING_PORT="9002",
        PROJECTIONS_METRICS_PORT="9005",
    )
    assert "kafka       127.0.0.1:29092" in out
    assert "postgres    postgresql://coinstream:coinstream@127.0.0.1:25432/postgres" in out
    assert "gifting     http://127.0.0.1:9002/docs" in out
    assert "metrics http://127.0.0.1:9005/metrics" in out
    assert "19092" not in out and "15432" not in out


def test_the_defaults_and_endpoints_named_outright():
    assert "kafka       127.0.0.1:19092" in addresses()
    out = addresses(
        KAFKA_BOOTSTRAP_SERVERS="broker:9092",
        DATABASE_URL="postgresql://app:s3cret@db:5432/postgres",
        DB_PREFIX="prod",
    )
    assert "kafka       broker:9092" in out
    assert (
        "postgres    postgresql://app:***@db:5432/postgres" in out
    )  # a real password is not shown
    assert "s3cret" not in out
    assert "database prod_projections" in out


def test_make_run_prints_them_with_that_command():
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "python -m infra run" in recipe and "19092" not in recipe
