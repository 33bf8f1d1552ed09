"""With COINSTREAM_ENV=production a real service process refuses to start, naming the setting,
when a secret it needs is unset, a development default or too short, or when its public keys
would come from the development files; with everything set it gets past the check (to where it
connects to PostgreSQL: here a closed port, so it waits there)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG = "s3cret-" + "x" * 40
# What a production `gifting api` needs: its login's password and the identity provider's JWKS.
GIFTING_API = {
    "GIFTING_DATABASE_PASSWORD": STRONG,
    "GIFTING_KAFKA_PASSWORD": STRONG,  # its /readyz asks Kafka
    "GIFTING_PARTNER_SIGNING_KEY": STRONG,  # it signs partners' access tokens
    "JWT_JWKS_URL": "https://idp.example/jwks",
}
SECRET_LIKE = ("_PASSWORD", "_SIGNING_KEY", "_SECRET", "JWT_JWKS_URL", "EVENT_KEYRING")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once this is closed


def start(tmp_path: Path, module: str, role: str, **env: str) -> subprocess.Popen:
    """`python -m <module> <role>` in production with exactly these secrets: none inherited,
    no development secrets directory, no .env (the working directory is empty)."""
    inherited = {k: v for k, v in os.environ.items() if not k.endswith(SECRET_LIKE)}
    return subprocess.Popen(
        [sys.executable, "-m", module, role],
        cwd=tmp_path,
        env={
            **inherited,
            "PYTHONPATH": str(ROOT),
            "COINSTREAM_ENV": "production",
            "SECRETS_DIR": str(tmp_path / "no-secrets"),
            "DATABASE_URL": f"postgresql://admin:{STRONG}@127.0.0.1:{closed_port()}/postgres",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def refused(proc: subprocess.Popen) -> str:
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0, stderr
    return stderr


CASES = {
    "login password unset": (
        "services.gifting",
        "api",
        {"JWT_JWKS_URL": "https://idp.example/jwks"},
        ["GIFTING_DATABASE_PASSWORD is not set", "GIFTING_KAFKA_PASSWORD is not set"],
    ),
    "login password short": (
        "services.gifting",
        "api",
        {**GIFTING_API, "GIFTING_DATABASE_PASSWORD": "short"},
        ["GIFTING_DATABASE_PASSWORD is a development default or shorter"],
    ),
    "login password a dev default": (
        "services.gifting",
        "api",
        {**GIFTING_API, "GIFTING_DATABASE_PASSWORD": "dev-only-" + "x" * 40},
        ["GIFTING_DATABASE_PASSWORD is a development default"],
    ),
    "no JWKS set (the dev file would serve)": (
        "services.gifting",
        "api",
        {"GIFTING_DATABASE_PASSWORD": STRONG},
        ["JWT_JWKS_URL is not set"],
    ),
    "a JWKS over plain http": (
        "services.gifting",
        "api",
        {**GIFTING_API, "JWT_JWKS_URL": "http://idp.example/jwks"},
        ["JWT_JWKS_URL must be https://"],
    ),
    "the relay without its Kafka password and signing key": (
        "services.gifting",
        "relay",
        {"GIFTING_DATABASE_PASSWORD": STRONG},
        ["GIFTING_KAFKA_PASSWORD is not set", "GIFTING_SIGNING_KEY is not set"],
    ),
    "a consumer without the event keyring": (
        "services.gifting",
        "consumer",
        {"GIFTING_DATABASE_PASSWORD": STRONG, "GIFTING_KAFKA_PASSWORD": STRONG},
        ["EVENT_KEYRING is not set"],
    ),
    "the read API without its read-only login's password": (
        "services.projections",
        "api",
        {"JWT_JWKS_URL": "https://idp.example/jwks", "PROJECTIONS_DATABASE_PASSWORD": STRONG},
        ["PROJECTIONS_READER_DATABASE_PASSWORD is not set"],
    ),
    "recharge's webhook secret left at its dev default": (
        "services.recharge",
        "api",
        {"RECHARGE_DATABASE_PASSWORD": STRONG, "JWT_JWKS_URL": "https://idp.example/jwks"},
        ["RECHARGE_WEBHOOK_SECRET is a development default"],
    ),
    "payout's callback secret a dev value": (
        "services.payout",
        "api",
        {
            "PAYOUT_DATABASE_PASSWORD": STRONG,
            "JWT_JWKS_URL": "https://idp.example/jwks",
            "PAYOUT_CALLBACK_SECRET": "dev-only-mine-" + "y" * 31,
        },
        ["PAYOUT_CALLBACK_SECRET is a development default"],
    ),
}


def test_a_production_process_names_every_setting_it_lacks(tmp_path):
    procs = {name: start(tmp_path, m, role, **env) for name, (m, role, env, _) in CASES.items()}
    for name, proc in procs.items():
        stderr = refused(proc)
        for expected in CASES[name][3]:
            assert expected in stderr, f"{name}: {stderr[-2000:]}"


@pytest.mark.parametrize(
    ("module", "role", "env"),
    [
        ("services.gifting", "api", GIFTING_API),
        (
            "services.gifting",
            "relay",
            {
                "GIFTING_DATABASE_PASSWORD": STRONG,
                "GIFTING_KAFKA_PASSWORD": STRONG,
                "GIFTING_SIGNING_KEY": STRONG,
            },
        ),
    ],
)
def test_with_every_secret_set_it_gets_past_the_check(tmp_path, module, role, env):
    proc = start(tmp_path, module, role, **env)
    try:
        deadline = time.monotonic() + 8
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        waiting = proc.poll() is None  # for PostgreSQL, retrying
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert waiting and "refusing to start" not in stderr, stderr[-2000:]
    assert "refused" in stderr or "Connect call failed" in stderr, stderr[-2000:]
