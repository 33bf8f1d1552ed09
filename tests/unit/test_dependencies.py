"""The hashed locks (requirements/*.lock) pin every dependency pyproject.toml declares, within
its range, and agree with each other; and every third-party module the code imports is declared
itself, not merely brought in by another package (aiohttp once arrived only through faust)."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FIRST_PARTY = {"schemas", "policy", "eventkit", "services", "infra", "bench", "scripts", "tests"}


def name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def declared(*extras: str) -> list[Requirement]:
    lines = PROJECT["dependencies"] + [
        r for e in extras for r in PROJECT["optional-dependencies"][e]
    ]
    return [Requirement(line) for line in lines]


def pins(lock: str) -> dict[str, str]:
    """name -> version of a lock file, checking that each entry is `==` with a hash."""
    text = (ROOT / "requirements" / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z])", text.split("\n", 2)[2] if text.startswith("#") else text)
    found = {}
    for entry in entries:
        if not entry.strip() or entry.lstrip().startswith("#"):
            continue
        head = entry.split()[0]
        assert "==" in head, f"{lock}: {head} is not pinned"
        assert "--hash=sha256:" in entry, f"{lock}: {head} has no hash"
        dist, version = head.split("==")
        found[name(dist)] = version
    return found


LOCKS = {"run.lock": (), "dev.lock": ("dev",), "bench.lock": ("dev", "bench")}


@pytest.mark.parametrize("lock", LOCKS)
def test_a_lock_pins_every_declared_dependency_within_its_range(lock: str) -> None:
    pinned = pins(lock)
    for req in declared(*LOCKS[lock]):
        assert name(req.name) in pinned, f"{req.name} is declared but not in {lock}: make lock"
        assert req.specifier.contains(pinned[name(req.name)], prereleases=True), (
            f"{lock} pins {req.name}=={pinned[name(req.name)]} outside {req.specifier}: make lock"
        )


def test_the_locks_agree_where_they_overlap() -> None:
    # The image (run.lock) and `make bench` (bench.lock) must run what the tests ran (dev.lock).
    dev = pins("dev.lock")
    for other in ("run.lock", "bench.lock"):
        for dist, version in pins(other).items():
            assert dev.get(dist, version) == version, (
                f"{dist}: {other} {version}, dev.lock {dev[dist]}"
            )
    assert set(pins("run.lock")) <= set(dev) <= set(pins("bench.lock"))


def third_party_imports(*packages: str) -> dict[str, str]:
    """Top-level third-party module -> one file importing it."""
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize(
    ("packages", "extras"),
    [
        (("schemas", "policy", "eventkit", "services", "infra", "scripts"), ()),
        (("bench",), ("bench",)),
        (("tests",), ("dev",)),
    ],
)
def test_every_imported_distribution_is_declared(
    packages: tuple[str, ...], extras: tuple[str, ...]
) -> None:
    names = {name(req.name) for req in declared(*extras)}
    distributions = packages_distributions()
    undeclared = {
        module: where
        for module, where in third_party_imports(*packages).items()
        if not any(name(dist) in names for dist in distributions.get(module, [module]))
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
