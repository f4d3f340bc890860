"""Forms of the operators' console: they check the values' shape (numbers, a time, choices);
the ranges and the rules are the ranking request's (``scheduling.console.rank_request``) and
the night services' (``observations.night``), whose errors go back onto the forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import QueryDict

from observations.models import QCGrade, SkyTransparency, Visit
from scheduling import console

TRANSPARENCY_CHOICES = [("", "—"), *SkyTransparency.choices]
GRADE_CHOICES = [("", "—"), *QCGrade.choices]
MAX_ID = 2**31 - 1
MAX_TEXT = 5000
# datetime-local inputs send minutes (seconds when the step allows); the API's ISO forms too.
TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _number(label: str, help_text: str = "", step: str = "any") -> forms.FloatField:
    return forms.FloatField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": step}),
    )


class RankForm(forms.Form):
    """The ranking panel: the time, the conditions (blank: the latest reading), the options
    (blank: the engine's defaults), the scorer. Sent with GET, so a ranking is a URL."""

    at = forms.DateTimeField(
        label="Time (UTC)",
        required=False,
        input_formats=TIME_FORMATS,
        help_text="Blank: now. Any other time plans ahead (or looks back).",
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "60"}, format="%Y-%m-%dT%H:%M"
        ),
    )
    seeing_arcsec = _number("Seeing (arcsec)", step="0.01")
    transparency = forms.ChoiceField(
        label="Transparency", choices=TRANSPARENCY_CHOICES, required=False
    )
    wind_speed_ms = _number("Wind speed (m/s)", step="0.1")
    wind_direction_deg = _number("Wind from (deg, N=0 E=90)", step="1")
    airmass_tolerance_pct = _number("Airmass tolerance (%)", step="1")
    fli_tolerance_pct = _number("FLI tolerance (%)", step="1")
    sun_max_elevation_deg = _number("Sun max. elevation (deg)", step="1")
    moon_elevation_limit_deg = _number("Moon elevation (deg)", step="1")
    moon_distance_tolerance_pct = _number("Moon distance tolerance (%)", step="1")
    zenith_avoidance_deg = _number("Zenith avoidance (deg)", step="0.5")
    start_only = forms.BooleanField(label="Execute at start time only", required=False)
    wind_restriction = forms.BooleanField(label="Wind pointing restriction", required=False)
    scorer = forms.ChoiceField(
        label="Algorithm", choices=[(n, n) for n in console.SCORER_NAMES], required=False
    )

    CONDITIONS = ("seeing_arcsec", "transparency", "wind_speed_ms", "wind_direction_deg")
    SUBMITTED = "rank"  # a hidden marker: an absent checkbox then means "off"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "rank-%s")
        super().__init__(*args, **kwargs)

    @classmethod
    def data_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """The form's data from a query: what it names, the engine's defaults for the rest
        (an unticked box is "off" once the form was submitted, else its default)."""
        submitted = cls.SUBMITTED in params
        data: dict[str, Any] = {cls.SUBMITTED: "1"}
        for name, field in cls.base_fields.items():
            if name in params:
                value = params[name]
                data[name] = value[-1] if isinstance(value, list) else value
            elif isinstance(field, forms.BooleanField):
                if not submitted and console.OPTION_DEFAULTS[name]:
                    data[name] = "on"
            elif name in console.OPTION_DEFAULTS:
                data[name] = f"{console.OPTION_DEFAULTS[name]:g}"
            elif name == "scorer":
                data[name] = console.DEFAULT_SCORER
        return data

    def query(self) -> str:
        """The form's data as a query string (the console's URL of this ranking)."""
        out = QueryDict(mutable=True)
        for key, value in self.data.items():
            if value not in (None, ""):
                out[key] = value
        return out.urlencode()


class WeatherForm(forms.Form):
    """A weather reading typed in by the operator (``observations.night.weather_post``)."""

    seeing_arcsec = _number("Seeing (arcsec)", step="0.01")
    transparency = forms.ChoiceField(
        label="Transparency", choices=TRANSPARENCY_CHOICES, required=False
    )
    wind_speed_ms = _number("Wind speed (m/s)", step="0.1")
    wind_direction_deg = _number("Wind from (deg)", step="1")
    water_vapour_mm = _number("Water vapour (mm)", step="0.1")
    prefix = "weather"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "%s")
        super().__init__(*args, **kwargs)


class StartForm(forms.Form):
    ob_id = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)


class _VisitForm(forms.Form):
    """A form about the visit the page showed (the service refuses it once it has ended)."""

    visit = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "%s")
        super().__init__(*args, **kwargs)


class CompleteForm(_VisitForm):
    """Complete the running visit with a QC grade; a concatenation's OBs may each get their
    own (``grade_<OB id>``; blank: the visit's grade)."""

    grade = forms.ChoiceField(label="QC grade", choices=GRADE_CHOICES, required=False)
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    prefix = "complete"

    def __init__(self, *args: Any, visit: Visit | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.per_ob: list[str] = []
        executions = list(visit.executions.all()) if visit is not None else []
        if len(executions) > 1:
            for execution in executions:
                name = f"grade_{execution.ob_id}"
                self.fields[name] = forms.ChoiceField(
                    label=f"OB {execution.ob_id} '{execution.ob.name}'",
                    choices=[("", "as the visit"), *QCGrade.choices],
                    required=False,
                )
                self.per_ob.append(name)

    def per_ob_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.per_ob]

    def grades(self) -> dict[int, str]:
        """The grades given per OB, by OB id."""
        return {
            int(name.removeprefix("grade_")): self.cleaned_data[name]
            for name in self.per_ob
            if self.cleaned_data.get(name)
        }


class AbortForm(_VisitForm):
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=MAX_TEXT,
        widget=forms.TextInput(attrs={"placeholder": "e.g. clouds, guide star lost"}),
    )
    prefix = "abort"
