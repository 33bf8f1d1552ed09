"""What pyproject.toml and the Makefile say about the tests is true: every test path holds
tests, and every marker a make target selects on is declared and set by some test (a filter on
a marker nobody sets selects nothing and reads as if it did)."""

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTEST = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]


def test_every_test_path_holds_tests() -> None:
    for path in PYTEST["testpaths"]:
        assert list((ROOT / path).rglob("test_*.py")), f"testpaths lists {path}, which has no tests"


def make_marker_expressions() -> list[str]:
    """The `-m EXPR` of every pytest the Makefile runs (not `python -m pytest` itself)."""
    expressions = []
    for line in (ROOT / "Makefile").read_text().splitlines():
        words = shlex.split(line.strip()) if "pytest" in line else []
        expressions += [
            after for word, after in zip(words, words[1:], strict=False) if word == "-m"
        ]
    return [e for e in expressions if e != "pytest"]


def test_every_marker_a_make_target_selects_on_is_declared_and_set() -> None:
    declared = {marker.split(":")[0] for marker in PYTEST["markers"]}
    source = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    for expression in make_marker_expressions():
        for marker in set(re.findall(r"\w+", expression)) - {"and", "or", "not"}:
            assert marker in declared, f"the Makefile selects on {marker}, not declared"
            assert re.search(rf"pytest\.mark\.{marker}\b", source), f"no test is marked {marker}"


def test_test_fast_runs_the_unit_tests() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test-fast:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no test-fast target"
    assert recipe.group(1).split()[-1] == "tests/unit", recipe.group(1)
