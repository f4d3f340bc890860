"""Forms of the Phase 1 pages. They check shape only (types, required fields); the services
check the domain rules and their errors are put back on these forms, next to their fields."""

from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from dataflow.errors import DomainError
from dataflow.observatory.models import Instrument, Telescope
from proposals.commands import UNSET, ProposalData, RunData, TargetData
from proposals.coordinates import format_dec, format_ra
from proposals.models import (
    Category,
    Mode,
    ObservingRun,
    Period,
    Proposal,
    ProposalStatus,
    ProposalType,
    Target,
    Transparency,
)

# Moon presets shown on the run form, in ESO's Phase 1 convention (d / g / n). Data, not code:
# astroplan's classes (dark <= 0.25, grey 0.25-0.65, bright >= 0.65) are a different convention.
MOON_CONVENTION = "ESO Phase 1: d = dark, g = grey, n = no constraint"
MOON_PRESETS: dict[str, tuple[str, float]] = {
    "d": ("dark (d): FLI ≤ 0.4", 0.4),
    "g": ("grey (g): FLI ≤ 0.7", 0.7),
    "n": ("any (n): FLI ≤ 1.0", 1.0),
}


def add_domain_errors(
    form: forms.BaseForm, exc: DomainError, aliases: dict[str, str] | None = None
) -> None:
    """Put a service's field errors on the form's fields; the rest become non-field errors,
    headed by the service's message."""
    aliases = aliases or {}
    placed: list[tuple[str, str]] = []
    unplaced: list[str] = []
    for key, messages in exc.errors.items():
        name = aliases.get(key, key)
        for message in messages:
            if name in form.fields:
                placed.append((name, message))
            else:
                unplaced.append(message)
    if unplaced or not placed:
        form.add_error(None, exc.message)
    for message in unplaced:
        form.add_error(None, message)
    for name, message in placed:
        form.add_error(name, message)


class ProposalForm(forms.Form):
    """The proposal's own text fields (edit page)."""

    title = forms.CharField(max_length=300)
    abstract = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    category = forms.ChoiceField(choices=[("", "— choose —"), *Category.choices], required=False)
    proposal_type = forms.ChoiceField(label="Type", choices=ProposalType.choices)
    scientific_justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10}), required=False
    )
    keywords = forms.CharField(
        required=False,
        max_length=500,
        help_text="Comma separated, e.g. 'exoplanets, transits': matched to reviewers' expertise.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    TEXT_FIELDS = ("title", "abstract", "category", "proposal_type", "scientific_justification")

    @classmethod
    def for_proposal(cls, proposal: Proposal) -> "ProposalForm":
        initial = {name: getattr(proposal, name) for name in cls.TEXT_FIELDS}
        initial["keywords"] = ", ".join(proposal.keywords)
        return cls(initial={**initial, "version": proposal.version})

    def command(self) -> ProposalData:
        text = {name: self.cleaned_data[name] for name in self.TEXT_FIELDS}
        return ProposalData(**text, keywords=self.cleaned_data["keywords"].split(","))


class ProposalCreateForm(ProposalForm):
    """A new draft: the proposal text plus the period whose call is open."""

    period = forms.ModelChoiceField(queryset=Period.objects.none(), empty_label=None)

    field_order = ["period", *ProposalForm.TEXT_FIELDS]

    def __init__(self, *args: Any, periods: QuerySet[Period], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        period = self.fields["period"]
        assert isinstance(period, forms.ModelChoiceField)
        period.queryset = periods
        del self.fields["version"]


class TargetForm(forms.Form):
    name = forms.CharField(max_length=100)
    ra = forms.CharField(
        label="RA",
        max_length=40,
        help_text="hh:mm:ss.s or degrees",
        widget=forms.TextInput(attrs={"placeholder": "05:23:34.5", "size": 12}),
    )
    dec = forms.CharField(
        label="Dec",
        max_length=40,
        help_text="±dd:mm:ss or degrees",
        widget=forms.TextInput(attrs={"placeholder": "-69:45:22", "size": 12}),
    )
    magnitude = forms.FloatField(required=False, widget=forms.NumberInput(attrs={"step": "any"}))
    pm_ra_mas_yr = forms.FloatField(
        label="PM RA·cos δ [mas/yr]",
        required=False,
        initial=0.0,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    pm_dec_mas_yr = forms.FloatField(
        label="PM Dec [mas/yr]",
        required=False,
        initial=0.0,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )

    ERROR_ALIASES = {"ra_deg": "ra", "dec_deg": "dec"}

    @classmethod
    def for_target(cls, target: Target) -> "TargetForm":
        return cls(
            initial={
                "name": target.name,
                "ra": format_ra(target.ra_deg),
                "dec": format_dec(target.dec_deg),
                "magnitude": target.magnitude,
                "pm_ra_mas_yr": target.pm_ra_mas_yr,
                "pm_dec_mas_yr": target.pm_dec_mas_yr,
            }
        )

    def command(self) -> TargetData:
        data = self.cleaned_data
        return TargetData(
            name=data["name"],
            ra=data["ra"],
            dec=data["dec"],
            magnitude=data["magnitude"],
            pm_ra_mas_yr=data["pm_ra_mas_yr"] or 0.0,
            pm_dec_mas_yr=data["pm_dec_mas_yr"] or 0.0,
        )


class InstrumentSelect(forms.Select):
    """Each option carries its telescope, so the page can hide the other telescopes' ones."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-telescope"] = str(instance.telescope_id)
        return option


class RunForm(forms.Form):
    telescope = forms.ModelChoiceField(queryset=Telescope.objects.select_related("site"))
    instrument = forms.ModelChoiceField(
        queryset=Instrument.objects.select_related("telescope"),
        widget=InstrumentSelect,
        help_text="Only the instruments of the chosen telescope.",
    )
    mode = forms.ChoiceField(choices=Mode.choices, initial=Mode.SM)
    hours = forms.FloatField(
        label="Hours (SM)", required=False, widget=forms.NumberInput(attrs={"step": "any"})
    )
    nights = forms.FloatField(
        label="Nights (VM)", required=False, widget=forms.NumberInput(attrs={"step": "any"})
    )
    moon = forms.ChoiceField(
        label="Moon",
        required=False,
        choices=[("", "custom FLI"), *[(k, label) for k, (label, _) in MOON_PRESETS.items()]],
        help_text=MOON_CONVENTION,
    )
    max_fli = forms.FloatField(
        label="Max FLI",
        required=False,
        min_value=0.0,
        max_value=1.0,
        initial=1.0,
        help_text="Fraction of lunar illumination, 0..1",
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1"}),
    )
    max_seeing_arcsec = forms.FloatField(
        label="Seeing ≤ [″]", initial=1.2, widget=forms.NumberInput(attrs={"step": "0.1"})
    )
    transparency = forms.ChoiceField(choices=Transparency.choices, initial=Transparency.CLEAR)
    max_airmass = forms.FloatField(
        label="Max airmass", initial=1.6, widget=forms.NumberInput(attrs={"step": "0.1"})
    )
    targets = forms.ModelMultipleChoiceField(
        queryset=Target.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    preferred_dates = forms.CharField(
        label="Preferred dates (VM)",
        required=False,
        help_text="YYYY-MM-DD, comma separated",
    )
    impossible_dates = forms.CharField(
        label="Impossible dates (VM)",
        required=False,
        help_text="YYYY-MM-DD, comma separated",
    )

    ERROR_ALIASES = {"target_ids": "targets"}

    def __init__(self, *args: Any, proposal: Proposal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        targets = self.fields["targets"]
        assert isinstance(targets, forms.ModelMultipleChoiceField)
        targets.queryset = proposal.targets.all()
        self.proposal = proposal

    @classmethod
    def for_run(cls, run: ObservingRun, proposal: Proposal) -> "RunForm":
        moon = next((k for k, (_, fli) in MOON_PRESETS.items() if fli == run.max_fli), "")
        return cls(
            proposal=proposal,
            initial={
                "telescope": run.telescope_id,
                "instrument": run.instrument_id,
                "mode": run.mode,
                "hours": run.hours,
                "nights": run.nights,
                "moon": moon,
                "max_fli": run.max_fli,
                "max_seeing_arcsec": run.max_seeing_arcsec,
                "transparency": run.transparency,
                "max_airmass": run.max_airmass,
                "targets": [t.pk for t in run.targets.all()],
                "preferred_dates": ", ".join(run.preferred_dates),
                "impossible_dates": ", ".join(run.impossible_dates),
            },
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("max_fli") is None:
            data["max_fli"] = MOON_PRESETS[data["moon"]][1] if data.get("moon") else 1.0
        return data

    def command(self) -> RunData:
        """The run as the service takes it. The page shows only the chosen mode's fields (the
        others are hidden), so only those are sent; the service applies the SM/VM rules."""
        data = self.cleaned_data
        vm = data["mode"] == Mode.VM
        return RunData(
            telescope=data["telescope"].pk,
            instrument=data["instrument"].pk,
            mode=data["mode"],
            hours=UNSET if vm else data["hours"],
            nights=data["nights"] if vm else UNSET,
            max_fli=data["max_fli"],
            max_seeing_arcsec=data["max_seeing_arcsec"],
            transparency=data["transparency"],
            max_airmass=data["max_airmass"],
            target_ids=[t.pk for t in data["targets"]],
            preferred_dates=data["preferred_dates"] if vm else UNSET,
            impossible_dates=data["impossible_dates"] if vm else UNSET,
        )


class CoInvestigatorForm(forms.Form):
    email = forms.EmailField(
        label="E-mail", help_text="Linked at once if the address has an account, invited otherwise."
    )


class FigureForm(forms.Form):
    # A FileField, not an ImageField: the service checks the content (PNG/JPEG) and the size.
    image = forms.FileField(help_text="PNG or JPEG")
    caption = forms.CharField(max_length=500, required=False)


class SubmitForm(forms.Form):
    confirm = forms.BooleanField(
        label="I have checked the PDF; submit this proposal. A submitted proposal is frozen.",
    )


class PeriodFilterForm(forms.Form):
    """The staff list of a period's proposals: filters on status, category, telescope, text."""

    status = forms.ChoiceField(
        choices=[("", "any status"), *ProposalStatus.choices], required=False
    )
    category = forms.ChoiceField(choices=[("", "any category"), *Category.choices], required=False)
    telescope = forms.ModelChoiceField(
        queryset=Telescope.objects.all(), required=False, empty_label="any telescope"
    )
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "title, abstract, PI, programme ID"}),
    )

    def filter(self, proposals: QuerySet[Proposal]) -> QuerySet[Proposal]:
        """Narrow a selector's queryset to the chosen filters (an invalid form filters nothing)."""
        if not self.is_valid():
            return proposals
        data = self.cleaned_data
        if data["status"]:
            proposals = proposals.filter(status=data["status"])
        if data["category"]:
            proposals = proposals.filter(category=data["category"])
        if data["telescope"]:
            proposals = proposals.filter(runs__telescope=data["telescope"])
        if text := data["q"].strip():
            proposals = proposals.filter(
                Q(title__icontains=text)
                | Q(abstract__icontains=text)
                | Q(programme_id__icontains=text)
                | Q(pi__last_name__icontains=text)
                | Q(pi__first_name__icontains=text)
                | Q(pi__username__icontains=text)
            )
        return proposals.distinct()
