"""SQLite under ``make run``: two writers at once both succeed, one after the other.

The database settings are built by ``dataflow.settings.base`` for a fresh file-backed SQLite
database (whatever database the test run itself uses), and two threads run the read-then-write
transaction every service runs (``atomic`` opens it the same way: autocommit off, then commit).
With SQLite's default deferred transactions both take a read lock, and the second one to write
fails at once with "database is locked" (waiting could deadlock, so SQLite does not wait).
"""

import runpy
import threading
from pathlib import Path

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from dataflow.settings import base as base_settings


@pytest.fixture
def sqlite_file_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker):
    """Connections (one per thread) configured by the base settings for a SQLite file."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    databases = runpy.run_path(base_settings.__file__)["DATABASES"]
    handler = ConnectionHandler(databases)
    with django_db_blocker.unblock():
        yield handler
        handler.close_all()


def test_base_settings_make_sqlite_writers_wait_for_each_other(sqlite_file_connections):
    # given a counter, and two writers that each read it and write it back plus one
    setup = sqlite_file_connections["default"]
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n integer NOT NULL)")
        cursor.execute("INSERT INTO counter (n) VALUES (0)")
    setup.close()
    first_has_read, second_has_written = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def increment(*, first: bool) -> None:
        if not first:
            first_has_read.wait(timeout=5)
        connection = sqlite_file_connections["default"]  # this thread's own connection
        try:
            connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
            with connection.cursor() as cursor:
                cursor.execute("SELECT n FROM counter")
                (n,) = cursor.fetchone()
                if first:
                    first_has_read.set()
                    # Deferred transactions: the second writer gets in between. Immediate ones:
                    # it waits for this transaction to end, so this times out and goes on.
                    second_has_written.wait(timeout=0.5)
                cursor.execute("UPDATE counter SET n = %s", [n + 1])
                if not first:
                    second_has_written.set()
            connection.commit()
        except OperationalError as exc:
            errors.append(exc)
            connection.rollback()
        finally:
            connection.set_autocommit(True)
            connection.close()

    threads = [threading.Thread(target=increment, kwargs={"first": f}) for f in (True, False)]
    # when both write at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then neither was refused, and neither lost the other's write
    assert errors == []
    with setup.cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        assert cursor.fetchone() == (2,)
    setup.close()
