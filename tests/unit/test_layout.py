"""Every module of the production packages is used by production code (or is a command of its
own): a module only tests and scripts import, such as the projections' test oracle, belongs
under tests/support, not among the services."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ["schemas", "policy", "eventkit", "services", "infra"]
# `python -m schemas.generate` (make schemas), `python -m infra.cluster` (make cluster)
COMMANDS = {"schemas.generate", "infra.cluster"}
# The process harness the tests and the benchmark share with `python -m infra`.
HARNESS = {"infra.namespace", "infra.system"}


def modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts): path
        for package in PRODUCTION
        for path in (ROOT / package).rglob("*.py")
    }


def imported_by(name: str, path: Path) -> set[str]:
    """Every module (and module.attribute) that the module `name` imports."""
    package = name.split(".")[:-1]  # a package's own module is named `<package>.__init__`
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def test_every_production_module_is_used_by_production_code() -> None:
    all_modules = modules()
    used = set().union(*(imported_by(name, path) for name, path in all_modules.items()))
    unused = {
        name
        for name in all_modules
        if name not in used
        and name.rsplit(".", 1)[-1] not in ("__init__", "__main__")
        and name not in COMMANDS | HARNESS
    }
    assert not unused, f"only tests or scripts import these; move them to tests/support: {unused}"


# Each layer imports only the layers below it: the launcher and harness in infra/ build on the
# plumbing and the services, never the other way round.
BELOW_INFRA = ["schemas", "policy", "eventkit", "services"]


def test_nothing_below_the_launcher_imports_infra() -> None:
    upward = {
        name: sorted(
            target for target in imported_by(name, path) if target.split(".")[0] == "infra"
        )
        for name, path in modules().items()
        if name.split(".")[0] in BELOW_INFRA
    }
    assert not {name: found for name, found in upward.items() if found}
