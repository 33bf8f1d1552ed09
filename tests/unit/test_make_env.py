"""`python -m scripts.make_env` writes a .env holding every secret any production process
needs (what the start-up check asks each one for), strong enough for it, without the token
minting key, and a second run keeps every value (a running stack's passwords stay valid)."""

import os
import stat

from eventkit import secrets
from eventkit.settings import SERVICES
from scripts import make_env

ROLES = {
    "recharge": ["api", "relay", "consumer", "migrate", "worker"],
    "gifting": ["api", "relay", "consumer", "migrate"],
    "payout": ["api", "relay", "consumer", "migrate", "worker"],
    "projections": ["api", "worker", "rebuild", "migrate"],
}


def read_env(path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and line[0] != "#"]
    return dict(line.split("=", 1) for line in lines)


def test_the_env_file_has_every_secret_the_processes_need(tmp_path):
    env_path = tmp_path / ".env"
    make_env.main(["--dir", str(tmp_path / "compose"), "--env", str(env_path)])
    env = read_env(env_path)
    assert stat.S_IMODE(os.stat(env_path).st_mode) == 0o600
    assert set(ROLES) == set(SERVICES)
    wanted = {
        secrets.env_name(name)
        for service, roles in ROLES.items()
        for role in roles
        for name in secrets.needed(service, role)
    }
    wanted |= {"RECHARGE_WEBHOOK_SECRET", "PAYOUT_CALLBACK_SECRET", "POSTGRES_PASSWORD"}
    wanted |= {f"{p.upper()}_KAFKA_PASSWORD" for p in ("accounts", "moderation", "admin")}
    assert wanted <= set(env), wanted - set(env)
    for name, value in env.items():
        secrets.strong(name, value)
    assert "JWT_SIGNING_KEY" not in env
    assert (tmp_path / "compose" / "jwks.json").exists()

    make_env.main(["--dir", str(tmp_path / "compose"), "--env", str(env_path)])
    assert read_env(env_path) == env
