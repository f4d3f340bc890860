"""The demo's OB planner: an instrument's templates and overheads (``Kit``) and templates with
values for an OB of a wanted execution time (``Planner``), from the pure execution-time model,
so the Phase 2 demo (``observations.demo``) knows each OB's time before it builds it."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from observations import exectime, parameters
from observations.models import OverheadModel, TemplateSignature, TemplateType

_TIME_STEPS = (10.0, 5.0, 1.0, 0.5, 0.1, 0.01, 0.001)

Planned = list[tuple[TemplateSignature, dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Kit:
    """An instrument's templates at its current package version, and its overheads."""

    acquisitions: list[TemplateSignature]
    sciences: list[TemplateSignature]
    calibrations: list[TemplateSignature]
    overheads: exectime.Overheads

    @classmethod
    def load(cls, instrument_id: int, ip_version: str) -> Kit:
        signatures = list(
            TemplateSignature.objects.filter(
                instrument_id=instrument_id, ip_version=ip_version
            ).order_by("name")
        )
        model = OverheadModel.objects.filter(
            instrument_id=instrument_id, ip_version=ip_version
        ).first()
        overheads = exectime.Overheads(0.0, 0.0, 0.0, 0.0)
        if model is not None:
            overheads = exectime.Overheads(
                model.preset_s, model.acquisition_s, model.template_s, model.readout_s
            )
        return cls(
            acquisitions=[s for s in signatures if s.type == TemplateType.ACQUISITION],
            sciences=[s for s in signatures if s.type == TemplateType.SCIENCE],
            calibrations=[s for s in signatures if s.type == TemplateType.CALIBRATION],
            overheads=overheads,
        )

    def execution_s(self, planned: Planned) -> float:
        return exectime.execution_time(
            self.overheads,
            [
                (sig.type, sig.exposure, parameters.effective(sig.parameters, values))
                for sig, values in planned
            ],
        ).execution_s


class Planner:
    """Templates and values for an OB of a given execution time (pure: no database)."""

    def __init__(self, kit: Kit, rng: np.random.Generator) -> None:
        self.kit, self.rng = kit, rng

    def plan(self, target_s: float, minimum_s: float) -> tuple[Planned, float]:
        """Templates and values for an OB of at most ``target_s`` execution time and at least
        ``minimum_s``: an acquisition, one science template (two from the fourth attempt, each
        filling an equal share), sometimes a calibration; other science templates are tried
        when the ranges do not allow the time."""
        rng, kit = self.rng, self.kit
        best: tuple[Planned, float] | None = None
        for attempt in range(6):
            science = kit.sciences[int(rng.integers(len(kit.sciences)))]
            chosen: dict[str, Any] = {}
            head: Planned = []
            tail: Planned = []
            if kit.acquisitions:
                acquisition = _closest(kit.acquisitions, science.name)
                head.append((acquisition, self._dress(acquisition, chosen)))
            if kit.calibrations and rng.random() < 0.3:
                calibration = _closest(kit.calibrations, science.name)
                tail.append((calibration, self._dress(calibration, chosen)))
            n_science = 2 if attempt >= 3 else 1
            fitted: Planned = []
            for j in range(n_science):
                context = head + fitted + tail
                now = kit.execution_s(context) if context else 0.0
                context.append((science, self._dress(science, chosen)))
                self._fit(context, len(context) - 1, now + (target_s - now) / (n_science - j))
                fitted.append(context[-1])
            planned = head + fitted + tail
            seconds = kit.execution_s(planned)
            if minimum_s <= seconds <= target_s:
                return planned, seconds
            if seconds <= target_s and (best is None or seconds > best[1]):
                best = (planned, seconds)
        if best is None or best[1] < minimum_s:
            raise RuntimeError(f"No OB of these templates takes {minimum_s:.0f}-{target_s:.0f} s.")
        return best

    def _dress(self, signature: TemplateSignature, chosen: dict[str, Any]) -> dict[str, Any]:
        """Default values with some setup choices drawn (filters, gratings, angles), the same
        value for a parameter that several templates of the OB share."""
        exposure = signature.exposure or {}
        fixed = {exposure.get("time"), *exposure.get("coadds", []), *exposure.get("count", [])}
        values = parameters.defaults(signature.parameters)
        for d in signature.parameters:
            name = d["name"]
            if name in fixed or d["type"] == "list" or name.startswith("TEL.AG"):
                continue
            if name in chosen:
                if parameters.check_value(d, chosen[name]) is None:
                    values[name] = chosen[name]
                continue
            allowed = d.get("allowed")
            if allowed and self.rng.random() < 0.5:
                chosen[name] = values[name] = allowed[int(self.rng.integers(len(allowed)))]
            elif (
                name.endswith(("OFFANGLE", "POSANG"))
                and d["type"] == "number"
                and self.rng.random() < 0.4
            ):
                angle = 5.0 * float(self.rng.integers(-18, 19))
                angle = _clip(angle, float(d.get("min", -90.0)), float(d.get("max", 90.0)))
                chosen[name] = values[name] = angle
        return values

    def _fit(self, planned: Planned, index: int, goal_s: float) -> None:
        """Set the exposure time and count of template ``index`` so that the OB takes about
        ``goal_s`` (at most, where the ranges allow): the count first, from an exposure time
        near the default, then the exposure time to fill the rest."""
        signature, values = planned[index]
        exposure = signature.exposure or {}
        definitions = {d["name"]: d for d in signature.parameters}
        time_name = exposure.get("time")
        if not time_name:
            return
        tdef = definitions[time_name]
        t_low, t_high = float(tdef.get("min", 0.0)), float(tdef.get("max", 1e6))
        default = float(tdef.get("default") or t_low)
        preferred = default * float(self.rng.choice([0.5, 1.0, 1.0, 2.0]))
        values[time_name] = _clip(preferred, t_low, t_high)
        knob = next(
            (
                n
                for n in exposure.get("count", [])
                if definitions[n]["type"] == "integer" and not definitions[n].get("allowed")
            ),
            None,
        )

        def seconds(**changes: Any) -> float:
            trial = list(planned)
            trial[index] = (signature, {**values, **changes})
            return self.kit.execution_s(trial)

        if knob is not None:
            kdef = definitions[knob]
            c_low, c_high = int(kdef.get("min", 1)), int(kdef.get("max", 100))
            base = seconds(**{knob: 0})
            unit = seconds(**{knob: 1}) - base
            count = math.floor((goal_s - base) / unit) if unit > 0 else c_low
            values[knob] = int(_clip(count, c_low, c_high))
        base = seconds(**{time_name: 0.0})
        slope = seconds(**{time_name: 1.0}) - base
        if slope <= 0:
            return
        step = next((s for s in _TIME_STEPS if s * slope <= 120.0 and s <= t_high / 10), 0.001)
        wanted = math.floor((goal_s - base) / slope / step) * step
        values[time_name] = round(_clip(wanted, t_low, t_high), 3)
        if knob is not None:
            while seconds() > goal_s and values[knob] > int(definitions[knob].get("min", 1)):
                values[knob] -= 1


def _closest(signatures: list[TemplateSignature], name: str) -> TemplateSignature:
    """The signature sharing the longest name prefix with ``name`` (FORS2_lss_acq for
    FORS2_lss_obs), the first on ties."""

    def shared(other: str) -> int:
        n = 0
        for a, b in zip(other, name, strict=False):
            if a != b:
                break
            n += 1
        return n

    return max(signatures, key=lambda s: shared(s.name))


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
