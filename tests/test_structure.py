"""The rules the tree keeps: engines know nothing of pytest, ``import pytest_llmserver`` loads no
simulator, a run of the plugin without a server loads no heavy module, every module imports on
its own, modules stay small, and each package's ``__all__`` is its contract (other packages
import only through it, and it holds nothing unused)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pytest_llmserver"
MAX_LINES = 400
PYTEST_SIDE = {"plugin", "suites"}
NOT_APIS = {"suites"}  # test modules the plugin collects, not a package others import
PYTEST_MODULES = ("pytest", "_pytest", "pytest_asyncio", "xdist", "pluggy")
HEAVY = (
    "numpy",
    "matplotlib",
    "httpx",
    "httpcore",
    "yaml",
    "prometheus_client",
    "pytest_llmserver.sim",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    """The package (or root module) a module belongs to: ``pytest_llmserver.stress.engine``
    -> ``stress``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def packages() -> set[str]:
    return {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - NOT_APIS


@cache
def imports(module: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) of every import in ``module`` (function-level ones too)."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module, tuple(a.name for a in node.names)))
    return found


def face(package: str) -> set[str]:
    """The names in ``pytest_llmserver.<package>.__all__`` (read from the source)."""
    tree = ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            return set(value)
    return set()


def test_engines_import_neither_pytest_nor_the_plugin() -> None:
    offenders = [
        f"{module}:{line} imports {target}"
        for module in modules()
        if room(module) not in PYTEST_SIDE
        for line, target, _ in imports(module)
        if target.split(".")[0] in PYTEST_MODULES or room(target) == "plugin"
    ]
    assert not offenders, "\n".join(offenders)


def _fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_pytest_llmserver_loads_no_simulator() -> None:
    code = (
        "import sys, json, pytest_llmserver as p\n"
        "bare = [m for m in sys.modules if m.startswith('pytest_llmserver.sim')]\n"
        "[getattr(p, name) for name in p.__all__]\n"
        "used = [m for m in sys.modules if m.startswith('pytest_llmserver.sim')]\n"
        "print(json.dumps([bare, used]))\n"
    )
    bare, used = json.loads(_fresh(code))
    assert bare == [], "import pytest_llmserver loads the simulator"
    assert used == [], "a public name of pytest_llmserver loads the simulator"


TRIVIAL_TEST = """import pytest


@pytest.mark.llm
def test_one(llm_settings):
    pass
"""

RECORD_LOADED = """import json, sys


def pytest_unconfigure(config):
    loaded = {h for h in HEAVY for m in sys.modules if m == h or m.startswith(h + ".")}
    with open("loaded.json", "w") as out:
        json.dump(sorted(loaded), out)
"""


def test_a_run_without_a_server_loads_no_heavy_module(tmp_path: Path) -> None:
    """Registering the plugin (options, fixtures, settings), collecting and running a test that
    uses its marker and fixture imports no numpy, matplotlib, httpx, yaml or simulator: the
    engines load when a server, a chart or a task file needs them."""
    (tmp_path / "conftest.py").write_text(f"HEAVY = {HEAVY!r}\n{RECORD_LOADED}", encoding="utf-8")
    (tmp_path / "test_trivial.py").write_text(TRIVIAL_TEST, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # other plugins (respx) import httpx
    plugins = ["-p", "pytest_llmserver.plugin", "-p", "pytest_asyncio.plugin"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    loaded = json.loads((tmp_path / "loaded.json").read_text(encoding="utf-8"))
    assert loaded == [], f"a run without a server loads {loaded}"


def test_every_module_imports_on_its_own() -> None:
    """Each module imported first thing in a clean package state (every ``pytest_llmserver``
    module dropped from ``sys.modules`` before it), so no cycle hides behind import order."""
    names = [m for m in modules() if not m.endswith("__main__")]
    code = (
        "import importlib, json, sys, traceback\n"
        f"failed = {{}}\nfor name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('pytest_llmserver')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        failed[name] = traceback.format_exc(limit=-3)\n"
        "print(json.dumps(failed))\n"
    )
    failed = json.loads(_fresh(code))
    assert not failed, "\n".join(f"{k}:\n{v}" for k, v in failed.items())


def test_no_module_is_over_400_lines() -> None:
    long = {
        module: n
        for module, path in modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_package_has_a_face() -> None:
    for package in sorted(packages()):
        names = face(package)
        assert names, f"pytest_llmserver.{package} has no __all__"
        module = __import__(f"pytest_llmserver.{package}", fromlist=["*"])
        missing = sorted(n for n in names if not hasattr(module, n))
        assert not missing, f"pytest_llmserver.{package}.__all__ names missing: {missing}"


def test_no_face_name_is_also_a_submodule_name() -> None:
    """A lazy face cannot give a name that is also a submodule: importing the submodule (for
    any other name) puts the module on the package under that name, hiding the one meant."""
    for package in sorted(packages()):
        folder = PACKAGE / package
        if "lazy_face(" not in (folder / "__init__.py").read_text(encoding="utf-8"):
            continue  # an eager face binds its names after importing the submodules
        submodules = {p.stem for p in folder.glob("*.py")} | {
            p.parent.name for p in folder.glob("*/__init__.py")
        }
        clash = sorted(face(package) & submodules)
        assert not clash, f"pytest_llmserver.{package}: face names that are submodules: {clash}"


def test_packages_import_each_other_through_their_faces() -> None:
    offenders = []
    for module in modules():
        for line, target, names in imports(module):
            other = room(target)
            if not target.startswith("pytest_llmserver.") or other == room(module):
                continue
            if other not in packages():
                continue  # a root module (options, settings, _version)
            where = f"{module}:{line}"
            if target != f"pytest_llmserver.{other}":
                offenders.append(f"{where} imports {target} (not the face)")
            elif unknown := sorted(set(names) - face(other) - {"*"}):
                offenders.append(f"{where} imports {unknown} not in {target}.__all__")
    assert not offenders, "\n".join(offenders)


def _outside_uses() -> dict[str, set[str]]:
    """Names used from each face by other packages, the top-level API, the tests, the
    benchmarks and examples, and the README's code."""
    used: dict[str, set[str]] = {p: set() for p in packages()}
    for module in modules():
        for _, target, names in imports(module):
            other = room(target)
            if other in used and other != room(module):
                used[other].update(names)
    top = (PACKAGE / "__init__.py").read_text(encoding="utf-8")
    texts = [top, (ROOT / "README.md").read_text(encoding="utf-8")]
    for folder in ("tests", "benchmarks", "example_suites"):
        texts += [p.read_text(encoding="utf-8") for p in (ROOT / folder).rglob("*.py")]
    text = "\n".join(texts)
    for package in used:
        for name in face(package):
            if re.search(rf"\bpytest_llmserver\.{package}\b[\s\S]{{0,600}}?\b{name}\b", text):
                used[package].add(name)
    return used


def test_faces_hold_only_names_used_outside() -> None:
    """Each face is a contract: every name in it is used by another package, by users (the
    top-level API, README, examples, benchmarks) or by the tests of that behaviour."""
    used = _outside_uses()
    unused = {
        package: sorted(face(package) - used[package])
        for package in sorted(packages())
        if face(package) - used[package]
    }
    assert not unused, f"names in a face that nothing outside its package uses: {unused}"
