"""``python -m scheduling.engine.ranking``: JSON in/out, clear errors on malformed input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scheduling.engine.ranking.__main__ import main

GOOD_DOC: dict[str, Any] = {
    "site": "Paranal",
    "time": "2025-11-21T03:00:00",
    "conditions": {"seeing_arcsec": 0.7, "transparency": "clear", "wind_speed_ms": 3.0},
    "options": {"airmass_tolerance_pct": 5, "fits_from_now": True},
    "candidates": [
        {
            "id": "A",
            "ra_deg": 20.0,
            "dec_deg": -40.0,
            "execution_time_s": 1800,
            "rank_class": "A",
            "grade": 1.5,
            "constraints": {
                "max_airmass": 2.0,
                "min_moon_distance_deg": 0,
                "max_fli": 1.0,
                "min_transparency": "clear",
            },
            "group": {"group_id": "G", "contribution": 0.5, "group_score": 0.5},
        },
        {"id": "B", "ra_deg": 200.0, "dec_deg": -30.0, "execution_time_s": 1800},
        {
            "id": "C",
            "ra_deg": 25.0,
            "dec_deg": -40.0,
            "execution_time_s": 900,
            "time_link": {
                "link_id": "L",
                "order": 1,
                "earliest": "2025-11-20T00:00:00",
                "latest": "2025-11-22T00:00:00",
            },
            "lst_windows": [[22.0, 6.0]],
        },
    ],
}


def run(doc: Any, tmp_path: Path, command: str = "rank") -> tuple[int, str, str]:
    path = tmp_path / "in.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    proc = subprocess.run(
        [sys.executable, "-m", "scheduling.engine.ranking", command, "--input", str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_rank_round_trip_through_a_subprocess(tmp_path: Path) -> None:
    code, out, err = run(GOOD_DOC, tmp_path)
    assert code == 0, err
    result = json.loads(out)
    assert [r["id"] for r in result["ranked"]] == ["A", "C"]
    assert result["ranked"][0]["components"]["rank_class"] == 100.0
    assert result["filtered"][0]["id"] == "B"
    assert result["filtered"][0]["reasons"][0]["code"] == "airmass"


def test_simulate_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {k: v for k, v in GOOD_DOC.items() if k not in ("time", "conditions")}
    doc["date"] = "2025-11-20"
    doc["weather"] = [
        {"time": "2025-11-20T20:00:00", "seeing_arcsec": 0.8},
        {"time": "2025-11-21T05:00:00", "seeing_arcsec": 0.6, "transparency": "photometric"},
    ]
    path = tmp_path / "sim.json"
    path.write_text(json.dumps(doc))
    assert main(["simulate", "--input", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {e["id"] for e in result["executed"]} >= {"A"}
    assert {e["id"] for e in result["executed"]} | {x["id"] for x in result["left"]} == {
        "A",
        "B",
        "C",
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "invalid JSON"),
        ([], "$: expected an object"),
        ({**GOOD_DOC, "time": "yesterday"}, "time: not an ISO 8601 time"),
        ({k: v for k, v in GOOD_DOC.items() if k != "conditions"}, "conditions is required"),
        (
            {
                **GOOD_DOC,
                "candidates": [{"id": "x", "ra_deg": "ten", "dec_deg": 0, "execution_time_s": 60}],
            },
            "candidates[0].ra_deg: expected a number",
        ),
        (
            {**GOOD_DOC, "candidates": [{"id": "x", "ra_deg": 1, "dec_deg": 0}]},
            "candidates[0]: execution_time_s is required",
        ),
        (
            {
                **GOOD_DOC,
                "candidates": [
                    {"id": "x", "ra_deg": 1, "dec_deg": 0, "execution_time_s": 60, "colour": "red"}
                ],
            },
            "unknown field(s) ['colour']",
        ),
        (
            {**GOOD_DOC, "conditions": {"seeing_arcsec": 1, "transparency": "murky"}},
            "unknown transparency",
        ),
        ({**GOOD_DOC, "options": {"fits_from_now": "yes"}}, "expected true or false"),
        ({**GOOD_DOC, "site": "Atlantis"}, "unknown site"),
        ({**GOOD_DOC, "scorer": "magic"}, "unknown scorer"),
        ({**GOOD_DOC, "candidates": [GOOD_DOC["candidates"][0]] * 2}, "duplicate candidate id"),
    ],
)
def test_malformed_input_is_a_clear_error_with_nonzero_status(
    doc: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    code = main(["rank", "--input", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err


def test_missing_file_and_missing_subcommand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rank", "--input", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code != 0
