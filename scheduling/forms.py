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
