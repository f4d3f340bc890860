"""The archive's Celery tasks, found by Celery's autodiscovery through this module: ingestion,
download preparation and TAP's asynchronous jobs live beside what they serve."""

from archive.tasks_download import *  # noqa: F403
from archive.tasks_ingest import *  # noqa: F403
from archive.vo.tasks import *  # noqa: F403
