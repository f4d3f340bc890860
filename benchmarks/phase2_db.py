"""The database half of ``python -m benchmarks.phase2``: verifying a 100-OB container and
serving the tree of a 2,000-OB run, on PostgreSQL (``DATABASE_URL``, default the local
server), in a throwaway database created and dropped here.

The world: the Phase 2 test world (``tests.observations.conftest``: an approved service-mode
run of FORS2 with a small template set), one group of 100 complete OBs built through the
services (targets spread over 40 degrees of RA, an acquisition and a science template each),
then the group duplicated through the services until the run holds 2,000 OBs. Timed, median
of the repetitions:

* ``container_verify`` of the 100-OB group (target <= 1 s); baseline: loading the same OBs
  with their templates and windows, the reads any verification needs;
* the run's tree through the API and the tree page for the PI (target <= 300 ms each), with
  their query counts at 100 and at 2,000 OBs (target: equal); baseline: fetching the 2,000
  OB rows' tree fields as tuples.
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dataflow"


@dataclass
class Targets:
    verify_s: float = 1.0
    tree_ms: float = 300.0


def median_ms(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dataflow.settings.test"
    import django

    django.setup()


def _world(n_group: int) -> tuple[Any, Any, Any]:
    """(the PI, the run, a group of ``n_group`` complete OBs), built through the services."""
    from dataflow.accounts.models import Role
    from observations import services
    from observations.commands import OBData
    from observations.models import Container, ItemType
    from proposals.review.services import run_decide
    from tests.factories import UserFactory
    from tests.observations.conftest import add_signatures, reviewed_proposal

    staff = UserFactory.create(username="bench-staff", roles=[Role.STAFF])
    pi = UserFactory.create(username="bench-pi")
    _, sm, vm = reviewed_proposal(pi)
    add_signatures(sm)
    run_decide(
        run_id=sm.pk, actor=staff, approved=True, rank_class="A", hours=3000.0, send_outcome=False
    )
    run_decide(run_id=vm.pk, actor=staff, approved=True, nights=1.0, send_outcome=False)
    root = Container.objects.get(run=sm, parent__isnull=True)
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="Survey tile set", actor=pi
    )
    for i in range(n_group):
        ob = services.ob_create(container_id=group.pk, name=f"tile {i:03d}", actor=pi)
        services.ob_update(
            ob_id=ob.pk,
            data=OBData(target_name=f"field {i}", ra=(350.0 + 40.0 * i / n_group) % 360, dec=-30.0),
            actor=pi,
        )
        services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=pi)
        science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=pi)
        services.template_set_values(
            template_id=science.pk, values={"INS.FILT": "R_SPECIAL"}, actor=pi
        )
    return pi, sm, group


def _queries(client: Any, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


def run(reps: int, targets: Targets, n_group: int = 100, n_total: int = 2000) -> list[bool]:
    """Build the world in a throwaway database, time, print; the MET/MISS verdicts."""
    _setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from observations import services
    from observations.commands import ItemRef
    from observations.models import ObservationBlock, Template

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        t0 = time.perf_counter()
        pi, sm, group = _world(n_group)
        client = Client()
        client.force_login(pi)
        pages = {
            "API tree": reverse("phase2-run-tree", kwargs={"phase2_run_id": sm.pk}),
            "tree page": reverse("phase2:run", kwargs={"phase2_run_id": sm.pk}),
        }
        small = {name: _queries(client, url) for name, url in pages.items()}
        for _ in range(n_total // n_group - 1):
            services.item_duplicate(item=ItemRef.container(group.pk), actor=pi)
        built = time.perf_counter() - t0
        count = ObservationBlock.objects.filter(run=sm).count()
        print(
            f"  world: {count} OBs in {count // n_group} groups, built through the services in "
            f"{built:.0f} s ({connection.vendor})"
        )
        verdicts = []

        def verify() -> object:
            return services.container_verify(container_id=group.pk, actor=pi)

        def load() -> object:
            obs = list(
                ObservationBlock.objects.filter(container=group).prefetch_related("absolute")
            )
            return obs, list(Template.objects.filter(ob__in=obs).select_related("signature"))

        report = services.container_verify(container_id=group.pk, actor=pi)
        assert report.ok, report.errors[:3]
        verify_ms, load_ms = median_ms(verify, reps), median_ms(load, reps)
        ok = verify_ms <= targets.verify_s * 1e3
        verdicts.append(ok)
        print(
            f"  {'MET ' if ok else 'MISS'} verify a {n_group}-OB container <= "
            f"{targets.verify_s:g} s: median {verify_ms:.0f} ms (baseline: loading its OBs and "
            f"templates {load_ms:.1f} ms, ratio {verify_ms / load_ms:.1f}x)"
        )

        def rows() -> object:
            return list(
                ObservationBlock.objects.filter(run=sm).values_list(
                    "pk", "container_id", "position", "name", "status", "execution_time_s"
                )
            )

        rows_ms = median_ms(rows, reps)
        for name, url in pages.items():
            queries = _queries(client, url)
            ms = median_ms(functools.partial(client.get, url), reps)
            ok = ms <= targets.tree_ms and queries == small[name]
            verdicts.append(ok)
            print(
                f"  {'MET ' if ok else 'MISS'} {name} of a {count}-OB run <= "
                f"{targets.tree_ms:g} ms with constant queries: median {ms:.0f} ms, "
                f"{queries} queries ({small[name]} at {n_group} OBs); baseline: the OB rows "
                f"as tuples {rows_ms:.1f} ms, ratio {ms / rows_ms:.1f}x"
            )
        return verdicts
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
