"""Forms of the Phase 2 pages. They check shape only (types, required fields) and translate
the input into the services' typed arguments; the services check the rules, and their errors
are put back on these forms next to their fields (:func:`put_errors`).

Every form that changes an existing object posts that object's ``version`` (a hidden field):
the views pass it as ``expected_version``, so a page loaded before someone else's change is
refused with :data:`STALE_MESSAGE` instead of overwriting it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms import formset_factory

from dataflow.errors import DomainError, StaleVersion
from observations.commands import ItemKind, ItemRef, OBData
from observations.models import ItemType, ObservationBlock, SkyTransparency
from observations.selectors import TemplateParameter, TemplateView
from proposals.coordinates import format_dec, format_ra
from proposals.forms import add_domain_errors
from proposals.models import Target
from proposals.rules import posted_id

STALE_MESSAGE = (
    "Changed meanwhile: someone saved this since you loaded the page, so nothing was saved. "
    "Reload the page and make your change again."
)
GONE_MESSAGE = "That item no longer exists (deleted meanwhile?): reload the page."


def put_errors(
    form: forms.BaseForm, exc: DomainError, aliases: dict[str, str] | None = None
) -> None:
    """A service's refusal onto ``form``: a stale version as the "changed meanwhile" message,
    anything else field by field (``proposals.forms.add_domain_errors``)."""
    if isinstance(exc, StaleVersion):
        form.add_error(None, STALE_MESSAGE)
        form.add_error(None, exc.message)
        return
    add_domain_errors(form, exc, aliases)


class VersionForm(forms.Form):
    """Just the object's version: status changes, window and chart writes."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600.0, 4)


def _seconds(hours: float | None) -> int | None:
    return None if hours is None else int(round(hours * 3600.0))


class OBForm(forms.Form):
    """An OB's own fields: name and description, target, constraint set, and its scheduling
    information inside a Group (contribution) or a TimeLink (delays)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    name = forms.CharField(label="OB name", max_length=100)
    user_priority = forms.IntegerField(
        label="User priority", min_value=1, max_value=1000, help_text="1 is executed first."
    )
    user_comments = forms.CharField(
        label="Comments for the night operator",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # target
    target_name = forms.CharField(label="Target name", max_length=100, required=False)
    ra = forms.CharField(
        label="RA",
        max_length=40,
        required=False,
        help_text="hh:mm:ss.s or degrees",
        widget=forms.TextInput(attrs={"placeholder": "00:47:33.1"}),
    )
    dec = forms.CharField(
        label="Dec",
        max_length=40,
        required=False,
        help_text="±dd:mm:ss or degrees",
        widget=forms.TextInput(attrs={"placeholder": "-25:17:18"}),
    )
    equinox = forms.CharField(label="Equinox", max_length=10)
    epoch = forms.FloatField(label="Epoch", widget=forms.NumberInput(attrs={"step": "any"}))
    pm_ra = forms.FloatField(
        label="PM RA·cos δ [″/yr]", widget=forms.NumberInput(attrs={"step": "any"})
    )
    pm_dec = forms.FloatField(
        label="PM Dec [″/yr]", widget=forms.NumberInput(attrs={"step": "any"})
    )
    # constraint set
    max_airmass = forms.FloatField(
        label="Max airmass", widget=forms.NumberInput(attrs={"step": "any"})
    )
    seeing_arcsec = forms.FloatField(
        label="Image quality / seeing [″]", widget=forms.NumberInput(attrs={"step": "any"})
    )
    sky_transparency = forms.ChoiceField(label="Sky transparency", choices=SkyTransparency.choices)
    max_fli = forms.FloatField(
        label="Max FLI (moon)",
        help_text="Fraction of lunar illumination, 0..1",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    min_moon_distance_deg = forms.FloatField(
        label="Min moon distance [°]", widget=forms.NumberInput(attrs={"step": "any"})
    )
    twilight_min = forms.FloatField(
        label="Twilight offset [min]", widget=forms.NumberInput(attrs={"step": "any"})
    )
    water_vapour_mm = forms.FloatField(
        label="Max water vapour [mm]",
        help_text="30: no constraint",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    # scheduling containers
    contribution = forms.FloatField(
        label="Contribution to the group", widget=forms.NumberInput(attrs={"step": "any"})
    )
    min_delay_h = forms.FloatField(
        label="Earliest after previous OB [h]", widget=forms.NumberInput(attrs={"step": "any"})
    )
    max_delay_h = forms.FloatField(
        label="Latest after previous OB [h]",
        required=False,
        help_text="Empty: no limit",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )

    GENERAL = ("name", "user_priority", "user_comments")
    TARGET = ("target_name", "ra", "dec", "equinox", "epoch", "pm_ra", "pm_dec")
    CONSTRAINTS = (
        "max_airmass",
        "seeing_arcsec",
        "sky_transparency",
        "max_fli",
        "min_moon_distance_deg",
        "twilight_min",
        "water_vapour_mm",
    )
    # The service's error keys that name another field here.
    ERROR_ALIASES = {"min_delay_s": "min_delay_h", "max_delay_s": "max_delay_h"}

    def __init__(self, *args: Any, container_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "ob-%s")
        super().__init__(*args, **kwargs)
        if container_type != ItemType.GROUP:
            del self.fields["contribution"]
        if container_type != ItemType.TIMELINK:
            del self.fields["min_delay_h"]
            del self.fields["max_delay_h"]

    @classmethod
    def for_ob(cls, ob: ObservationBlock, container_type: str) -> OBForm:
        initial: dict[str, Any] = {
            name: getattr(ob, name)
            for name in (*cls.GENERAL, *cls.TARGET, *cls.CONSTRAINTS, "contribution")
            if name not in ("ra", "dec")
        }
        initial["ra"] = "" if ob.ra_deg is None else format_ra(ob.ra_deg)
        initial["dec"] = "" if ob.dec_deg is None else format_dec(ob.dec_deg)
        initial["min_delay_h"] = _hours(ob.min_delay_s)
        initial["max_delay_h"] = _hours(ob.max_delay_s)
        initial["version"] = ob.version
        return cls(initial=initial, container_type=container_type)

    def sections(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        """(id, legend, fields) of the fieldsets, in page order."""
        scheduling = [n for n in ("contribution", "min_delay_h", "max_delay_h") if n in self.fields]
        groups = [
            ("ob-general", "OB", self.GENERAL),
            ("ob-target", "Target", self.TARGET),
            ("ob-constraints", "Constraint set", self.CONSTRAINTS),
            ("ob-scheduling", "In its container", tuple(scheduling)),
        ]
        return [(key, legend, [self[n] for n in names]) for key, legend, names in groups if names]

    def command(self) -> OBData:
        data = self.cleaned_data
        values: dict[str, Any] = {
            name: data[name]
            for name in (*self.GENERAL, *self.TARGET, *self.CONSTRAINTS)
            if name not in ("ra", "dec")
        }
        values["ra"] = data["ra"].strip() or None
        values["dec"] = data["dec"].strip() or None
        if "contribution" in self.fields:
            values["contribution"] = data["contribution"]
        if "min_delay_h" in self.fields:
            values["min_delay_s"] = _seconds(data["min_delay_h"])
            values["max_delay_s"] = _seconds(data["max_delay_h"])
        return OBData(**values)


class CopyTargetForm(forms.Form):
    """Copy one of the run's Phase 1 targets into the OB."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    target_id = forms.TypedChoiceField(label="Phase 1 target", coerce=int, choices=())

    def __init__(self, *args: Any, targets: Iterable[Target], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "copy-%s")
        super().__init__(*args, **kwargs)
        field = self.fields["target_id"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [
            (t.pk, f"{t.name} ({format_ra(t.ra_deg)} {format_dec(t.dec_deg)})") for t in targets
        ]


# --------------------------------------------------------------------------------------------
# Templates: a form per template, generated from its signature's parameter definitions
# --------------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return str(value)


def _number(text: str) -> int | float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


class ListField(forms.CharField):
    """A list parameter as text: values separated by commas or spaces (numbers unless the
    parameter allows named values). Empty: the default; ``[]``: an empty list."""

    def __init__(self, *, named: bool, **kwargs: Any) -> None:
        self.named = named
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "[]" if not value else ", ".join(_shown(v) for v in value)
        return value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if text in ("", None):
            return None
        if text.strip() in ("[]", "[ ]"):
            return []
        parts = [p for p in text.strip().strip("[]").replace(",", " ").split() if p]
        if self.named:
            return [p.strip("'\"") for p in parts]
        try:
            return [_number(p) for p in parts]
        except ValueError:
            raise forms.ValidationError(
                "Give numbers separated by commas, e.g. 0, 10, 20.", code="invalid"
            ) from None


def _hint(p: TemplateParameter) -> str:
    bits = []
    if p.min is not None and p.max is not None:
        bits.append(f"{_shown(p.min)} … {_shown(p.max)}")
    elif p.min is not None:
        bits.append(f"≥ {_shown(p.min)}")
    elif p.max is not None:
        bits.append(f"≤ {_shown(p.max)}")
    bits.append("required" if p.default is None else f"default {_shown(p.default)}")
    return "; ".join(bits)


def parameter_field(p: TemplateParameter) -> forms.Field:
    """A form field for one template parameter; empty means "the default" (``None``)."""
    label = p.label or p.name
    common: dict[str, Any] = {"label": label, "required": False, "help_text": _hint(p)}
    allowed = p.allowed if isinstance(p.allowed, list) and p.allowed else None
    if p.type == "boolean":
        return forms.BooleanField(**common)
    if p.type == "list":
        named = bool(allowed) and all(isinstance(a, str) for a in allowed or [])
        if allowed:
            common["help_text"] = (
                f"{common['help_text']}; each of {', '.join(map(_shown, allowed))}"
            )
        return ListField(named=named, **common)
    if allowed:
        by_text = {str(a): a for a in allowed}
        empty = "—" if p.default is None else f"default ({_shown(p.default)})"
        return forms.TypedChoiceField(
            choices=[("", empty), *((str(a), _shown(a)) for a in allowed)],
            coerce=by_text.__getitem__,
            empty_value=None,
            **common,
        )
    if p.type == "number":
        return forms.FloatField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
    if p.type == "integer":
        return forms.IntegerField(**common)
    return forms.CharField(empty_value=None, **common)


def field_id(position: int, name: str) -> str:
    """The HTML id of a template's parameter input: ``tpl<position>-<name, dots as dashes>``."""
    safe = "".join(c if c.isalnum() or c in "_-" else "-" for c in name)
    return f"tpl{position}-{safe}"


class TemplateValuesForm(forms.Form):
    """One template's parameters (named as in the signature, e.g. ``DET.DIT``), its id and
    the OB's version."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    template_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, template: TemplateView, position: int, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", False)  # every input gets its own id below
        super().__init__(*args, **kwargs)
        self.template = template
        self.position = position
        self.parameter_names = [p.name for p in template.parameters]
        for p in template.parameters:
            field = parameter_field(p)
            field.widget.attrs["id"] = field_id(position, p.name)
            self.fields[p.name] = field
        self.fields["template_id"].widget.attrs["id"] = f"tpl{position}-template-id"
        self.fields["version"].widget.attrs["id"] = f"tpl{position}-version"

    @classmethod
    def for_template(
        cls, template: TemplateView, position: int, version: int
    ) -> TemplateValuesForm:
        initial: dict[str, Any] = {p.name: p.value for p in template.parameters}
        initial.update(version=version, template_id=template.id)
        return cls(initial=initial, template=template, position=position)

    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.parameter_names]

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.parameter_names}


class TemplateAddForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    signature_name = forms.ChoiceField(label="Template", choices=())

    def __init__(self, *args: Any, signatures: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "template-add-%s")
        super().__init__(*args, **kwargs)
        field = self.fields["signature_name"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, f"{name} ({kind})") for name, kind in signatures]


class TemplateRefForm(forms.Form):
    """A template of the OB (delete), or a move up or down."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    template_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    direction = forms.ChoiceField(
        choices=[("up", "up"), ("down", "down")], required=False, widget=forms.HiddenInput
    )


# --------------------------------------------------------------------------------------------
# Windows and finding charts
# --------------------------------------------------------------------------------------------


class AbsoluteWindowForm(forms.Form):
    start = forms.CharField(
        label="From (UTC)",
        required=False,
        widget=forms.TextInput(attrs={"type": "datetime-local", "placeholder": "2027-05-01T23:30"}),
    )
    end = forms.CharField(
        label="To (UTC)",
        required=False,
        widget=forms.TextInput(attrs={"type": "datetime-local", "placeholder": "2027-05-02T03:00"}),
    )

    def pair(self) -> tuple[str, str] | None:
        """``(from, to)``, or ``None`` for a blank or deleted row."""
        data = self.cleaned_data
        if data.get("DELETE") or not (data.get("start") or data.get("end")):
            return None
        return data.get("start", ""), data.get("end", "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("DELETE") and bool(data.get("start")) != bool(data.get("end")):
            raise forms.ValidationError("Give both ends of the window, or neither.")
        return data


class SiderealWindowForm(AbsoluteWindowForm):
    start = forms.CharField(
        label="From (LST)",
        required=False,
        max_length=5,
        widget=forms.TextInput(attrs={"placeholder": "22:00", "size": 6}),
    )
    end = forms.CharField(
        label="To (LST)",
        required=False,
        max_length=5,
        widget=forms.TextInput(attrs={"placeholder": "24:00", "size": 6}),
    )


AbsoluteWindowFormSet = formset_factory(AbsoluteWindowForm, extra=1, can_delete=True, max_num=50)
SiderealWindowFormSet = formset_factory(SiderealWindowForm, extra=1, can_delete=True, max_num=50)


def window_pairs(formset: forms.BaseFormSet[Any]) -> tuple[list[tuple[str, str]], list[int]]:
    """The windows of a valid formset, and for each the index of its form (for errors)."""
    pairs, where = [], []
    for i, form in enumerate(formset.forms):
        assert isinstance(form, AbsoluteWindowForm)
        pair = form.pair()
        if pair is not None:
            pairs.append(pair)
            where.append(i)
    return pairs, where


def put_window_errors(
    formset: forms.BaseFormSet[Any], where: list[int], exc: DomainError, fallback: forms.Form
) -> None:
    """The service's ``windows[i]`` messages onto the rows they name, the rest on ``fallback``
    (a stale version and refusals of the whole list too)."""
    if isinstance(exc, StaleVersion) or not exc.errors:
        put_errors(fallback, exc)
        return
    fallback.add_error(None, exc.message)
    for key, messages in exc.errors.items():
        index = posted_id(key.removeprefix("windows[").removesuffix("]"))
        for message in messages:
            if key.startswith("windows[") and index is not None and index < len(where):
                formset.forms[where[index]].add_error(None, message)
            else:
                fallback.add_error(None, message)


class ChartForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    image = forms.FileField(
        label="Finding chart (JPEG, at most 1 MiB)",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "chart-%s")
        super().__init__(*args, **kwargs)


class ChartRemoveForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    chart_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class NightForm(forms.Form):
    """The night of the visibility plot (a GET form)."""

    date = forms.DateField(
        label="Night starting",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "visibility-%s")
        super().__init__(*args, **kwargs)

    def night(self, default: dt.date) -> dt.date:
        if self.is_bound and self.is_valid() and self.cleaned_data["date"]:
            return self.cleaned_data["date"]
        return default


# --------------------------------------------------------------------------------------------
# The tree: create items, act on the selected items; containers
# --------------------------------------------------------------------------------------------

CONTAINER_KINDS = [ItemType.FOLDER, ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION]


class CreateItemForm(forms.Form):
    """A new OB or container at the end of a container (empty: the run's root folder)."""

    item_type = forms.ChoiceField(label="New", choices=())
    name = forms.CharField(label="Name", max_length=100)
    parent = forms.TypedChoiceField(
        label="In", coerce=int, empty_value=None, required=False, choices=()
    )

    def __init__(
        self,
        *args: Any,
        containers: Iterable[tuple[int, str]],
        visitor_mode: bool,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", "create-%s")
        super().__init__(*args, **kwargs)
        kinds = [ItemType.OB, ItemType.FOLDER] if visitor_mode else [ItemType.OB, *CONTAINER_KINDS]
        kind = self.fields["item_type"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [(k.value, k.value) for k in kinds]  # p2's names: OB, Folder, ...
        parent = self.fields["parent"]
        assert isinstance(parent, forms.TypedChoiceField)
        choices = list(containers)
        parent.choices = choices if choices else [("", "the run's root folder")]


@dataclass(frozen=True)
class Selected:
    """An item chosen on the tree page, with the version the page showed."""

    ref: ItemRef
    version: int


def parse_selected(raw: str) -> Selected | None:
    """``"ob:12:3"`` or ``"container:5:1"`` (kind, id, version)."""
    kind, _, rest = raw.partition(":")
    pk_text, _, version_text = rest.partition(":")
    pk, version = posted_id(pk_text), posted_id(version_text)
    if kind not in {k.value for k in ItemKind} or pk is None or version is None:
        return None
    return Selected(ItemRef(ItemKind(kind), pk), version)


class TreeActionForm(forms.Form):
    """One action on the items ticked on the tree page (``item``: kind:id:version, several)."""

    ACTIONS = [
        ("rename", "Rename"),
        ("move", "Move"),
        ("up", "Move up"),
        ("down", "Move down"),
        ("duplicate", "Duplicate"),
        ("delete", "Delete"),
    ]
    action = forms.ChoiceField(choices=ACTIONS)
    name = forms.CharField(label="New name", max_length=100, required=False)
    to = forms.TypedChoiceField(
        label="Move to", coerce=int, empty_value=None, required=False, choices=()
    )

    def __init__(self, *args: Any, containers: Iterable[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "tree-%s")
        super().__init__(*args, **kwargs)
        to = self.fields["to"]
        assert isinstance(to, forms.TypedChoiceField)
        to.choices = [("", "— container —"), *containers]
        self.selected: list[Selected] = []
        self.container_versions: dict[int, int] = {}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw: Mapping[str, Any] = self.data
        getlist = getattr(raw, "getlist", None)
        items = getlist("item") if getlist else []
        selected = [parse_selected(str(v)) for v in items]
        self.selected = [s for s in selected if s is not None]
        for text in getlist("cv") if getlist else []:
            pk_text, _, version_text = str(text).partition(":")
            pk, version = posted_id(pk_text), posted_id(version_text)
            if pk is not None and version is not None:
                self.container_versions[pk] = version
        if not self.selected or len(self.selected) != len(selected):
            raise forms.ValidationError("Tick the items to act on first.")
        action = data.get("action")
        if action == "rename":
            if len(self.selected) != 1:
                self.add_error("name", "Tick exactly one item to rename.")
            elif not (data.get("name") or "").strip():
                self.add_error("name", "Give the new name.")
        if action == "move" and data.get("to") is None:
            self.add_error("to", "Choose the container to move the items to.")
        return data


class ContainerForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    name = forms.CharField(label="Name", max_length=100)
    group_priority = forms.IntegerField(
        label="Group priority", min_value=1, max_value=1000, help_text="1 is executed first."
    )

    def __init__(self, *args: Any, item_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "container-%s")
        super().__init__(*args, **kwargs)
        if item_type != ItemType.GROUP:
            del self.fields["group_priority"]

    def sent(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {"name": data["name"]}
        if "group_priority" in self.fields:
            values["group_priority"] = data["group_priority"]
        return values
