"""Forms of the long-term schedule's staff pages (the services check everything again)."""

from typing import Any

from django import forms
from django.db.models import QuerySet

from proposals.models import ObservingRun
from scheduling.models import LinkKind, Solver
from scheduling.services import MAX_TIME_LIMIT_S


class JobStartForm(forms.Form):
    solver = forms.ChoiceField(choices=Solver.choices, initial=Solver.CPSAT)
    time_limit_s = forms.IntegerField(
        label="Time limit (s)",
        min_value=1,
        max_value=MAX_TIME_LIMIT_S,
        initial=60,
        help_text="CP-SAT stops at this limit; greedy ignores it.",
    )


class RunChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: ObservingRun) -> str:
        return f"{obj} ({obj.telescope.name}/{obj.instrument.name})"


class PinForm(forms.Form):
    """Pin a VM run of the period to its first night (``scheduling.pins.pin_set`` checks it)."""

    run = RunChoiceField(queryset=ObservingRun.objects.none())
    start = forms.DateField(
        label="First night",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The local date on which the run's first night begins.",
    )
    second_half = forms.BooleanField(required=False, label="Start on its second half")
    prefix = "pin"  # the period page holds three forms

    def __init__(self, *args: Any, runs: QuerySet[ObservingRun], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        run = self.fields["run"]
        assert isinstance(run, forms.ModelChoiceField)
        run.queryset = runs


class LinkForm(forms.Form):
    """Link two VM runs of the period (``scheduling.pins.link_add`` checks it)."""

    first = RunChoiceField(queryset=ObservingRun.objects.none(), label="First run")
    second = RunChoiceField(queryset=ObservingRun.objects.none(), label="Second run")
    kind = forms.ChoiceField(choices=LinkKind.choices, initial=LinkKind.APART)
    min_days = forms.IntegerField(required=False, min_value=0, label="At least (days)")
    max_days = forms.IntegerField(required=False, min_value=0, label="At most (days)")
    ordered = forms.BooleanField(
        required=False, initial=True, label="N days apart: the second run after the first"
    )
    prefix = "link"

    def __init__(self, *args: Any, runs: QuerySet[ObservingRun], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("first", "second"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = runs


class TravelForm(forms.Form):
    """A VM run's travel request; the travellers one per line (``scheduling.travel`` checks
    the names, their number and the dates against the run's nights)."""

    travellers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="One name per line, at most five."
    )
    arrival = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="On or before the first night."
    )
    departure = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="After the last night."
    )
    flights = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Flight numbers and times, if booked.",
    )
    lodging = forms.BooleanField(required=False, initial=True, label="Room at the site")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # The version of the request the page showed (blank before one is filed): a save from a
    # page loaded before someone else's save is refused, as the API's If-Match is.
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean_travellers(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data["travellers"].splitlines() if line.strip()
        ]
