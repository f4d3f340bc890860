"""Forms of the chair and staff review pages. They read and type the input only; the review
services decide (their errors go back onto these forms with ``add_domain_errors``)."""

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet

from dataflow.accounts.models import Role
from proposals.models import Category, ObservingRun
from proposals.review.models import Panel, RankClass


def reviewers() -> QuerySet[User]:
    return User.objects.filter(groups__name=Role.REVIEWER.value).order_by("last_name", "username")


class ReviewerChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.get_full_name() or obj.username} ({obj.username})"


class PanelCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    category = forms.ChoiceField(choices=Category.choices)
    deadline = forms.DateTimeField(
        help_text="Reviews are due by then (UTC).",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    chair = ReviewerChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["chair"].queryset = reviewers()  # type: ignore[attr-defined]


class MemberAddForm(forms.Form):
    panel = forms.ModelChoiceField(queryset=Panel.objects.none())
    user = ReviewerChoiceField(queryset=User.objects.none(), label="Reviewer")
    expertise = forms.CharField(
        required=False, max_length=500, help_text="Keywords, separated by commas."
    )
    chair = forms.BooleanField(required=False, label="Chair of the panel")

    def __init__(self, *args: object, panels: QuerySet[Panel], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["panel"].queryset = panels  # type: ignore[attr-defined]
        self.fields["user"].queryset = reviewers()  # type: ignore[attr-defined]

    def keywords(self) -> list[str]:
        return [k for k in self.cleaned_data["expertise"].split(",") if k.strip()]


class ConflictOverrideForm(forms.Form):
    reason = forms.CharField(max_length=500)


class PanelGradeForm(forms.Form):
    # Text, not a DecimalField: the service checks the range and the 0.1 steps and says so.
    grade = forms.CharField(
        max_length=10, widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 4})
    )


class RunDecisionForm(forms.Form):
    """Approve (SM: rank class and hours; VM: whole nights) or reject one run; the pressed
    button (``decision``) says which."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    rank_class = forms.ChoiceField(
        choices=[("", "—"), *RankClass.choices], required=False, label="Rank class"
    )
    hours = forms.FloatField(required=False, min_value=0)
    nights = forms.FloatField(required=False, min_value=0)
    note = forms.CharField(required=False, max_length=300)

    @classmethod
    def for_run(cls, run: ObservingRun) -> "RunDecisionForm":
        """Prefilled with the request (or the decision already taken)."""
        decision = getattr(run, "decision", None)
        initial: dict[str, object] = {"hours": run.hours, "nights": run.nights}
        if decision is not None and decision.approved:
            initial["rank_class"] = decision.rank_class
            if decision.allocated_nights is not None:
                initial["nights"] = decision.allocated_nights
        return cls(initial=initial, prefix=f"run{run.pk}")
