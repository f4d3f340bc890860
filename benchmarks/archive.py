"""The archive's benchmark (issue 13): both halves, one after the other, each in its own
process (each creates and drops its own throwaway database).

Run: ``.venv/bin/python -m benchmarks.archive`` (``--quick`` for a smoke run).

- ``benchmarks.archive_ingest``: ingestion >= 500 files/s of header work per worker process,
  and two Celery workers >= 1.6x one;
- ``benchmarks.archive_vo``: on 1,000,000 ObsCore rows, a 6' cone search <= 5 ms median and a
  TAP sync cone query <= 50 ms median, each beside a naive full scan.

Each prints MET or MISS per target; this exits non-zero if either half fails to run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.archive")
    parser.add_argument("--quick", action="store_true", help="fewer files and rows")
    quick = parser.parse_args().quick
    halves = [
        ["benchmarks.archive_ingest", *(["--quick"] if quick else [])],
        ["benchmarks.archive_vo", *(["--rows", "100000", "--reps", "20"] if quick else [])],
    ]
    failed = 0
    for module, *args in halves:
        print(f"== {module} ==", flush=True)
        failed |= subprocess.run([sys.executable, "-m", module, *args], check=False).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
