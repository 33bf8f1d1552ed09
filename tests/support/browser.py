"""Debian's Chromium and its chromedriver for the dashboards' browser tests, installed as
PostgreSQL and Node.js are when missing (apt-get, as root); never downloaded from elsewhere.

    python -m tests.support.browser   # prints the chromium and chromedriver paths
"""

import os
import shutil
import subprocess
import sys

PACKAGES = ("chromium", "chromium-driver")


def _found() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def ensure_chromium() -> tuple[str, str]:
    """Paths of chromium and chromedriver, installing Debian's packages when missing."""
    found = _found()
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        print("browser: installing Debian's chromium and chromium-driver", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", *PACKAGES], check=True, env=env)
        found = _found()
        if found:
            return found
    sys.exit(
        "Chromium and chromedriver are needed: sudo apt-get install -y chromium chromium-driver"
    )


if __name__ == "__main__":
    print("\n".join(ensure_chromium()))
