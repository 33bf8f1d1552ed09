"""The read API serves the dashboard's ECharts from where `python -m infra.node install` puts it,
in the clone's cache dir or COINSTREAM_CACHE's (a private cache: `make run` with other ports)."""

import os
import subprocess
import sys

from infra.paths import ROOT

PROBE = (
    "from infra.node import HOME;"
    "from services.projections.dashboard import ASSETS;"
    "print(ASSETS['echarts.min.js']); print(HOME)"
)


def served_and_installed(env: dict[str, str]) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], out[1]


def test_the_assets_are_served_from_the_cache_they_are_installed_in(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COINSTREAM_CACHE"}
    served, home = served_and_installed(env)
    assert served.startswith(home + "/"), (served, home)
    served, home = served_and_installed({**env, "COINSTREAM_CACHE": str(tmp_path)})
    assert home == str(tmp_path / "node") and served.startswith(home + "/"), (served, home)
