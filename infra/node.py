"""Node.js for the contract's checks and its Node example: the toolchain (Debian's nodejs and
npm, installed as PostgreSQL is when missing), and each Node project's pinned packages installed
from its committed package-lock.json into a git-ignored folder, .cache/node/<project>/.

A project (tools/asyncapi, tools/dashboard, examples/node) is its package.json, its package-lock.json and its
scripts; they are copied beside the installed node_modules and run from there, so the work
tree never holds a node_modules. `npm ci` runs again only when the lock changes.

    python -m infra.node install              # every project
    python -m infra.node asyncapi [FILE]      # the official AsyncAPI parser on schemas/asyncapi.yaml
    python -m infra.node run examples/node consumer.js ...
    python -m infra.node dashboard            # the dashboard's static assets (Apache ECharts)
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra.paths import CACHE, ROOT

DASHBOARD = ROOT / "tools" / "dashboard"
PROJECTS = (ROOT / "tools" / "asyncapi", DASHBOARD, ROOT / "examples" / "node")
# The files of the dashboard's npm packages the read API serves (name -> path in node_modules).
DASHBOARD_ASSETS = {"echarts.min.js": "echarts/dist/echarts.min.js"}
HOME = CACHE / "node"
MIN_MAJOR = 18  # kafkajs 2 and @asyncapi/parser 3 need it


def _major(node: str) -> int:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    try:
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except ValueError:
        return 0


def ensure_toolchain() -> tuple[str, str]:
    """Paths of node and npm, installing Debian's packages when they are missing (as root)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm and _major(node) >= MIN_MAJOR:
        return node, npm
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        print("node: installing Debian's nodejs and npm", file=sys.stderr, flush=True)
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "nodejs", "npm"], check=True, env=env)
        node, npm = shutil.which("node"), shutil.which("npm")
        if node and npm and _major(node) >= MIN_MAJOR:
            return node, npm
    sys.exit(f"Node.js >= {MIN_MAJOR} and npm are needed: sudo apt-get install -y nodejs npm")


def _fingerprint(project: Path) -> str:
    return hashlib.sha256((project / "package-lock.json").read_bytes()).hexdigest()


def install(project: Path) -> Path:
    """The project's folder under .cache/node with its locked packages and current scripts."""
    _, npm = ensure_toolchain()
    target = HOME / project.name
    target.mkdir(parents=True, exist_ok=True)
    # One installer at a time (parallel test sessions share the cache).
    with open(HOME / f".{project.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = target / ".installed"
        for item in project.iterdir():
            if item.is_file():
                shutil.copy2(item, target / item.name)
        wanted = _fingerprint(project)
        if not stamp.exists() or stamp.read_text() != wanted:
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=target,
                check=True,
            )
            stamp.write_text(wanted)
    return target


def dashboard_assets() -> dict[str, Path]:
    """The dashboard's static files from its locked npm packages (installed when missing), so
    the read API serves them itself and the browser never fetches a CDN."""
    where = install(DASHBOARD) / "node_modules"
    return {name: where / relative for name, relative in DASHBOARD_ASSETS.items()}


def run(
    project: Path, script: str, *args: str, env: dict[str, str] | None = None, timeout=120
) -> subprocess.CompletedProcess[str]:
    """Runs `node <script> args...` in the project's installed folder, capturing its output."""
    node, _ = ensure_toolchain()
    where = install(project)
    return subprocess.run(
        [node, str(where / script), *args],
        cwd=where,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def main(argv: list[str]) -> None:
    if not argv or argv[0] == "install":
        for project in PROJECTS:
            print(install(project))
        return
    if argv[0] == "asyncapi":
        document = Path(argv[1]) if len(argv) > 1 else ROOT / "schemas" / "asyncapi.yaml"
        done = run(ROOT / "tools" / "asyncapi", "validate.js", str(document.resolve()))
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        raise SystemExit(done.returncode)
    if argv[0] == "dashboard":
        for name, path in dashboard_assets().items():
            print(f"{name}\t{path}")
        return
    if argv[0] == "run" and len(argv) >= 3:
        done = run(ROOT / argv[1], argv[2], *argv[3:], timeout=None)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        raise SystemExit(done.returncode)
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
