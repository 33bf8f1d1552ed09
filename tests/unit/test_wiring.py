"""One wiring place per service and one settings tree: every role is on the shared command
line, every address and log level comes from Settings, and routes get their pool and clock
through typed dependencies (eventkit/deps.py), never from `app.state` by hand."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from eventkit.settings import SERVICES, Settings
from services.gifting.__main__ import SPEC as GIFTING
from services.payout.__main__ import SPEC as PAYOUT
from services.payout.settings import PayoutSettings
from services.recharge.__main__ import SPEC as RECHARGE
from services.recharge.settings import RechargeSettings

ROOT = Path(__file__).resolve().parents[2]


def sources(*dirs: str) -> dict[Path, str]:
    return {p: p.read_text() for d in dirs for p in (ROOT / d).rglob("*.py")}


def test_the_worker_role_belongs_to_the_spec():
    assert RECHARGE.worker is not None and PAYOUT.worker is not None
    assert GIFTING.worker is not None  # subscription renewals
    for main in (
        "services/recharge/__main__.py",
        "services/payout/__main__.py",
        "services/gifting/__main__.py",
    ):
        assert "sys.argv" not in (ROOT / main).read_text()


def test_ports_and_host_come_from_the_settings(monkeypatch):
    monkeypatch.setenv("GIFTING_PORT", "9002")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    s = Settings(_env_file=None)
    assert s.url_for("gifting") == "http://127.0.0.1:9002"
    assert (s.host, s.log_level) == ("0.0.0.0", "DEBUG")
    for name in ("GIFTING_PORT", "HOST", "LOG_LEVEL"):
        monkeypatch.delenv(name)
    defaults = Settings(_env_file=None)
    assert [defaults.port_for(name) for name in SERVICES] == [8001, 8002, 8003, 8004]
    assert defaults.projections_metrics_port == 8005


def test_no_environment_reads_outside_the_settings():
    for path, text in sources("services", "eventkit").items():
        if path.name == "local.py":  # the native servers' COINSTREAM_* ports, below Settings
            continue
        if path.name == "secrets.py":  # secrets by name (`<NAME>`), beside the settings
            continue
        code = "\n".join(line.split("#")[0] for line in text.splitlines())
        assert not re.search(r"os\.environ|getenv", code), f"{path} reads the environment"


def test_routes_take_the_pool_and_clock_as_dependencies():
    for path, text in sources("services").items():
        assert "request.app.state.pool" not in text, path
    assert "logging.basicConfig" not in "".join(sources("services").values())


def test_a_service_reads_one_validated_tree(monkeypatch):
    """Recharge's and payout's own settings extend the shared ones: one object per process,
    the same variable names as ever, refused whole when any part is invalid."""
    assert RECHARGE.settings is RechargeSettings and PAYOUT.settings is PayoutSettings
    monkeypatch.setenv("RECHARGE_WEBHOOK_SECRET", "s" * 40)
    monkeypatch.setenv("WEBHOOK_SECRET", "not-this-one-" * 4)
    monkeypatch.setenv("DB_PREFIX", "ns1")
    monkeypatch.setenv("PAYOUT_PORT", "9003")
    monkeypatch.delenv("PAYOUT_CALLBACK_URL", raising=False)
    recharge = RechargeSettings(_env_file=None)
    assert (recharge.webhook_secret, recharge.db_prefix) == ("s" * 40, "ns1")
    payout = PayoutSettings(_env_file=None)
    assert payout.sandbox_callback_url().startswith("http://127.0.0.1:9003/")
    monkeypatch.setenv("RECHARGE_MAX_PURCHASES_PER_HOUR", "0")
    with pytest.raises(ValidationError):
        RechargeSettings(_env_file=None)
