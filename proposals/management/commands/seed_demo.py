"""Make a realistic demo period: users for every role and several hundred proposals.

Seeded, sized, idempotent on an empty database (``make run`` calls it only then). The draws come
from ``dataflow.demo.distributions``, shared with the scheduling benchmarks.
"""

import datetime as dt
from typing import Any

import numpy as np
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.management import BaseCommand, call_command
from django.db import transaction
from django.utils import timezone

from archive import demo as archive_demo
from dataflow.accounts.models import Role
from dataflow.accounts.services import user_create
from dataflow.astro.visibility import nightly_visibility
from dataflow.demo import distributions as dist
from dataflow.errors import DomainError
from dataflow.observatory.models import Instrument, Telescope
from observations import demo as phase2_demo
from observations import demo_night as night_demo
from proposals import services
from proposals.commands import RunData, TargetData
from proposals.models import Period, Proposal, ProposalStatus
from proposals.review import demo as review_demo
from scheduling.demo import accept_greedy, seed_calendar

DEMO_PASSWORD = "demo"
DEMO_LOGINS = [
    ("astronomer", Role.ASTRONOMER, "Ada", "Lovelace", "Universität Göttingen", "DE"),
    ("astronomer2", Role.ASTRONOMER, "Marie", "Curie", "Université Paris-Saclay", "FR"),
    ("reviewer", Role.REVIEWER, "Cecilia", "Payne", "国家天文台", "CN"),
    ("operator", Role.OPERATOR, "Nico", "Operador", "Observatorio Paranal", "CL"),
    ("staff", Role.STAFF, "Sofía", "Programmes", "European Southern Observatory", "DE"),
]
INSTITUTES = [
    ("Universität Göttingen", "DE"),
    ("Université Paris-Saclay", "FR"),
    ("国家天文台", "CN"),
    ("Universidad de Chile", "CL"),
    ("Leiden Observatory", "NL"),
    ("INAF – Osservatorio di Padova", "IT"),
    ("Instituto de Astrofísica de Canarias", "ES"),
    ("Stockholms universitet", "SE"),
    ("Max-Planck-Institut für Astronomie", "DE"),
    ("University of Cambridge", "GB"),
    ("Københavns Universitet", "DK"),
    ("Uniwersytet Warszawski", "PL"),
    ("東京大学", "JP"),
    ("Universidade de São Paulo", "BR"),
    ("Université de Genève", "CH"),
    ("Ústav teoretické fyziky", "CZ"),
]
TOPICS = {
    "A": ["weak lensing around cluster", "the Lyman-alpha forest towards quasar", "supernova host"],
    "B": ["the circumnuclear disc of", "stellar populations in the bulge of", "the AGN outflow in"],
    "C": ["protoplanetary disc around", "the dust in the dark cloud", "exoplanet atmosphere of"],
    "D": ["the pulsations of", "the binary evolution of", "chemical abundances in"],
}


class Command(BaseCommand):
    help = "Create demo users and a realistic demo period with proposals."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=118)
        parser.add_argument("--proposals", type=int, default=400, help="How many proposals.")
        parser.add_argument("--pis", type=int, default=60, help="How many distinct PIs.")
        parser.add_argument("--period", type=int, default=119, help="Period number.")
        parser.add_argument("--months", type=int, default=6, help="Period length in months.")
        parser.add_argument("--reviewers", type=int, default=24, help="Panel members.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if periods exist.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["if_empty"] and Period.objects.exists():
            self.stdout.write("The database has data already: no demo data loaded.")
            self._print_logins()
            return
        call_command("loaddata", "paranal", "instruments", verbosity=0)
        rng = np.random.default_rng(opts["seed"])
        with transaction.atomic():
            period = self._period(opts["period"], opts["months"])
            # The calendar first: the review's available hours (pressure, cut lines) are its
            # open nights.
            seed_calendar(period)
            users = self._users(rng, opts["pis"])
            n = self._proposals(rng, period, users, opts["proposals"])
            if not period.panels.exists():
                review_demo.walk(
                    period,
                    staff=User.objects.get(username="staff"),
                    reviewers=self._reviewers(rng, opts["reviewers"]),
                    rng=rng,
                )
        # The long-term schedule: the greedy solver (fast) through a job, accepted, so the
        # calendar pages and the PIs' nights are populated (outside the block above: a failed
        # solve must not roll the demo period back).
        version = accept_greedy(period, User.objects.get(username="staff"))
        self.stdout.write(f"Long-term schedule of {period}: version {version.number} accepted.")
        # Phase 2: the approved runs' OBs, through the services (one transaction per run).
        obs = phase2_demo.walk(period, staff=User.objects.get(username="staff"), rng=rng)
        self.stdout.write(f"Phase 2 of {period}: {obs.summary()}.")
        # The night: a few nights executed on the ranking's choices by the demo operator
        # (their raw frames and calibrations written by Celery tasks, eagerly in `make run`).
        nights = night_demo.walk(period, operator=User.objects.get(username="operator"), rng=rng)
        self.stdout.write(f"Nights of {period}: {nights.summary()}.")
        # The archive: the nights' frames ingested from the landing area.
        archive = archive_demo.walk()
        self.stdout.write(f"Archive: {archive.summary()}.")
        self.stdout.write(
            self.style.SUCCESS(f"Demo period {period}: {n} proposals, {len(users)} PIs.")
        )
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write(f"Demo logins, password '{DEMO_PASSWORD}':")
        for username, role, *_ in DEMO_LOGINS:
            self.stdout.write(f"  {role.label:<18} {username}")

    def _period(self, number: int, months: int) -> Period:
        now = timezone.now()
        start = (now + dt.timedelta(days=120)).date().replace(day=1)
        end_month = start.month - 1 + months
        end = dt.date(start.year + end_month // 12, end_month % 12 + 1, 1) - dt.timedelta(days=1)
        period, _ = Period.objects.get_or_create(
            number=number,
            defaults={
                "start": start,
                "end": end,
                "call_opens": now - dt.timedelta(days=30),
                "deadline": now + dt.timedelta(days=30),
            },
        )
        return period

    def _users(self, rng: np.random.Generator, n_pis: int) -> list[User]:
        password_hash = make_password(DEMO_PASSWORD)  # hashed once for every demo account
        for username, role, first, last, institute, country in DEMO_LOGINS:
            if not User.objects.filter(username=username).exists():
                user = user_create(
                    username=username,
                    email=f"{username}@example.org",
                    password=DEMO_PASSWORD,
                    password_hash=password_hash,
                    roles=[role],
                    first_name=first,
                    last_name=last,
                    institute=institute,
                    country=country,
                )
                if role == Role.STAFF:
                    user.is_staff = user.is_superuser = True
                    user.save(update_fields=["is_staff", "is_superuser"])
        users = [User.objects.get(username="astronomer"), User.objects.get(username="astronomer2")]
        for i in range(n_pis):
            user = self._account(rng, f"pi{i:03d}", Role.ASTRONOMER, "PI", password_hash)
            users.append(user)
        return users

    @staticmethod
    def _account(
        rng: np.random.Generator, username: str, role: Role, first_name: str, password_hash: str
    ) -> User:
        """A demo account (kept if it exists) at an institute drawn from the PIs' ones."""
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            return existing
        institute, country = INSTITUTES[int(rng.integers(len(INSTITUTES)))]
        return user_create(
            username=username,
            email=f"{username}@example.org",
            password=DEMO_PASSWORD,
            password_hash=password_hash,
            roles=[role],
            first_name=first_name,
            last_name=username[-3:],
            institute=institute,
            country=country,
        )

    def _reviewers(self, rng: np.random.Generator, n: int) -> list[User]:
        """Panel members from the same institutes as the PIs (so real conflicts arise); the
        demo login ``reviewer`` chairs the first panel."""
        password_hash = make_password(DEMO_PASSWORD)
        reviewers = [User.objects.get(username="reviewer")]
        for i in range(n - 1):
            user = self._account(rng, f"ref{i:03d}", Role.REVIEWER, "Referee", password_hash)
            reviewers.append(user)
        return reviewers

    def _proposals(
        self, rng: np.random.Generator, period: Period, users: list[User], n: int
    ) -> int:
        """Every proposal, target, run, invitation and submission goes through the services,
        so the demo obeys the rules user data obeys (a draw that a rule refuses is redrawn or
        left a draft). Final PDFs are not queued: they render on demand when opened."""
        if period.proposals.exists():
            return period.proposals.count()
        telescopes = list(Telescope.objects.select_related("site"))
        instruments = {t.pk: list(Instrument.objects.filter(telescope=t)) for t in telescopes}
        categories = dist.choice(rng, dist.CATEGORIES, dist.CATEGORY_WEIGHTS, n)
        types = dist.choice(rng, dist.PROPOSAL_TYPES, dist.PROPOSAL_TYPE_WEIGHTS, n)
        n_runs = rng.choice([1, 1, 1, 2, 2, 3], size=n)
        run_draws = dist.runs(rng, int(n_runs.sum()))
        ra, dec = dist.target_coordinates(rng, sum(r.n_targets for r in run_draws))
        call_days = max((timezone.now() - period.call_opens).days, 1)
        targets_done = run_index = 0
        for i in range(n):
            cat = str(categories[i])
            topic = TOPICS[cat][i % len(TOPICS[cat])]
            # The two demo astronomers keep a few drafts to play with; the rest are submitted.
            draft = i < 4
            pi = users[i % 2] if draft else users[2 + int(rng.integers(len(users) - 2))]
            proposal = services.proposal_create(
                pi=pi,
                period=period,
                title=f"Probing {topic} target {i + 1}",
                category=cat,
                proposal_type=str(types[i]),
                abstract=f"We propose to study {topic} with the VLT.",
                scientific_justification="Demo justification. " * 20,
            )
            for k in range(int(n_runs[i])):
                draw = run_draws[run_index]
                run_index += 1
                target_ids = []
                for j in range(draw.n_targets):
                    target = services.target_create(
                        proposal_id=proposal.pk,
                        actor=pi,
                        data=TargetData(
                            name=f"T{proposal.pk}-{k + 1}-{j + 1}",
                            ra=float(ra[targets_done + j]),
                            dec=float(dec[targets_done + j]),
                            magnitude=round(float(rng.uniform(8, 22)), 1),
                        ),
                    )
                    target_ids.append(target.pk)
                targets_done += draw.n_targets
                tel = telescopes[int(rng.integers(len(telescopes)))]
                inst = instruments[tel.pk][int(rng.integers(len(instruments[tel.pk])))]
                vm = draw.mode == "VM" and inst.offered_in("VM")
                first = targets_done - draw.n_targets
                max_airmass = self._feasible_airmass(
                    tel, period, ra[first:targets_done], dec[first:targets_done], draw.max_airmass
                )
                services.run_create(
                    proposal_id=proposal.pk,
                    actor=pi,
                    data=RunData(
                        telescope=tel.pk,
                        instrument=inst.pk,
                        mode="VM" if vm else "SM",
                        # a VM request on an SM-only instrument becomes SM hours (~9 h a night)
                        hours=None if vm else (draw.hours or round(draw.nights * 9.0, 1)),
                        nights=max(1.0, round(draw.nights)) if vm else None,
                        max_fli=draw.max_fli,
                        max_seeing_arcsec=draw.seeing_arcsec,
                        transparency=draw.transparency,
                        max_airmass=max_airmass,
                        target_ids=target_ids,
                    ),
                )
            if not draft:
                when = period.call_opens + dt.timedelta(days=float(rng.uniform(0, call_days)))
                self._submit(proposal, pi, min(when, timezone.now()))
        self._invitations(period, users)
        return n

    @staticmethod
    def _feasible_airmass(
        telescope: Telescope, period: Period, ra: np.ndarray, dec: np.ndarray, drawn: float
    ) -> float:
        """The drawn airmass limit, relaxed as a PI would after verification until every target
        reaches it on some night (targets that never rise stay refused)."""
        vis = nightly_visibility(
            telescope.site.as_astro(), ra, dec, period.start, period.end, max_airmass=3.0
        )
        best = vis.min_airmass.min(axis=1, initial=np.inf)
        worst = float(best[np.isfinite(best)].max(initial=1.0))
        return round(min(max(drawn, np.ceil(worst * 10) / 10 + 0.1), 3.0), 1)

    def _submit(self, proposal: Proposal, pi: User, when: dt.datetime) -> None:
        try:
            services.proposal_submit(
                proposal_id=proposal.pk, actor=pi, now=when, queue_final_pdf=False
            )
        except DomainError as exc:  # e.g. a target the sky never shows: left a draft
            self.stdout.write(f"  {proposal}: left a draft ({'; '.join(exc.all_messages())})")

    def _invitations(self, period: Period, users: list[User]) -> None:
        """astronomer2 is co-investigator of one of astronomer's drafts (invited, accepted);
        another draft has an invitation still pending."""
        astronomer, astronomer2 = users[0], users[1]
        drafts = list(period.proposals.filter(pi=astronomer, status=ProposalStatus.DRAFT))
        if not drafts:
            return
        coi = services.coi_add(proposal_id=drafts[0].pk, actor=astronomer, email=astronomer2.email)
        services.coi_accept(token=str(coi.invitation_token), user=astronomer2)
        services.coi_add(proposal_id=drafts[-1].pk, actor=astronomer, email="colleague@example.org")
