"""Command line: ``python -m scheduling.engine.ranking {rank,simulate} --input FILE``.

Reads a JSON document (``-`` = standard input; format in ``jsonio``), writes the JSON result
to standard output (or ``--output``). Malformed input prints ``error: <path>: <problem>`` on
standard error and exits with status 2; an engine error exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scheduling.engine.ranking.jsonio import InputError, parse_rank_request, parse_simulate_request


def _read(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scheduling.engine.ranking",
        description="Rank candidate OBs now, or simulate a night (JSON in, JSON out).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("rank", "rank candidates at an instant"),
        ("simulate", "simulate a night of executions"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--input", required=True, help="JSON file, or - for standard input")
        p.add_argument("--output", help="write the JSON result here instead of stdout")
        p.add_argument("--top", type=int, default=None, help="rank: keep only the best N")
    args = parser.parse_args(argv)
    try:
        doc = _read(args.input)
        if args.command == "rank":
            from scheduling.engine.ranking.engine import rank

            kwargs = parse_rank_request(doc)
            try:
                result: Any = rank(**kwargs)
            except ValueError as exc:  # e.g. duplicate ids, unknown scorer
                raise InputError(str(exc)) from None
            out = result.to_dict()
            if args.top is not None:
                out["ranked"] = out["ranked"][: args.top]
        else:
            from scheduling.engine.ranking.simulate import simulate_night

            kwargs = parse_simulate_request(doc)
            try:
                result = simulate_night(**kwargs)
            except ValueError as exc:
                raise InputError(str(exc)) from None
            out = result.to_dict()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(out, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
