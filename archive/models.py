"""The archive: ingested files (raw frames and external products) with their searchable
keywords, files refused at ingestion (quarantine), the transfers the monitor shows, data
delegates, baskets and download requests, and TAP's asynchronous jobs.

``ArchiveFile`` carries what ObsCore needs as plain columns; on PostgreSQL the VO layer reads
it through the ``ivoa.obscore`` view (see the VO migration), so the ingestion writes one row
and the protocols never drift from it. Columns a view reads are never altered in place.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Category(models.TextChoices):
    """ESO's ``DPR CATG``: what a file is for (products come from a PI, seed 002's Phase 3)."""

    SCIENCE = "SCIENCE", "Science"
    CALIB = "CALIB", "Calibration"
    ACQUISITION = "ACQUISITION", "Acquisition"


class ArchiveFile(models.Model):
    # The dataset id: ARCFILE without ``.fits``, e.g. FORS2.2027-03-11T04:05:06.789.
    dp_id = models.CharField(max_length=80, unique=True)
    arcfile = models.CharField(max_length=90, unique=True)
    origfile = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=12, choices=Category.choices)
    dpr_type = models.CharField(max_length=40, blank=True)
    dpr_tech = models.CharField(max_length=40, blank=True)
    # 1 raw frame, 2 or 3 a reduced product (ObsCore calib_level).
    calib_level = models.PositiveSmallIntegerField(default=1)
    instrument_name = models.CharField(max_length=32)
    telescope_name = models.CharField(max_length=32, blank=True)
    instrument = models.ForeignKey(
        "observatory.Instrument", null=True, blank=True, on_delete=models.PROTECT
    )
    object_name = models.CharField(max_length=200, blank=True)
    # ICRS degrees; null for frames without a pointing (biases).
    ra_deg = models.FloatField(null=True, blank=True)
    dec_deg = models.FloatField(null=True, blank=True)
    # The footprint's corners from the WCS, [[ra, dec], ...] in degrees; null without a WCS.
    footprint = models.JSONField(null=True, blank=True)
    fov_deg = models.FloatField(null=True, blank=True)
    date_obs = models.DateTimeField()
    # ObsCore times (MJD, UTC): t_min is MJD-OBS, t_max adds the exposure.
    t_min = models.FloatField()
    t_max = models.FloatField()
    exptime_s = models.FloatField(default=0)
    # ``HIERARCH ESO OBS PROG ID`` as written, e.g. 130.C-0001(A); blank for calibrations.
    prog_id = models.CharField(max_length=32, blank=True)
    proposal = models.ForeignKey(
        "proposals.Proposal", null=True, blank=True, on_delete=models.PROTECT
    )
    run = models.ForeignKey(
        "proposals.ObservingRun", null=True, blank=True, on_delete=models.PROTECT
    )
    ob = models.ForeignKey(
        "observations.ObservationBlock", null=True, blank=True, on_delete=models.PROTECT
    )
    execution = models.ForeignKey(
        "observations.Execution", null=True, blank=True, on_delete=models.PROTECT
    )
    # The night the frame belongs to (the local date at its evening).
    night = models.DateField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    # Relative to settings.ARCHIVE_ROOT.
    storage_path = models.CharField(max_length=500)
    # The primary header as FITS card text (80-character cards), for the header view.
    header_text = models.TextField()
    ingested_at = models.DateTimeField(default=timezone.now)
    # The first day the file is public: ingestion + the programme's proprietary period for
    # science and acquisition frames and products, the ingestion day for calibrations.
    release_date = models.DateField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Products: the dataset ids of the archived files they were made from (PROVi).
    provenance = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-date_obs", "dp_id"]
        indexes = [
            models.Index(fields=["dec_deg", "ra_deg"], name="archive_dec_ra"),
            models.Index(fields=["date_obs"], name="archive_date_obs"),
            models.Index(fields=["instrument_name", "date_obs"], name="archive_instr_date"),
            models.Index(fields=["prog_id"], name="archive_prog_id"),
            models.Index(fields=["release_date"], name="archive_release"),
            models.Index(fields=["night", "instrument_name"], name="archive_night_instr"),
        ]

    def __str__(self) -> str:
        return self.dp_id


class QuarantineSource(models.TextChoices):
    LANDING = "landing", "Landing area"
    UPLOAD = "upload", "Upload API"


class QuarantinedFile(models.Model):
    """A file ingestion refused: kept with its reason for staff, never deleted."""

    file_name = models.CharField(max_length=255)
    # Relative to settings.ARCHIVE_ROOT (under quarantine/).
    storage_path = models.CharField(max_length=500)
    reason = models.TextField()
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    source = models.CharField(max_length=10, choices=QuarantineSource.choices)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.file_name} (quarantined)"


class TransferStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    INGESTING = "ingesting", "Ingesting"
    INGESTED = "ingested", "Ingested"
    QUARANTINED = "quarantined", "Quarantined"


class Transfer(models.Model):
    """One file's way from the landing area (or an upload) into the archive: what the data
    transfer monitor shows (seed 001)."""

    file_name = models.CharField(max_length=255)
    night = models.DateField(null=True, blank=True)
    instrument_name = models.CharField(max_length=32, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    # Lower is sooner: science before calibrations, as the monitor's priority column.
    priority = models.PositiveSmallIntegerField(default=5)
    status = models.CharField(
        max_length=12, choices=TransferStatus.choices, default=TransferStatus.WAITING
    )
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    archive_file = models.ForeignKey(
        ArchiveFile, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    quarantined = models.ForeignKey(
        QuarantinedFile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["status", "queued_at"], name="transfer_status_queued")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class ArchiveEventKind(models.TextChoices):
    INGESTED = "ingested", "Ingested"
    QUARANTINED = "quarantined", "Quarantined"
    REFUSED = "refused", "Refused"
    RESOLVED = "resolved", "Quarantine resolved"
    DELEGATE_ADDED = "delegate_added", "Delegate added"
    DELEGATE_REMOVED = "delegate_removed", "Delegate removed"
    DOWNLOAD_REQUESTED = "download_requested", "Download requested"
    DOWNLOAD_READY = "download_ready", "Download ready"
    DOWNLOAD_FAILED = "download_failed", "Download failed"
    BASKET_ADDED = "basket_added", "Added to a basket"
    BASKET_REMOVED = "basket_removed", "Removed from a basket"
    TAP_JOB = "tap_job", "TAP job phase"


class ArchiveEvent(models.Model):
    kind = models.CharField(max_length=20, choices=ArchiveEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    archive_file = models.ForeignKey(
        ArchiveFile, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    quarantined = models.ForeignKey(
        QuarantinedFile, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


class DataDelegate(models.Model):
    """Someone a PI lets read the programme's proprietary data."""

    proposal = models.ForeignKey(
        "proposals.Proposal", on_delete=models.CASCADE, related_name="data_delegates"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_delegations"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["proposal", "user"], name="delegate_unique")]

    def __str__(self) -> str:
        return f"delegate {self.user_id} of proposal {self.proposal_id}"


class BasketItem(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="archive_basket"
    )
    archive_file = models.ForeignKey(ArchiveFile, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "archive_file"], name="basket_unique")
        ]

    def __str__(self) -> str:
        return f"basket of {self.user_id}: {self.archive_file_id}"


class DownloadStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PREPARING = "preparing", "Preparing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DownloadRequest(models.Model):
    """A request of many files, prepared in the background (ESO's request handler)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="download_requests"
    )
    files = models.ManyToManyField(ArchiveFile, related_name="+")
    status = models.CharField(
        max_length=10, choices=DownloadStatus.choices, default=DownloadStatus.QUEUED
    )
    # Files prepared so far, for the progress bar.
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Relative to settings.ARCHIVE_ROOT (the prepared archive); blank until ready.
    result_path = models.CharField(max_length=500, blank=True)
    result_size = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"download request {self.pk} ({self.status})"


class TapPhase(models.TextChoices):
    """UWS 1.1 execution phases."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"


class TapJob(models.Model):
    """An asynchronous TAP query (UWS job)."""

    job_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    phase = models.CharField(max_length=10, choices=TapPhase.choices, default=TapPhase.PENDING)
    lang = models.CharField(max_length=20, default="ADQL")
    query = models.TextField()
    maxrec = models.PositiveIntegerField(null=True, blank=True)
    run_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    destruction = models.DateTimeField(null=True, blank=True)
    execution_duration_s = models.PositiveIntegerField(default=60)
    error_message = models.TextField(blank=True)
    # Relative to settings.ARCHIVE_ROOT (the result VOTable); blank until completed.
    result_path = models.CharField(max_length=500, blank=True)
    result_rows = models.PositiveIntegerField(default=0)
    overflow = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"TAP job {self.job_id} ({self.phase})"
