"""The VO layer's database objects, on PostgreSQL only: the pgSphere extension, a GiST index of
the files' positions, the ``ivoa.obscore`` view over ``archive_archivefile`` and ``TAP_SCHEMA``
with its rows, all generated from the one column specification (archive.vo.schema). SQLite
(``make run``) gets nothing: TAP answers there that it needs PostgreSQL.

pgSphere comes from the Debian package installed by .ci/system-packages.sh (which also mends
its install script for PostgreSQL 15.20, see there).
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from archive.vo.schema import vo_create_sql

    for statement in vo_create_sql():
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from archive.vo.schema import vo_drop_sql

    for statement in vo_drop_sql():
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
