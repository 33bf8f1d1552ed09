"""The payout config (config.json) is typed, exact and immutable once loaded."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.payout.conversion import CONFIG_FILE, PayoutConfig, load_config


def test_rates_are_exact_decimals_and_the_config_cannot_be_changed_in_place():
    cfg = load_config()
    assert cfg.rates.usd_per_diamond == Decimal("0.005")
    assert all(isinstance(v, Decimal) for v in cfg.rates.usd_per_unit.values())
    with pytest.raises(ValidationError):
        cfg.rates.version = 99  # type: ignore[misc]


def test_an_unknown_or_missing_setting_is_refused_at_load():
    raw = CONFIG_FILE.read_text()
    with pytest.raises(ValidationError):
        PayoutConfig.model_validate_json(raw.replace('"banned_may_withdraw"', '"banned_may"'))
