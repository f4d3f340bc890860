"""Make a realistic demo period: users for every role and several hundred proposals.

Seeded, sized, idempotent on an empty database (``make run`` calls it only then). The draws come
from ``dataflow.demo.distributions``, shared with the scheduling benchmarks.
"""

import datetime as dt
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.core.management import BaseCommand, call_command
from django.db import transaction
from django.utils import timezone

from dataflow.accounts.models import Role
from dataflow.accounts.services import user_create
from dataflow.demo import distributions as dist
from dataflow.observatory.models import Instrument, Telescope
from proposals.models import ObservingRun, Period, Proposal, ProposalEvent, ProposalStatus, Target

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
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if periods exist.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["if_empty"] and Period.objects.exists():
            self.stdout.write("The database has data already: no demo data loaded.")
            self._print_logins()
            return
        call_command("loaddata", "paranal", verbosity=0)
        rng = np.random.default_rng(opts["seed"])
        with transaction.atomic():
            period = self._period(opts["period"], opts["months"])
            users = self._users(rng, opts["pis"])
            n = self._proposals(rng, period, users, opts["proposals"])
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
        for username, role, first, last, institute, country in DEMO_LOGINS:
            if not User.objects.filter(username=username).exists():
                user = user_create(
                    username=username,
                    email=f"{username}@example.org",
                    password=DEMO_PASSWORD,
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
            username = f"pi{i:03d}"
            user = User.objects.filter(username=username).first()
            if user is None:
                institute, country = INSTITUTES[int(rng.integers(len(INSTITUTES)))]
                user = user_create(
                    username=username,
                    email=f"{username}@example.org",
                    password=DEMO_PASSWORD,
                    roles=[Role.ASTRONOMER],
                    first_name="PI",
                    last_name=f"{i:03d}",
                    institute=institute,
                    country=country,
                )
            users.append(user)
        return users

    def _proposals(
        self, rng: np.random.Generator, period: Period, users: list[User], n: int
    ) -> int:
        if period.proposals.exists():
            return period.proposals.count()
        telescopes = list(Telescope.objects.all())
        instruments = {t.pk: list(Instrument.objects.filter(telescope=t)) for t in telescopes}
        categories = dist.choice(rng, dist.CATEGORIES, dist.CATEGORY_WEIGHTS, n)
        types = dist.choice(rng, dist.PROPOSAL_TYPES, dist.PROPOSAL_TYPE_WEIGHTS, n)
        n_runs = rng.choice([1, 1, 1, 2, 2, 3], size=n)
        run_draws = dist.runs(rng, int(n_runs.sum()))
        ra, dec = dist.target_coordinates(rng, sum(r.n_targets for r in run_draws))
        submitted_at = period.call_opens
        proposals, events = [], []
        for i in range(n):
            cat = categories[i]
            topic = TOPICS[cat][i % len(TOPICS[cat])]
            # The two demo astronomers keep a few drafts to play with; the rest are submitted.
            draft = i < 4
            pi = users[i % 2] if draft else users[2 + int(rng.integers(len(users) - 2))]
            p = Proposal(
                period=period,
                pi=pi,
                title=f"Probing {topic} target {i + 1}",
                category=cat,
                proposal_type=types[i],
                abstract=f"We propose to study {topic} with the VLT.",
                scientific_justification="Demo justification. " * 20,
                status=ProposalStatus.DRAFT if draft else ProposalStatus.SUBMITTED,
            )
            if not draft:
                p.programme_number = i + 1
                p.programme_id = f"{period.number}.{cat}-{i + 1:04d}"
                p.submitted_at = submitted_at
            proposals.append(p)
        Proposal.objects.bulk_create(proposals)
        targets_done = 0
        run_index = 0
        for i, p in enumerate(proposals):
            for k in range(int(n_runs[i])):
                draw = run_draws[run_index]
                run_index += 1
                tel = telescopes[int(rng.integers(len(telescopes)))]
                inst = instruments[tel.pk][int(rng.integers(len(instruments[tel.pk])))]
                mode = draw.mode if inst.offered_in(draw.mode) else "SM"
                targets = Target.objects.bulk_create(
                    [
                        Target(
                            proposal=p,
                            name=f"T{p.pk}-{k + 1}-{j + 1}",
                            ra_deg=float(ra[targets_done + j]),
                            dec_deg=float(dec[targets_done + j]),
                            magnitude=round(float(rng.uniform(8, 22)), 1),
                        )
                        for j in range(draw.n_targets)
                    ]
                )
                targets_done += draw.n_targets
                run = ObservingRun.objects.create(
                    proposal=p,
                    letter=chr(ord("A") + k),
                    telescope=tel,
                    instrument=inst,
                    mode=mode,
                    # a VM request on an SM-only instrument becomes SM hours (~9 h a night)
                    hours=(draw.hours or round(draw.nights * 9.0, 1)) if mode == "SM" else None,
                    nights=max(1.0, round(draw.nights)) if mode == "VM" else None,
                    max_fli=draw.max_fli,
                    max_seeing_arcsec=draw.seeing_arcsec,
                    transparency=draw.transparency,
                    max_airmass=draw.max_airmass,
                )
                run.targets.set(targets)
            if p.status == ProposalStatus.SUBMITTED:
                events.append(
                    ProposalEvent(
                        proposal=p,
                        actor=p.pi,
                        at=submitted_at,
                        old=ProposalStatus.DRAFT,
                        new=ProposalStatus.SUBMITTED,
                        note="demo",
                    )
                )
        ProposalEvent.objects.bulk_create(events)
        return n
