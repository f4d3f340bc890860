"""factory_boy factories for the Django models."""

import datetime as dt
from typing import Any, TypeVar

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from dataflow.accounts.models import Profile, Role
from dataflow.observatory.models import Instrument, Site, Telescope
from proposals.models import ObservingRun, Period, Proposal, Target

M = TypeVar("M")


class ModelFactory(factory.django.DjangoModelFactory[M]):
    """Call ``XFactory.create(...)``: typed as returning the model (``XFactory(...)`` goes
    through factory_boy's untyped metaclass, which mypy takes for the factory itself)."""

    class Meta:
        abstract = True

    @classmethod
    def create(cls, **kwargs: Any) -> M:
        return super().create(**kwargs)  # type: ignore[no-any-return]  # untyped in factory_boy


class UserFactory(ModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Astronomer{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def roles(user: User, create: bool, extracted: list[Role] | None, **kwargs: object) -> None:
        for role in extracted or [Role.ASTRONOMER]:
            user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        user.save()

    @factory.post_generation
    def institute(user: User, create: bool, extracted: str | None, **kwargs: object) -> None:
        Profile.objects.update_or_create(
            user=user, defaults={"institute": extracted or "Universität Göttingen", "country": "DE"}
        )


class SiteFactory(ModelFactory[Site]):
    class Meta:
        model = Site
        django_get_or_create = ("name",)

    name = "Paranal"
    latitude_deg = -24.6272
    longitude_deg = -70.4042
    height_m = 2635.0
    timezone = "America/Santiago"


class TelescopeFactory(ModelFactory[Telescope]):
    class Meta:
        model = Telescope
        django_get_or_create = ("name",)

    site = factory.SubFactory(SiteFactory)
    name = "UT1"
    aperture_m = 8.2


class InstrumentFactory(ModelFactory[Instrument]):
    class Meta:
        model = Instrument
        django_get_or_create = ("telescope", "name")

    telescope = factory.SubFactory(TelescopeFactory)
    name = "FORS2"
    offered_sm = True
    offered_vm = True


class PeriodFactory(ModelFactory[Period]):
    """A period whose call is open now: deadline in 30 days, nights starting in ~4 months."""

    class Meta:
        model = Period
        django_get_or_create = ("number",)

    number = 119
    call_opens = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))
    deadline = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=30))
    start = factory.LazyFunction(lambda: (timezone.now() + dt.timedelta(days=120)).date())
    end = factory.LazyAttribute(lambda p: p.start + dt.timedelta(days=182))


class ProposalFactory(ModelFactory[Proposal]):
    class Meta:
        model = Proposal

    period = factory.SubFactory(PeriodFactory)
    pi = factory.SubFactory(UserFactory)
    title = "Dust in the circumnuclear disc of NGC 253"
    abstract = "We map the dust."
    category = "C"
    proposal_type = "normal"
    scientific_justification = "Because it is there."


class TargetFactory(ModelFactory[Target]):
    class Meta:
        model = Target

    proposal = factory.SubFactory(ProposalFactory)
    name = factory.Sequence(lambda n: f"Target {n}")
    # Close to the south celestial pole: observable from Paranal in any season.
    ra_deg = 83.82
    dec_deg = -69.27


class RunFactory(ModelFactory[ObservingRun]):
    class Meta:
        model = ObservingRun
        skip_postgeneration_save = True

    proposal = factory.SubFactory(ProposalFactory)
    letter = "A"
    telescope = factory.SubFactory(TelescopeFactory)
    instrument = factory.LazyAttribute(lambda r: InstrumentFactory.create(telescope=r.telescope))
    mode = "SM"
    hours = 4.0
    max_airmass = 1.8

    @factory.post_generation
    def targets(self, create: bool, extracted: list[Target] | None, **kwargs: object) -> None:
        if extracted:
            self.targets.set(extracted)


def complete_proposal(**kwargs: object) -> Proposal:
    """A draft that passes verification: one target, one SM run on UT1/FORS2."""
    proposal = ProposalFactory.create(**kwargs)
    target = TargetFactory.create(proposal=proposal, name="LMC field")
    RunFactory.create(proposal=proposal, targets=[target])
    return proposal
