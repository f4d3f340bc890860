"""Reviewer forms. Shape only: the grade's range and steps, and what a submission needs, are the
service's rules (``review_save``); its errors go back onto these fields."""

from typing import Any

from django import forms

DRAFT = "draft"
SUBMIT = "submit"


class ReviewForm(forms.Form):
    grade = forms.DecimalField(
        required=False,
        help_text="1.0 (best) to 5.0 (worst), in steps of 0.1",
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "1", "max": "5"}),
    )
    comment_to_pi = forms.CharField(
        label="Comment to the PI",
        required=False,
        help_text="Sent to the proposal's team with the outcome, without your name.",
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    comment_to_panel = forms.CharField(
        label="Comment to the panel",
        required=False,
        help_text="Seen by the panel and staff only.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    confirm = forms.BooleanField(
        label="I am done: submit this review. A submitted review is final.", required=False
    )
    # Which button was pressed: "Save draft" or "Submit".
    action = forms.ChoiceField(choices=[(DRAFT, DRAFT), (SUBMIT, SUBMIT)], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.submitting and not data.get("confirm"):
            self.add_error("confirm", "Tick the box to confirm the submission.")
        return data

    @property
    def submitting(self) -> bool:
        return self.data.get("action") == SUBMIT


class ConflictForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        required=False,  # the service says what is missing
        help_text="Why you cannot review this proposal fairly (seen by staff only).",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
