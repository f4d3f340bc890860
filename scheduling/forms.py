"""Forms of the long-term schedule's staff pages (the services check everything again)."""

from django import forms

from scheduling.models import Solver
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

    def clean_travellers(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data["travellers"].splitlines() if line.strip()
        ]
