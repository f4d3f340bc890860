"""The pure cores import neither Django nor anything of the web platform."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORES = ["dataflow.astro", "scheduling.engine", "dataflow.demo"]


def _modules(package: str) -> list[str]:
    path = ROOT / package.replace(".", "/")
    return [package] + [f"{package}.{m.name}" for m in pkgutil.walk_packages([str(path)])]


@pytest.mark.parametrize("package", CORES)
def test_core_imports_no_django(package):
    # given every module of the core, imported in a fresh interpreter without Django settings
    modules = [m for m in _modules(package) if not m.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'celery', 'proposals', 'observations', 'archive'})\n"
        "print(','.join(bad))\n"
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
    assert out.stdout.strip() == "", f"{package} pulled in: {out.stdout.strip()}"
