"""The pure cores import neither Django nor anything of the web platform."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORES = ["dataflow.astro", "scheduling.engine", "dataflow.demo"]


def _modules(package: str) -> list[str]:
    # Every .py file on disk, subpackages included. (pkgutil.walk_packages without a prefix
    # saw only the top level and silently skipped the subpackages it could not import.)
    path = ROOT / package.replace(".", "/")
    names = []
    for file in sorted(path.rglob("*.py")):
        parts = file.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_module_list_reaches_the_modules_of_subpackages() -> None:
    # given the engine core, whose code lives in subpackages
    # when
    modules = _modules("scheduling.engine")
    # then
    assert "scheduling.engine.longterm.cpsat" in modules
    assert "scheduling.engine.longterm.checker" in modules
    assert "scheduling.engine.ranking.engine" in modules
    assert "dataflow.astro.visibility" in _modules("dataflow.astro")


@pytest.mark.parametrize("package", CORES)
def test_core_imports_no_django(package: str) -> None:
    # given every module of the core, imported in a fresh interpreter without Django settings
    modules = [m for m in _modules(package) if not m.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    before = set(sys.modules)\n"
        "    importlib.import_module(name)\n"
        "    bad = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "{'django', 'rest_framework', 'celery', 'proposals', 'observations', 'archive'})\n"
        "    if bad:\n"
        "        print(name, 'imports', ','.join(bad[:5]))\n"
    )
    # when
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    # then
    assert out.stdout.strip() == "", (
        f"{package} pulled in Django or the web platform:\n{out.stdout}"
    )


# Pure modules living inside a Django app: only the module, its (empty) parent packages and
# other pure modules may be imported from the app.
CORE_MODULES = [
    "proposals.review.optimiser.problem",
    "proposals.review.optimiser.solve",
    "proposals.review.optimiser.greedy",
    "proposals.review.optimiser.checker",
    "proposals.review.grades",
    "observations.parameters",
    "observations.exectime",
    "observations.windows",
    "observations.status",
    "observations.visibility",
    "observations.rawdata_plan",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_django(module: str) -> None:
    # given the module imported alone in a fresh interpreter without Django settings
    own = {module.rsplit(".", k)[0] for k in range(module.count(".") + 1)} | set(CORE_MODULES)
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'celery', 'proposals', 'observations', 'archive'} "
        f"and m not in {own!r})\n"
        "print(','.join(bad[:5]))\n"
    )
    # when
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    # then
    assert out.stdout.strip() == "", f"{module} pulled in Django or the web platform: {out.stdout}"
