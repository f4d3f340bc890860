"""Who gets what: every URL pattern of the project × every role, with the expected status.

The tables below have one entry per URL pattern, with a line per method (GET, and the writes
the pattern serves) and a column per role. Every pattern of the root URLconf must have its
entry, and every method of an API view its line: a new page or endpoint without one fails
``test_every_url_pattern_has_a_row_in_the_role_matrix`` with its pattern named, so nothing
ships without deciding who may use it.

Each request runs against a freshly seeded world (a PI's complete draft with two targets, a run,
two accepted co-investigators and a figure; a submitted proposal; a pending invitation) inside
a savepoint rolled back afterwards, and a refused request must leave every row of the database
as it was.

Columns: anonymous, owner PI, co-investigator (linked, accepted), another astronomer,
reviewer, operator, staff (the staff role, also Django staff as ``seed_demo`` makes them).
Values: an HTTP status; ``LOGIN`` is a 302 to ``/accounts/login/``, ``ADMIN_LOGIN`` a 302 to
the admin's login page, ``SHOWN`` a 200 that shows a refusal and writes nothing.
"""

import datetime
import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.views import APIView

from archive.models import ArchiveFile, Category, DataDelegate, DownloadRequest
from dataflow.accounts.models import Role
from dataflow.api import router
from dataflow.observatory.models import Telescope
from observations.models import (
    Container,
    ItemType,
    ObservationBlock,
    Template,
    TemplateSignature,
    TemplateType,
)
from proposals.models import CoInvestigator, Figure, ObservingRun, Proposal, ProposalStatus
from proposals.review.models import Assignment, Conflict, Panel, PanelMember, RunDecision
from scheduling.models import ScheduleJob, ScheduleVersion
from tests.factories import PeriodFactory, TargetFactory, UserFactory, complete_proposal

LOGIN = "login"  # 302 to /accounts/login/?next=...
ADMIN_LOGIN = "admin-login"  # 302 to /admin/login/?next=...
SHOWN = "200, refused"  # 200 with the refusal on the page, and nothing written
Status = int | str


class E(NamedTuple):
    """Expected status per role, in the tables' column order."""

    anonymous: Status
    pi: Status
    coi: Status
    other: Status
    reviewer: Status
    operator: Status
    staff: Status


ROLES = E._fields
GET, POST, PUT, PATCH, DELETE = "GET", "POST", "PUT", "PATCH", "DELETE"

# fmt: off
# Pages, and the endpoints outside the router. <pk> is the PI's draft (for withdraw: the
# submitted proposal). Writes send an empty form (an empty JSON object under /api/): who may
# not write is refused before the input is even read; allowed roles get their form back (200)
# or a 400.
PATTERNS: dict[str, dict[str, E]] = {
    #                                  anon   PI   Co-I other  rev   op  staff
    "": {GET:                        E(302,   302, 302, 302,  302,  302, 302)},
    "favicon.ico": {GET:             E(302,   302, 302, 302,  302,  302, 302)},
    "accounts/login/": {
        GET:                         E(200,   200, 200, 200,  200,  200, 200),
        POST:                        E(200,   200, 200, 200,  200,  200, 200)},
    "accounts/logout/": {
        GET:                         E(405,   405, 405, 405,  405,  405, 405),
        POST:                        E(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)},
    "accounts/signup/": {
        GET:                         E(200,   200, 200, 200,  200,  200, 200),
        POST:                        E(200,   200, 200, 200,  200,  200, 200)},
    "accounts/profile/": {
        GET:                         E(LOGIN, 200, 200, 200,  200,  200, 200),
        POST:                        E(LOGIN, 200, 200, 200,  200,  200, 200)},
    "proposals/": {GET:              E(LOGIN, 200, 200, 200,  200,  200, 200)},
    # Only astronomers open proposals.
    "proposals/new/": {
        GET:                         E(LOGIN, 200, 200, 200,  403,  403, 403),
        POST:                        E(LOGIN, 200, 200, 200,  403,  403, 403)},
    # Not an investigator: 404, never revealing that the proposal exists. Staff read every
    # proposal (the edit page too, read-only) and edit none.
    "proposals/<pk>/": {GET:         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "proposals/<pk>/edit/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200),
        POST:                        E(LOGIN, 200, 200, 404,  404,  404, 403)},
    "proposals/<pk>/targets/add/": {
        GET:                         E(LOGIN, 405, 405, 405,  405,  405, 405),
        POST:                        E(LOGIN, 200, 200, 404,  404,  404, 403)},
    "proposals/<pk>/targets/<target_id>/edit/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200),
        POST:                        E(LOGIN, 200, 200, 404,  404,  404, 403)},
    "proposals/<pk>/targets/<target_id>/delete/": {
        POST:                        E(LOGIN, 302, 302, 404,  404,  404, 403)},
    "proposals/<pk>/runs/add/": {
        POST:                        E(LOGIN, 200, 200, 404,  404,  404, 403)},
    "proposals/<pk>/runs/<run_id>/edit/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200),
        POST:                        E(LOGIN, 200, 200, 404,  404,  404, 403)},
    "proposals/<pk>/runs/<run_id>/delete/": {
        POST:                        E(LOGIN, 302, 302, 404,  404,  404, 403)},
    "proposals/<pk>/runs/<run_id>/visibility.png": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "proposals/<pk>/investigators/add/": {
        POST:                        E(LOGIN, 200, 200, 404,  404,  404, 403)},
    "proposals/<pk>/investigators/<coi_id>/remove/": {
        POST:                        E(LOGIN, 302, 302, 404,  404,  404, 403)},
    "proposals/<pk>/figures/add/": {
        POST:                        E(LOGIN, 200, 200, 404,  404,  404, 403)},
    "proposals/<pk>/figures/<figure_id>/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "proposals/<pk>/figures/<figure_id>/delete/": {
        POST:                        E(LOGIN, 302, 302, 404,  404,  404, 403)},
    "proposals/<pk>/verify/": {GET:  E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "proposals/<pk>/pdf/": {GET:     E(LOGIN, 200, 200, 404,  404,  404, 200)},
    # The accepted schedule's nights as iCalendar (the draft has none: an empty calendar).
    "proposals/<pk>/nights.ics": {GET: E(LOGIN, 200, 200, 404, 404,  404, 200)},
    # The outcome letter exists once the proposal is decided (the draft has none: 404).
    "proposals/<pk>/outcome/": {GET: E(LOGIN, 404, 404, 404,  404,  404, 404)},
    "proposals/<pk>/outcome.pdf": {GET: E(LOGIN, 404, 404, 404, 404, 404, 404)},
    # Only the PI names who reviews for the team (others see the refusal as a message).
    "proposals/<pk>/review-delegate/": {
        POST:                        E(LOGIN, 302, 302, 404,  404,  404, 302)},
    # Only the PI submits (the empty form is shown back with its error) and withdraws.
    "proposals/<pk>/submit/": {
        POST:                        E(LOGIN, 200, 403, 404,  404,  404, 403)},
    "proposals/<pk>/withdraw/": {
        POST:                        E(LOGIN, 302, 403, 404,  404,  404, 403)},
    # The invitation is for the other astronomer's address: only that account accepts it.
    "proposals/invitations/<token>/accept/": {
        GET:                         E(LOGIN, 200, 200, 200,  200,  200, 200),
        POST:                        E(LOGIN, SHOWN, SHOWN, 302, SHOWN, SHOWN, SHOWN)},
    # The staff's list of a period's proposals is for staff only (the bare URL redirects to
    # the current period).
    "proposals/staff/": {GET:        E(LOGIN, 403, 403, 403,  403,  403, 302)},
    "proposals/staff/periods/<number>/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    # Reviewers: their home and their assignments (anyone else's is a 404); the world's
    # reviewer is assigned to the submitted proposal and chairs its panel.
    "review/": {GET:                 E(LOGIN, 403, 403, 403,  200,  403, 403)},
    "review/assignments/<assignment_id>/": {
        GET:                         E(LOGIN, 404, 404, 404,  200,  404, 404),
        POST:                        E(LOGIN, 404, 404, 404,  302,  404, 404)},
    "review/assignments/<assignment_id>/pdf/": {
        GET:                         E(LOGIN, 404, 404, 404,  200,  404, 404)},
    "review/assignments/<assignment_id>/conflict/": {
        POST:                        E(LOGIN, 404, 404, 404,  200,  404, 404)},
    # The chair's panel page (staff: every panel). The world's proposal is not under review
    # yet, so it is in no panel's list and its panel grade is a 404 for everyone.
    "review/panels/<panel_id>/": {GET: E(LOGIN, 404, 404, 404, 200, 404, 200)},
    "review/panels/<panel_id>/proposals/<proposal_id>/grade/": {
        POST:                        E(LOGIN, 404, 404, 404,  404,  404, 404)},
    # Staff run the review.
    "review/staff/": {GET:           E(LOGIN, 403, 403, 403,  403,  403, 302)},
    "review/staff/periods/<number>/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "review/staff/periods/<number>/start/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 302)},
    "review/staff/periods/<number>/panels/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "review/staff/periods/<number>/members/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "review/staff/periods/<number>/assign/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 302)},
    "review/staff/conflicts/<conflict_id>/override/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "review/staff/periods/<number>/ranking/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "review/staff/periods/<number>/ranking/pressure.png": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "review/staff/periods/<number>/allocation/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "review/staff/assignments/<assignment_id>/move/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 302)},
    "review/staff/runs/<run_id>/decide/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    # The long-term schedule's pages: staff only. An empty start form is shown back with its
    # errors; the world's job is finished (cancel: 302 with a message); compare: v1 with itself.
    "schedule/": {GET:               E(LOGIN, 403, 403, 403,  403,  403, 302)},
    "schedule/periods/<number>/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "schedule/periods/<number>/jobs/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "schedule/jobs/<job_id>/": {GET: E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "schedule/jobs/<job_id>/cancel/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 302)},
    "schedule/versions/<version_id>/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "schedule/versions/<version_id>/accept/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 302)},
    "schedule/versions/<version_id>/compare/<other_id>/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    # Pins and links of VM runs: an empty form is shown back with its errors; the world has
    # no pin nor link (removing an unknown one: 404); "Pin here" naming no run of the version
    # goes back to its calendar with the refusal as a message.
    "schedule/periods/<number>/pins/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "schedule/pins/<pin_id>/remove/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 404)},
    "schedule/periods/<number>/links/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "schedule/links/<link_id>/remove/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 404)},
    "schedule/versions/<version_id>/pins/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 302)},
    # Staff export the accepted schedule.
    "schedule/export/periods/<number>/nights.csv": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    # A VM run's travel request: its team only (404 unless the proposal is visible, 403 for
    # staff not on the team). The world's run has no nights: the page says so (200), an empty
    # form comes back with its errors and nothing is written.
    "schedule/runs/<run_id>/travel/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 403),
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    # Staff's weekly arrival list of visitors, and its CSV.
    "schedule/arrivals/": {GET:      E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "schedule/arrivals.csv": {GET:   E(LOGIN, 403, 403, 403,  403,  403, 200)},
    # The world has no travel request: staff confirming an unknown one get 404.
    "schedule/travel/<request_id>/confirm/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 404)},
    # The night console (issue 12): operators and staff only. The world has no weather
    # reading, so the console asks for the seeing (200) and its ranking fragment is a 400; an
    # empty form to a write is shown back refused (nothing runs on UT1 to complete or abort).
    "night/": {GET:                  E(LOGIN, 403, 403, 403,  403,  200, 200)},
    "night/<telescope>/": {GET:      E(LOGIN, 403, 403, 403,  403,  200, 200)},
    "night/<telescope>/ranking/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  400, 400)},
    "night/<telescope>/weather/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  SHOWN, SHOWN)},
    "night/<telescope>/start/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  SHOWN, SHOWN)},
    "night/<telescope>/complete/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  SHOWN, SHOWN)},
    "night/<telescope>/abort/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  SHOWN, SHOWN)},
    # The night log of a telescope (issue 12): operators and staff read it and write its lines
    # (an empty form comes back with its errors), close the night (a "night closed" line);
    # only staff refund (an empty form comes back with its errors).
    "night/<telescope>/<night>/log/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  200, 200)},
    "night/<telescope>/<night>/log.csv": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  200, 200)},
    "night/<telescope>/<night>/log.pdf": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  200, 200)},
    "night/<telescope>/<night>/log/notes/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  SHOWN, SHOWN)},
    "night/<telescope>/<night>/log/refund/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "night/<telescope>/<night>/log/close/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  302, 302)},
    # An OB's visibility plots (PNG): whoever reads the OB's run (its investigators, staff);
    # 404 for everyone else. The world's OB has no coordinates: a "no target yet" PNG.
    "phase2/obs/<ob_id>/visibility/night.png": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "phase2/obs/<ob_id>/visibility/period.png": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    # Staff's Phase 2 review: the queue and an OB's review page (the world's OB is partial:
    # shown without Accept); a write without the page's version is shown back refused (a
    # container's acceptance goes back to the queue with the refusal as a message).
    "phase2/review/": {GET:          E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "phase2/review/obs/<ob_id>/": {
        GET:                         E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "phase2/review/obs/<ob_id>/accept/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "phase2/review/obs/<ob_id>/send-back/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "phase2/review/obs/<ob_id>/waiver/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, SHOWN)},
    "phase2/review/containers/<container_id>/accept/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 302)},
    # The astronomers' Phase 2 pages: the list of one's open runs (empty for most); the
    # approved run's tree, its root folder and its group's OB (P, with an acquisition
    # template) for the PI and co-investigator, read-only for staff (writes: 403), 404 for
    # everyone else. An empty form is shown back refused (no version, no name, ...); the OB
    # has no finding chart (chart 1: 404).
    "phase2/": {GET:                 E(LOGIN, 200, 200, 200,  200,  200, 200)},
    "phase2/runs/<phase2_run_id>/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "phase2/runs/<phase2_run_id>/create/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/runs/<phase2_run_id>/items/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/containers/<container_id>/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "phase2/containers/<container_id>/edit/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/containers/<container_id>/verify/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "phase2/containers/<container_id>/submit/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200),
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/copy-target/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/verify/": {
        GET:                         E(LOGIN, 200, 200, 404,  404,  404, 200)},
    "phase2/obs/<ob_id>/submit/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/revise/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/templates/add/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/templates/save/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/templates/delete/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/templates/move/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/windows/absolute/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/windows/sidereal/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/charts/add/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/charts/remove/": {
        POST:                        E(LOGIN, SHOWN, SHOWN, 404, 404, 404, 403)},
    "phase2/obs/<ob_id>/charts/<chart_index>/": {
        GET:                         E(LOGIN, 404, 404, 404,  404,  404, 404)},
    "api/v1/token/": {
        GET:                         E(405,   405, 405, 405,  405,  405, 405),
        POST:                        E(400,   400, 400, 400,  400,  400, 400)},
    "api/v1/profile/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200),
        PATCH:                       E(401,   200, 200, 200,  200,  200, 200)},
    "api/schema/": {GET:             E(200,   200, 200, 200,  200,  200, 200)},
    "api/docs/": {GET:               E(200,   200, 200, 200,  200,  200, 200)},
    # The archive (issue 13): search and metadata for everyone (headers are public); the
    # proprietary frame's bytes for its PI, co-investigator and staff (anonymous: the login
    # page). Basket and request writes with an empty form go back with a message (302); the
    # world's ready request is the PI's (404 for anyone else); delegates: the PI of the
    # submitted proposal names them (an empty form shown back), its co-investigator and staff
    # are refused, everyone else 404; the world's delegate is on the approved proposal.
    "archive/": {GET:                E(200,   200, 200, 200,  200,  200, 200)},
    "archive/files/<file_id>/": {GET: E(200,  200, 200, 200,  200,  200, 200)},
    "archive/files/<file_id>/download/": {
        GET:                         E(LOGIN, 200, 200, 403,  403,  403, 200)},
    "archive/basket/": {GET:         E(LOGIN, 200, 200, 200,  200,  200, 200)},
    "archive/basket/add/": {POST:    E(LOGIN, 302, 302, 302,  302,  302, 302)},
    "archive/basket/remove/": {POST: E(LOGIN, 302, 302, 302,  302,  302, 302)},
    "archive/requests/": {
        GET:                         E(LOGIN, 200, 200, 200,  200,  200, 200),
        POST:                        E(LOGIN, 302, 302, 302,  302,  302, 302)},
    "archive/requests/<download_id>/": {
        GET:                         E(LOGIN, 200, 404, 404,  404,  404, 404)},
    "archive/requests/<download_id>/download.zip": {
        GET:                         E(LOGIN, 200, 404, 404,  404,  404, 404)},
    "archive/requests/<download_id>/download.sh": {
        GET:                         E(LOGIN, 200, 404, 404,  404,  404, 404)},
    "archive/delegates/": {GET:      E(LOGIN, 200, 200, 200,  200,  200, 200)},
    "archive/delegates/programmes/<proposal_id>/add/": {
        POST:                        E(LOGIN, SHOWN, 403, 404, 404,  404, 403)},
    "archive/delegates/<delegate_id>/remove/": {
        POST:                        E(LOGIN, 302, 403, 404,  404,  404, 403)},
    # The archive's staff pages (issue 13): the data transfer monitor and the quarantine,
    # staff only; the world has no quarantined file (999999: 404 for staff).
    "archive/staff/monitor/": {GET:  E(LOGIN, 403, 403, 403,  403,  403, 200)},
    "archive/staff/quarantine/": {GET: E(LOGIN, 403, 403, 403, 403,  403, 200)},
    "archive/staff/quarantine/<quarantined_id>/resolve/": {
        POST:                        E(LOGIN, 403, 403, 403,  403,  403, 404)},
    # Whatever no API view matches (a typo, a non-numeric id) is a JSON 404 for everyone.
    "api/<unknown>": {GET:           E(404,   404, 404, 404,  404,  404, 404)},
    # The p2-compatible API (issue 14), Bearer token, JSON bodies ({} for writes): the same
    # rules as phase2/ above (world: the root folder, its group's OB in P with a template, no
    # finding chart); staff read and get 403 on writes before the input is read.
    "p2/api/login": {POST:           E(400,   400, 400, 400,  400,  400, 400)},
    "p2/api/v1/authenticatedUser": {GET: E(401, 200, 200, 200, 200,  200, 200)},
    "p2/api/v1/obsRuns": {GET:       E(401,   200, 200, 200,  200,  200, 200)},
    "p2/api/v1/obsRuns/<phase2_run_id>": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200)},
    "p2/api/v1/containers/<container_id>": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   200, 200, 404,  404,  404, 403),
        DELETE:                      E(401,   400, 400, 404,  404,  404, 403)},
    "p2/api/v1/containers/<container_id>/items": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   400, 400, 404,  404,  404, 403),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403)},
    "p2/api/v1/containers/<container_id>/items/append": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "p2/api/v1/containers/<container_id>/items/executionTimes": {
        POST:                        E(401,   200, 200, 404,  404,  404, 200)},
    "p2/api/v1/containers/<container_id>/verify": {
        POST:                        E(401,   200, 200, 404,  404,  404, 200)},
    "p2/api/v1/containers/<container_id>/revise": {
        POST:                        E(401,   409, 409, 404,  404,  404, 403)},
    "p2/api/v1/containers/<container_id>/schedule": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   200, 200, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   200, 200, 404,  404,  404, 403),
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>/verify": {
        POST:                        E(401,   200, 200, 404,  404,  404, 200)},
    "p2/api/v1/obsBlocks/<ob_id>/revise": {
        POST:                        E(401,   409, 409, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>/duplicate": {
        POST:                        E(401,   201, 201, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>/executionTime": {
        POST:                        E(401,   200, 200, 404,  404,  404, 200)},
    "p2/api/v1/obsBlocks/<ob_id>/schedule": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   200, 200, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>/executions": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200)},
    "p2/api/v1/obsBlocks/<ob_id>/templates": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   400, 400, 404,  404,  404, 403),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>/templates/<template_id>": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403),
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>/timeConstraints/absolute": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>/timeConstraints/sidereal": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403)},
    # A JSON body is not a JPEG: 415.
    "p2/api/v1/obsBlocks/<ob_id>/findingCharts": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   415, 415, 404,  404,  404, 403)},
    "p2/api/v1/obsBlocks/<ob_id>/findingCharts/<chart_index>": {
        GET:                         E(401,   404, 404, 404,  404,  404, 404),
        DELETE:                      E(401,   404, 404, 404,  404,  404, 403)},
    # A JSON body is not text/plain: 415; deleting the OB's (absent) ephemeris: 204.
    "p2/api/v1/obsBlocks/<ob_id>/ephemeris": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   415, 415, 404,  404,  404, 403),
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "p2/api/v1/instrumentPackages/<instrument>/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200)},
    "p2/api/v1/instrumentPackages/<instrument>/<ip_version>/templateSignatures": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200)},
    "p2/api/v1/instrumentPackages/<instrument>/<ip_version>/templateSignatures/<template_name>": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200)},
    "p2/api/v1/instrumentPackages/<instrument>/<ip_version>/instrumentConstraints": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200)},
    # What p2 has and we do not (a run's readme in the world's ids): 501.
    "p2/api/v1/<unsupported>": {
        GET:                         E(401,   501, 501, 501,  501,  501, 501),
        POST:                        E(401,   501, 501, 501,  501,  501, 501),
        PUT:                         E(401,   501, 501, 501,  501,  501, 501),
        DELETE:                      E(401,   501, 501, 501,  501,  501, 501)},
    # The Virtual Observatory (issue 13): open to everyone, rows filtered by who asks (tokens
    # or, for GETs, the session). Empty requests: SCS's error document is a 200, TAP sync and
    # DataLink without a query or ID 400; an async job is created whatever its parameters
    # (303, it ends in ERROR). No TAP job in the world (404). The proprietary frame's bytes:
    # 401 anonymous, 403 outside its team, 200 for its team and staff.
    "vo/scs": {GET:                  E(200,   200, 200, 200,  200,  200, 200)},
    "vo/sia/query": {
        GET:                         E(200,   200, 200, 200,  200,  200, 200),
        POST:                        E(200,   200, 200, 200,  200,  200, 200)},
    "vo/sia/capabilities": {GET:     E(200,   200, 200, 200,  200,  200, 200)},
    "vo/sia/availability": {GET:     E(200,   200, 200, 200,  200,  200, 200)},
    "vo/tap": {GET:                  E(200,   200, 200, 200,  200,  200, 200)},
    "vo/tap/sync": {
        GET:                         E(400,   400, 400, 400,  400,  400, 400),
        POST:                        E(400,   400, 400, 400,  400,  400, 400)},
    "vo/tap/async": {
        GET:                         E(200,   200, 200, 200,  200,  200, 200),
        POST:                        E(303,   303, 303, 303,  303,  303, 303)},
    "vo/tap/async/<tap_job_id>": {
        GET:                         E(404,   404, 404, 404,  404,  404, 404),
        POST:                        E(404,   404, 404, 404,  404,  404, 404),
        DELETE:                      E(404,   404, 404, 404,  404,  404, 404)},
    "vo/tap/async/<tap_job_id>/results/result": {
        GET:                         E(404,   404, 404, 404,  404,  404, 404)},
    "vo/tap/async/<tap_job_id>/<job_item>": {
        GET:                         E(404,   404, 404, 404,  404,  404, 404),
        POST:                        E(404,   404, 404, 404,  404,  404, 404)},
    "vo/tap/capabilities": {GET:     E(200,   200, 200, 200,  200,  200, 200)},
    "vo/tap/tables": {GET:           E(200,   200, 200, 200,  200,  200, 200)},
    "vo/tap/tables/<table_name>": {GET: E(200, 200, 200, 200, 200,  200, 200)},
    "vo/tap/availability": {GET:     E(200,   200, 200, 200,  200,  200, 200)},
    "vo/datalink": {
        GET:                         E(400,   400, 400, 400,  400,  400, 400),
        POST:                        E(400,   400, 400, 400,  400,  400, 400)},
    "vo/datalink/download/<dp_id>": {
        GET:                         E(401,   200, 200, 403,  403,  403, 200)},
}

# The DRF router's patterns under /api/v1/, with a Bearer token. Writes send an empty JSON body
# (a multipart one for figures). Each entry also stands for the router's ``.<format>`` variant
# of the pattern, requested as ``.json`` with the same expectations.
ROUTER: dict[str, dict[str, E]] = {
    #                                  anon   PI   Co-I other  rev   op  staff
    "": {GET:                        E(401,   200, 200, 200,  200,  200, 200)},
    "periods/": {GET:                E(401,   200, 200, 200,  200,  200, 200)},
    "periods/<number>/": {GET:       E(401,   200, 200, 200,  200,  200, 200)},
    "telescopes/": {GET:             E(401,   200, 200, 200,  200,  200, 200)},
    "telescopes/<pk>/": {GET:        E(401,   200, 200, 200,  200,  200, 200)},
    # Everyone lists their own proposals (staff: all); only astronomers open one.
    "proposals/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200),
        POST:                        E(401,   400, 400, 400,  403,  403, 403)},
    "proposals/<pk>/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PATCH:                       E(401,   200, 200, 404,  404,  404, 403)},
    "proposals/<pk>/targets/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "proposals/<pk>/targets/<target_id>/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403),
        PATCH:                       E(401,   200, 200, 404,  404,  404, 403),
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "proposals/<pk>/runs/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "proposals/<pk>/runs/<run_id>/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403),
        PATCH:                       E(401,   200, 200, 404,  404,  404, 403),
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "proposals/<pk>/coinvestigators/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "proposals/<pk>/coinvestigators/<coi_id>/": {
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "proposals/<pk>/figures/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "proposals/<pk>/figures/<figure_id>/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "proposals/<pk>/review-delegate/": {
        PUT:                         E(401,   400, 403, 404,  404,  404, 403)},
    # The outcome letter exists once the proposal is decided: the draft has none.
    "proposals/<pk>/outcome/": {
        GET:                         E(401,   404, 404, 404,  404,  404, 404)},
    "proposals/<pk>/verify/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   200, 200, 404,  404,  404, 200)},
    "proposals/<pk>/pdf/": {GET:     E(401,   200, 200, 404,  404,  404, 200)},
    # The accepted schedule's nights of the proposal's runs (an empty list for the draft).
    "proposals/<pk>/nights/": {GET:  E(401,   200, 200, 404,  404,  404, 200)},
    # Only the PI submits and withdraws.
    "proposals/<pk>/submit/": {
        POST:                        E(401,   200, 403, 404,  404,  404, 403)},
    "proposals/<pk>/withdraw/": {
        POST:                        E(401,   200, 403, 404,  404,  404, 403)},
    # Review. <pk>: the reviewer's assignment of the submitted proposal, the panel they chair,
    # the submitted proposal (its panel grade), a conflict, the draft's run. A reviewer sees
    # only their own assignments (404 for everyone else, staff too); a panel and its ranking
    # are for its chair and staff; staff-only operations are 403 for everyone else whatever
    # the id. Empty bodies: 400 where the operation needs input.
    "review/assignments/": {GET:     E(401,   200, 200, 200,  200,  200, 200)},
    "review/assignments/<pk>/": {
        GET:                         E(401,   404, 404, 404,  200,  404, 404)},
    "review/assignments/<pk>/review/": {
        PUT:                         E(401,   404, 404, 404,  400,  404, 404),
        PATCH:                       E(401,   404, 404, 404,  200,  404, 404)},
    "review/assignments/<pk>/conflict/": {
        POST:                        E(401,   404, 404, 404,  400,  404, 404)},
    "review/assignments/<pk>/pdf/": {
        GET:                         E(401,   404, 404, 404,  200,  404, 404)},
    "review/assignments/<pk>/move/": {
        POST:                        E(401,   403, 403, 403,  403,  403, 400)},
    "review/panels/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200),
        POST:                        E(401,   403, 403, 403,  403,  403, 400)},
    "review/panels/<pk>/members/": {
        POST:                        E(401,   404, 404, 404,  403,  404, 400)},
    "review/panels/<pk>/ranking/": {
        GET:                         E(401,   404, 404, 404,  200,  404, 200)},
    "review/proposals/<pk>/panel-grade/": {
        PUT:                         E(401,   404, 404, 404,  400,  404, 400)},
    "review/periods/<number>/start/": {
        POST:                        E(401,   403, 403, 403,  403,  403, 200)},
    "review/periods/<number>/assign/": {
        POST:                        E(401,   403, 403, 403,  403,  403, 200)},
    "review/periods/<number>/ranking/": {
        GET:                         E(401,   403, 403, 403,  403,  403, 200)},
    "review/periods/<number>/progress/": {
        GET:                         E(401,   403, 403, 403,  403,  403, 200)},
    "review/conflicts/": {GET:       E(401,   403, 403, 403,  403,  403, 200)},
    "review/conflicts/<pk>/override/": {
        POST:                        E(401,   403, 403, 403,  403,  403, 400)},
    "review/runs/<pk>/decision/": {
        POST:                        E(401,   403, 403, 403,  403,  403, 400)},
    "review/runs/<pk>/ledger/": {
        GET:                         E(401,   403, 403, 403,  403,  403, 200)},
    # The long-term schedule: staff only (the world's period has a finished job and its
    # version; an empty body names no solver: 400; a finished job cannot be cancelled: 409).
    "schedule/periods/<number>/jobs/": {
        GET:                         E(401,   403, 403, 403,  403,  403, 200),
        POST:                        E(401,   403, 403, 403,  403,  403, 400)},
    "schedule/periods/<number>/versions/": {
        GET:                         E(401,   403, 403, 403,  403,  403, 200)},
    "schedule/jobs/<job_id>/": {GET: E(401,   403, 403, 403,  403,  403, 200)},
    "schedule/jobs/<job_id>/cancel/": {
        POST:                        E(401,   403, 403, 403,  403,  403, 409)},
    "schedule/versions/<version_id>/": {
        GET:                         E(401,   403, 403, 403,  403,  403, 200)},
    # Accepting the world's (empty) version writes its nights: none.
    "schedule/versions/<version_id>/accept/": {
        POST:                        E(401,   403, 403, 403,  403,  403, 200)},
    # Pins of the period's VM runs: staff only (an empty body names no run: 400); the world
    # has no pin (removing an unknown one: 404).
    "schedule/periods/<number>/pins/": {
        GET:                         E(401,   403, 403, 403,  403,  403, 200),
        POST:                        E(401,   403, 403, 403,  403,  403, 400)},
    "schedule/pins/<pin_id>/": {
        DELETE:                      E(401,   403, 403, 403,  403,  403, 404)},
    # Links between the period's VM runs: staff only (an empty body names no run: 400); the
    # world has no link (removing an unknown one: 404).
    "schedule/periods/<number>/links/": {
        GET:                         E(401,   403, 403, 403,  403,  403, 200),
        POST:                        E(401,   403, 403, 403,  403,  403, 400)},
    "schedule/links/<link_id>/": {
        DELETE:                      E(401,   403, 403, 403,  403,  403, 404)},
    # A VM run's travel request, for its team (403 for staff not on it): the world's run has
    # none filed (GET 404), an empty body is refused for its shape (400).
    "schedule/runs/<run_id>/travel/": {
        GET:                         E(401,   404, 404, 404,  404,  404, 403),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403)},
    "schedule/arrivals/": {GET:      E(401,   403, 403, 403,  403,  403, 200)},
    # Phase 2 (read side): the approved proposal's run, its root folder and an OB with a
    # template, for its PI and co-investigator and staff (404 for everyone else); everyone
    # lists their open runs (none for most). Template signatures: every signed-in user.
    "phase2/runs/": {GET:            E(401,   200, 200, 200,  200,  200, 200)},
    "phase2/runs/<phase2_run_id>/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200)},
    "phase2/runs/<phase2_run_id>/tree/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200)},
    # Phase 2 writes: the PI and co-investigator write (an empty body: 400 where input is
    # needed), staff read and review but write nothing else (403), everyone else 404. <pk>s:
    # the root folder (it stays, so DELETE and duplicate are 400), its group's OB in P (verify
    # and submit: it is incomplete; revise and accept: 409 from P), the OB's acquisition
    # template; the OB has no finding chart (chart 1: 404).
    "phase2/containers/<container_id>/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403),
        PATCH:                       E(401,   200, 200, 404,  404,  404, 403),
        DELETE:                      E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/containers/<container_id>/items/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   400, 400, 404,  404,  404, 403),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/containers/<container_id>/duplicate/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/containers/<container_id>/move/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/containers/<container_id>/verify/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   200, 200, 404,  404,  404, 200)},
    "phase2/containers/<container_id>/submit/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/containers/<container_id>/accept/": {
        POST:                        E(401,   403, 403, 404,  404,  404, 409)},
    "phase2/obs/<ob_id>/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403),
        PATCH:                       E(401,   200, 200, 404,  404,  404, 403),
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/duplicate/": {
        POST:                        E(401,   201, 201, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/move/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/copy-target/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/verify/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   200, 200, 404,  404,  404, 200)},
    "phase2/obs/<ob_id>/submit/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/revise/": {
        POST:                        E(401,   409, 409, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/accept/": {
        POST:                        E(401,   403, 403, 404,  404,  404, 409)},
    "phase2/obs/<ob_id>/send-back/": {
        POST:                        E(401,   403, 403, 404,  404,  404, 400)},
    "phase2/obs/<ob_id>/short-waiver/": {
        POST:                        E(401,   403, 403, 404,  404,  404, 400)},
    "phase2/obs/<ob_id>/execution-time/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200)},
    # An OB's executions at night (issue 12): whoever reads the OB.
    "phase2/obs/<ob_id>/executions/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200)},
    # The night API (issue 12): operators and staff; everyone else 403 before any lookup.
    # The world has no weather reading (a ranking without seeing: 400) and no visit (999999:
    # 404); empty bodies: 400.
    "night/telescopes/<telescope>/ranking/": {
        GET:                         E(401,   403, 403, 403,  403,  400, 400)},
    "night/telescopes/<telescope>/weather/": {
        POST:                        E(401,   403, 403, 403,  403,  400, 400)},
    "night/visits/": {POST:          E(401,   403, 403, 403,  403,  400, 400)},
    "night/visits/<visit_id>/": {GET: E(401,  403, 403, 403,  403,  404, 404)},
    "night/visits/<visit_id>/complete/": {
        POST:                        E(401,   403, 403, 403,  403,  404, 404)},
    "night/visits/<visit_id>/abort/": {
        POST:                        E(401,   403, 403, 403,  403,  404, 404)},
    "phase2/obs/<ob_id>/templates/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/templates/<template_id>/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403),
        DELETE:                      E(401,   204, 204, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/templates/reorder/": {
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/absolute-windows/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/sidereal-windows/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        PUT:                         E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/finding-charts/": {
        GET:                         E(401,   200, 200, 404,  404,  404, 200),
        POST:                        E(401,   400, 400, 404,  404,  404, 403)},
    "phase2/obs/<ob_id>/finding-charts/<chart_index>/": {
        GET:                         E(401,   404, 404, 404,  404,  404, 404),
        DELETE:                      E(401,   404, 404, 404,  404,  404, 403)},
    "phase2/instrument-packages/<instrument>/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200)},
    "phase2/instrument-packages/<instrument>/<ip_version>/signatures/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200)},
    "phase2/instrument-packages/<instrument>/<ip_version>/signatures/<template_name>/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200)},
    # The archive's search API (issue 13): search and metadata for everyone, the proprietary
    # frame's bytes for its team and staff; requests are one's own (an empty one: 400).
    "archive/files/": {GET:          E(200,   200, 200, 200,  200,  200, 200)},
    "archive/files/<file_id>/": {GET: E(200,  200, 200, 200,  200,  200, 200)},
    "archive/files/<file_id>/download/": {
        GET:                         E(401,   200, 200, 403,  403,  403, 200)},
    "archive/requests/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200),
        POST:                        E(401,   400, 400, 400,  400,  400, 400)},
    "archive/requests/<download_id>/": {
        GET:                         E(401,   200, 404, 404,  404,  404, 404)},
    # External products (issue 13): any signed-in user may try; an empty body is a 400 (who
    # may deliver is decided by the product's programme, read from the file). The keyword
    # standard is published to everyone signed in.
    "archive/uploads/": {POST:       E(401,   400, 400, 400,  400,  400, 400)},
    "archive/uploads/keyword-standard/": {
        GET:                         E(401,   200, 200, 200,  200,  200, 200)},
}

# Every pattern of the ``admin:`` namespace is covered by this rule: the admin's index and each
# registered model's changelist are requested; Django staff only.
ADMIN: dict[str, E] = {
    GET: E(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200),
}
# fmt: on

API_PREFIX = "api/v1/"
FORMAT_SUFFIX = ".<format>/?"


def matrix() -> dict[str, dict[str, E]]:
    """Every pattern of the tables, the router's with their format-suffix variants."""
    rows = dict(PATTERNS)
    for pattern, methods in ROUTER.items():
        rows[API_PREFIX + pattern] = methods
        if not router.include_format_suffixes:
            continue
        if pattern == "":
            rows[API_PREFIX + "<format>"] = methods  # the API root's suffix: /api/v1/.json
        else:
            rows[API_PREFIX + pattern.removesuffix("/") + FORMAT_SUFFIX] = methods
    return rows


# ---------------------------------------------------------------------------------------------
# The URLconf, walked
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    route: str  # readable: "proposals/<pk>/edit/", "api/v1/proposals/<pk>.<format>/?"
    namespace: str
    methods: frozenset[str]  # those of a DRF view; empty where they cannot be read


def readable(regex_or_route: str) -> str:
    """A route or a router's regex in one readable form: named groups become ``<name>``."""
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", regex_or_route)
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", text)  # converters: <int:pk> -> <pk>
    return text.replace("^", "").replace("$", "").replace("\\.", ".")


def drf_methods(callback: Any) -> frozenset[str]:
    """The methods a DRF view serves (a viewset's mapped actions, an APIView's handlers)."""
    if actions := getattr(callback, "actions", None):
        methods = set(actions)
    elif isinstance(cls := getattr(callback, "cls", None), type) and issubclass(cls, APIView):
        methods = {m for m in cls.http_method_names if hasattr(cls, m)}
    else:
        return frozenset()
    return frozenset(m.upper() for m in methods - {"head", "options"})


def url_patterns(resolver: URLResolver | None = None) -> Iterator[Pattern]:
    """Every leaf pattern of the URLconf, recursing into includes (the router's too)."""

    def walk(node: URLResolver, prefix: str, namespace: str) -> Iterator[Pattern]:
        for entry in node.url_patterns:
            route = prefix + readable(str(entry.pattern))
            if isinstance(entry, URLResolver):
                inner = ":".join(n for n in (namespace, entry.namespace) if n)
                yield from walk(entry, route, inner)
            elif isinstance(entry, URLPattern):
                yield Pattern(route, namespace, drf_methods(entry.callback))

    yield from walk(resolver or get_resolver(), "", "")


def unaccounted(patterns: list[Pattern], rows: dict[str, dict[str, E]]) -> list[str]:
    """Patterns without a row, and API methods without a line; the admin's patterns are
    covered by the rule for its namespace."""
    missing = set()
    for p in patterns:
        if p.namespace == "admin":
            continue
        if p.route not in rows:
            missing.add(p.route)
        for method in sorted(p.methods - set(rows.get(p.route, {}))):
            missing.add(f"{p.route} {method}")
    return sorted(missing)


def assert_every_pattern_has_a_row(patterns: list[Pattern], rows: dict[str, dict[str, E]]) -> None:
    missing = unaccounted(patterns, rows)
    stale = sorted(set(rows) - {p.route for p in patterns})
    assert not missing, "URL patterns without a row in the role matrix:\n" + "\n".join(missing)
    assert not stale, "Rows of the role matrix naming no URL pattern:\n" + "\n".join(stale)


# ---------------------------------------------------------------------------------------------
# The world and the requests
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    users: dict[str, User | None]
    draft: Proposal
    submitted: Proposal
    ids: dict[str, str]


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def world(db: None) -> World:
    period = PeriodFactory.create()
    pi = UserFactory.create(username="pi")
    coi = UserFactory.create(username="coi")
    other = UserFactory.create(username="other")
    staff = UserFactory.create(username="staff", roles=[Role.STAFF])
    User.objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True)  # as seed_demo
    users: dict[str, User | None] = {
        "anonymous": None,
        "pi": pi,
        "coi": coi,
        "other": other,
        "reviewer": UserFactory.create(username="reviewer", roles=[Role.REVIEWER]),
        "operator": UserFactory.create(username="operator", roles=[Role.OPERATOR]),
        "staff": User.objects.get(pk=staff.pk),
    }
    draft = complete_proposal(pi=pi, period=period, title="The draft")
    target = TargetFactory.create(proposal=draft, name="NGC 253", ra_deg=11.888, dec_deg=-25.288)
    run = draft.runs.get()
    run.targets.add(target)
    CoInvestigator.objects.create(proposal=draft, user=coi, email=coi.email)
    # The co-investigator removed in the matrix is a third person: removing oneself succeeds
    # and leaves nothing to answer with but a 404 (see the report in issue 8's notes).
    carla = UserFactory.create(username="carla")
    removable = CoInvestigator.objects.create(proposal=draft, user=carla, email=carla.email)
    invitation = CoInvestigator.objects.create(proposal=draft, email=other.email)
    figure = Figure(proposal=draft, image_format="png", caption="Finding chart")
    figure.image.save("chart.png", ContentFile(png_bytes()), save=True)
    submitted = complete_proposal(pi=pi, period=period, title="The submitted one")
    CoInvestigator.objects.create(proposal=submitted, user=coi, email=coi.email)
    Proposal.objects.filter(pk=submitted.pk).update(
        status=ProposalStatus.SUBMITTED, programme_number=1, programme_id="119.C-0001"
    )
    # The reviewer chairs a panel and reviews the submitted proposal (its final PDF stored).
    submitted.refresh_from_db()
    submitted.final_pdf.save("119.C-0001.pdf", ContentFile(b"%PDF-1.4 stub"), save=True)
    reviewer = users["reviewer"]
    assert reviewer is not None
    panel = Panel.objects.create(
        period=period, name="C1", category="C", chair=reviewer, deadline=period.deadline
    )
    PanelMember.objects.create(panel=panel, user=reviewer)
    assignment = Assignment.objects.create(
        proposal=submitted, reviewer=reviewer, panel=panel, role="primary"
    )
    conflict = Conflict.objects.create(
        proposal=submitted, reviewer=carla, kind="institute", reason="Same institute."
    )
    job = ScheduleJob.objects.create(period=period, solver="greedy", status="done")
    version = ScheduleVersion.objects.create(
        period=period, job=job, number=1, solver="greedy", status="heuristic", objective=0.0
    )
    phase2_run, root, ob, acquisition = phase2_world(pi, coi)
    science, calibration = archive_world(phase2_run)
    download, delegate = archive_requests(pi, carla, science, calibration)
    return World(
        users=users,
        draft=draft,
        submitted=submitted,
        ids={
            "request_id": "999999",
            "visit_id": "999999",  # the night API: no visit in the world
            "pin_id": "999999",
            "link_id": "999999",
            "assignment": str(assignment.pk),
            "assignment_id": str(assignment.pk),
            "panel_id": str(panel.pk),
            "proposal_id": str(submitted.pk),
            "conflict_id": str(conflict.pk),
            "panel": str(panel.pk),
            "conflict": str(conflict.pk),
            "target_id": str(target.pk),
            "run_id": str(run.pk),
            "coi_id": str(removable.pk),
            "figure_id": str(figure.pk),
            "number": str(period.number),
            "token": str(invitation.invitation_token),
            "telescope": str(Telescope.objects.get(name="UT1").pk),
            "unknown": "v1/no-such-thing/",
            "job_id": str(job.pk),
            "version_id": str(version.pk),
            "other_id": str(version.pk),
            "phase2_run_id": str(phase2_run.pk),
            "container_id": str(root.pk),
            "ob_id": str(ob.pk),
            "instrument": phase2_run.instrument.name,
            "ip_version": acquisition.ip_version,
            "template_name": acquisition.name,
            "template_id": str(Template.objects.get(ob=ob).pk),
            "chart_index": "1",
            "unsupported": "obsRuns/1/readme",  # the p2 layer's 501 (issue 14)
            "night": "2027-03-11",  # the night log's night (issue 12)
            # The archive (issue 13): the approved run's proprietary frame, a public calibration.
            "file_id": str(science.pk),
            "dp_id": science.dp_id,
            "public_file_id": str(calibration.pk),
            "public_dp_id": calibration.dp_id,
            "tap_job_id": "00000000-0000-4000-8000-000000000000",  # the VO: no TAP job
            "job_item": "phase",
            "table_name": "ivoa.obscore",
            "download_id": str(download.pk),
            "delegate_id": str(delegate.pk),
            "quarantined_id": "999999",  # the archive's quarantine: none in the world
        },
    )


def phase2_world(
    pi: User, coi: User
) -> tuple[ObservingRun, Container, ObservationBlock, TemplateSignature]:
    """An approved proposal of the PI (the co-investigator on it) whose approved run has its
    root folder, a group and an OB with an acquisition template. In the previous period, so
    that the open period's review and schedule see nothing new."""
    previous = PeriodFactory.create(number=118)
    proposal = complete_proposal(pi=pi, period=previous, title="The approved one")
    CoInvestigator.objects.create(proposal=proposal, user=coi, email=coi.email)
    Proposal.objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.APPROVED, programme_number=3, programme_id="118.C-0003"
    )
    run = proposal.runs.get()
    RunDecision.objects.create(run=run, approved=True, rank_class="A")
    root = Container.objects.create(run=run, item_type=ItemType.FOLDER, name="118.C-0003(A)")
    group = Container.objects.create(run=run, parent=root, item_type=ItemType.GROUP, name="G")
    ob = ObservationBlock.objects.create(run=run, container=group, name="OB 1")
    acquisition, _ = TemplateSignature.objects.get_or_create(
        instrument=run.instrument,
        ip_version="130.0",
        name="FORS2_img_acq",
        defaults={"type": TemplateType.ACQUISITION, "parameters": [{"name": "DET.DIT"}]},
    )
    Template.objects.create(ob=ob, signature=acquisition, values={"DET.DIT": 5})
    return run, root, ob, acquisition


def archive_world(run: ObservingRun) -> tuple[ArchiveFile, ArchiveFile]:
    """A proprietary science frame of ``run`` (released in a year) and a public calibration;
    rows only, no files in storage."""
    common = {
        "instrument_name": run.instrument.name,
        "telescope_name": run.telescope.name,
        "date_obs": datetime.datetime(2027, 3, 11, 4, 5, 6, tzinfo=datetime.UTC),
        "t_min": 61475.17,
        "t_max": 61475.18,
        "sha256": "0" * 64,
        "size_bytes": 14400,
        "header_text": "SIMPLE  =                    T",
    }
    science = ArchiveFile.objects.create(
        dp_id="FORS2.2027-03-11T04:05:06.789",
        arcfile="FORS2.2027-03-11T04:05:06.789.fits",
        category=Category.SCIENCE,
        object_name="NGC 253",
        ra_deg=11.888,
        dec_deg=-25.288,
        exptime_s=600,
        prog_id=f"{run.proposal.programme_id}({run.letter})",
        proposal=run.proposal,
        run=run,
        storage_path="files/FORS2.2027-03-11T04:05:06.789.fits",
        release_date=datetime.date.today() + datetime.timedelta(days=365),
        **common,
    )
    calibration = ArchiveFile.objects.create(
        dp_id="FORS2.2027-03-11T18:00:00.000",
        arcfile="FORS2.2027-03-11T18:00:00.000.fits",
        category=Category.CALIB,
        dpr_type="BIAS",
        storage_path="files/FORS2.2027-03-11T18:00:00.000.fits",
        release_date=datetime.date.today(),
        **common,
    )
    return science, calibration


def archive_requests(
    pi: User, delegate: User, science: ArchiveFile, calibration: ArchiveFile
) -> tuple[DownloadRequest, DataDelegate]:
    """The two files' bytes in archive storage, the PI's prepared download request of both
    and a delegate of the science frame's programme (not one of the matrix's columns)."""
    for archive_file in (science, calibration):
        path = Path(settings.ARCHIVE_ROOT) / archive_file.storage_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(archive_file.header_text.ljust(2880).encode())
    download = DownloadRequest.objects.create(user=pi, status="ready", done=2, total=2)
    download.files.set([science, calibration])
    assert science.proposal is not None
    row = DataDelegate.objects.create(proposal=science.proposal, user=delegate, granted_by=pi)
    return download, row


@pytest.fixture(autouse=True)
def _no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    """Who may fetch a PDF or a plot is the question here, not how it is drawn (seconds each)."""
    stub_pdf, stub_png = (lambda pk: b"%PDF-1.4 stub"), (lambda run: b"\x89PNG stub")
    monkeypatch.setattr("proposals.pdf.render_proposal_pdf", stub_pdf, raising=False)
    monkeypatch.setattr("proposals.views.run_visibility_png", stub_png, raising=False)


REVIEW_PKS = {
    "assignments": "assignment",
    "panels": "panel",
    "proposals": "submitted",
    "conflicts": "conflict",
    "runs": "run_id",
}


def url_for(route: str, world: World) -> str:
    """A concrete URL for a pattern of the tables, naming the world's objects."""
    if route == API_PREFIX + "<format>":
        return f"/{API_PREFIX}.json"
    # <pk> is the PI's draft, but the submitted proposal where the PI withdraws.
    proposal = world.submitted if "/withdraw" in route else world.draft
    values = {**world.ids, "pk": str(proposal.pk), "format": "json"}
    if route.startswith(f"{API_PREFIX}telescopes/"):
        values["pk"] = world.ids["telescope"]
    for prefix, key in REVIEW_PKS.items():
        if route.startswith(f"{API_PREFIX}review/{prefix}/"):
            values["pk"] = str(world.submitted.pk) if key == "submitted" else world.ids[key]
    path = re.sub(r"<(\w+)>", lambda m: values[m.group(1)], route)
    return "/" + path.removesuffix("/?")


def client_for(route: str, user: User | None) -> Client:
    bearer = route.startswith(("api/", "p2/api/v1"))  # the p2 layer (issue 14): tokens too
    client = APIClient() if bearer else Client()
    client.raise_request_exception = False  # a crash is a 500 in the table, as users see it
    if user is None:
        return client
    if isinstance(client, APIClient):
        token = Token.objects.get_or_create(user=user)[0]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    else:
        client.force_login(user)
    return client


def send(client: Client, method: str, route: str, url: str) -> Any:
    if method == GET:
        return client.get(url)
    if not route.startswith(("api/", "p2/api/v1")) or ("/figures/" in route and method == POST):
        return client.generic(method, url, b"", "application/x-www-form-urlencoded")
    return client.generic(method, url, b"{}", "application/json")


@functools.cache
def state_queries() -> list[tuple[str, str, tuple[Any, ...]]]:
    """``(model, SQL, parameters)`` that read every row a request could touch (sessions and
    login times aside), every column, in primary-key order: compiled once per process, as
    compiling ~80 querysets for every snapshot cost more than running them."""
    labels = {"proposals", "accounts", "observatory", "authtoken", "auth", "observations"}
    labels.add("archive")  # baskets, download requests, delegates: refusals write none either
    queries = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in labels:
            columns = [f.attname for f in model._meta.concrete_fields if f.attname != "last_login"]
            rows = model._default_manager.order_by("pk").values_list(*columns)
            sql, params = rows.query.sql_with_params()
            queries.append((model._meta.label, sql, tuple(params)))
    return queries


def database_state() -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every row a request could touch, as the database holds it."""
    state = []
    with connection.cursor() as cursor:
        for label, sql, params in state_queries():
            cursor.execute(sql, params)
            state.append((label, cursor.fetchall()))
    return state


def outcome(response: Any) -> Status:
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.startswith("/accounts/login/"):
        return LOGIN
    if response.status_code == 302 and location.startswith("/admin/login/"):
        return ADMIN_LOGIN
    return int(response.status_code)


REFUSED = {401, 403, 404, 405, LOGIN, ADMIN_LOGIN, SHOWN}


def check(world: World, route: str, method: str, url: str, expected: E) -> list[str]:
    """The request as every role; a line per role that does not get what the row says."""
    problems = []
    # Every role's client first (an API client's token is made then): each request runs in a
    # savepoint rolled back afterwards, so the state before is the same for every role.
    clients = [client_for(route, world.users[role]) for role in ROLES]
    before = database_state()
    for role, want, client in zip(ROLES, expected, clients, strict=True):
        savepoint = transaction.savepoint()
        try:
            got = outcome(send(client, method, route, url))
            changed = want in REFUSED and database_state() != before
        finally:
            transaction.savepoint_rollback(savepoint)
        if want == SHOWN and got == 200:
            got = SHOWN
        if got != want:
            problems.append(f"{role}: expected {want}, got {got}")
        elif changed:
            problems.append(f"{role}: refused with {got}, but the database changed")
    return problems


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def lines_of(error: BaseException) -> list[str]:
    return [line.strip() for line in str(error).splitlines()]


def test_every_url_pattern_has_a_row_in_the_role_matrix() -> None:
    assert_every_pattern_has_a_row(list(url_patterns()), matrix())


def test_a_url_pattern_missing_from_the_matrix_fails_the_check_by_its_name(
    settings: Any,
) -> None:
    # given: the project's URLconf plus a page nobody decided about
    settings.ROOT_URLCONF = "tests.urls_with_unlisted_page"
    # when
    with pytest.raises(AssertionError) as failure:
        assert_every_pattern_has_a_row(list(url_patterns()), matrix())
    # then
    assert "proposals/<pk>/secret-export/" in lines_of(failure.value)


def test_an_api_method_missing_from_the_matrix_fails_the_check_by_its_name() -> None:
    # given: the table without the line for DELETE on a target
    rows = matrix()
    target = f"{API_PREFIX}proposals/<pk>/targets/<target_id>/"
    rows[target] = {m: e for m, e in rows[target].items() if m != DELETE}
    # when
    with pytest.raises(AssertionError) as failure:
        assert_every_pattern_has_a_row(list(url_patterns()), rows)
    # then
    assert f"{target} DELETE" in lines_of(failure.value)


def test_a_row_naming_no_pattern_fails_the_check_by_its_name() -> None:
    # given
    rows = {**matrix(), "proposals/<pk>/gone/": {GET: E(LOGIN, 404, 404, 404, 404, 404, 404)}}
    # when
    with pytest.raises(AssertionError) as failure:
        assert_every_pattern_has_a_row(list(url_patterns()), rows)
    # then
    assert "proposals/<pk>/gone/" in lines_of(failure.value)


ROWS = [(route, method) for route, methods in matrix().items() for method in methods]


@pytest.mark.parametrize(("route", "method"), ROWS, ids=[f"{m} /{r}" for r, m in ROWS])
def test_role_matrix(world: World, route: str, method: str) -> None:
    # given
    url = url_for(route, world)
    # when
    problems = check(world, route, method, url, matrix()[route][method])
    # then
    assert not problems, f"{method} {url}:\n" + "\n".join(problems)


def test_role_matrix_admin(world: World) -> None:
    # given: the admin's index and every registered model's changelist
    urls = ["/admin/"] + [
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
    ]
    # when
    problems = [
        f"{url} {line}" for url in urls for line in check(world, "admin/", GET, url, ADMIN[GET])
    ]
    # then
    assert not problems, "\n".join(problems)
