"""Forms of the archive pages: they translate input into a :class:`SearchQuery` or a service's
arguments and hold no rule."""

from __future__ import annotations

from typing import Any

from django import forms

from archive.models import Category
from archive.selectors import DEFAULT_RADIUS_ARCMIN, MAX_RADIUS_ARCMIN, SearchQuery
from dataflow.errors import InvalidInput
from proposals.coordinates import parse_dec, parse_ra


class SearchForm(forms.Form):
    target = forms.CharField(
        required=False,
        max_length=200,
        help_text="A target name the archive has seen (its OBJECT keyword)",
    )
    ra = forms.CharField(
        required=False, max_length=40, label="RA", help_text="hh:mm:ss.s or degrees"
    )
    dec = forms.CharField(
        required=False, max_length=40, label="Dec", help_text="±dd:mm:ss or degrees"
    )
    radius = forms.FloatField(
        required=False,
        min_value=0.001,
        max_value=MAX_RADIUS_ARCMIN,
        label="Radius (arcmin)",
        help_text=f"Default {DEFAULT_RADIUS_ARCMIN:g}′",
    )
    date_from = forms.DateField(required=False, label="Observed from", help_text="YYYY-MM-DD")
    date_to = forms.DateField(required=False, label="to", help_text="YYYY-MM-DD, inclusive")
    instrument = forms.ChoiceField(required=False)
    programme = forms.CharField(required=False, max_length=32, help_text="e.g. 118.C-0003")
    object_name = forms.CharField(required=False, max_length=200, label="Object contains")
    category = forms.ChoiceField(
        required=False, choices=[("", "Any"), *Category.choices], label="Category"
    )

    def __init__(self, *args: Any, instruments: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["instrument"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Any"), *((name, name) for name in instruments)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        ra, dec = data.get("ra", ""), data.get("dec", "")
        if bool(ra) != bool(dec):
            self.add_error("ra" if not ra else "dec", "Give both RA and Dec, or neither.")
            return data
        if ra and dec:
            try:
                data["ra_deg"], data["dec_deg"] = parse_ra(ra), parse_dec(dec)
            except InvalidInput as error:
                for key, messages in error.errors.items():
                    for message in messages:
                        self.add_error(key if key in self.fields else None, message)
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end is before the start.")
        return data

    def query(self) -> SearchQuery:
        data = self.cleaned_data
        return SearchQuery(
            ra_deg=data.get("ra_deg"),
            dec_deg=data.get("dec_deg"),
            target=data.get("target") or "",
            radius_arcmin=data.get("radius") or DEFAULT_RADIUS_ARCMIN,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            instrument=data.get("instrument") or "",
            programme=data.get("programme") or "",
            object_name=data.get("object_name") or "",
            category=data.get("category") or "",
        )


class DelegateForm(forms.Form):
    user = forms.CharField(max_length=150, label="Username or e-mail")
