"""The one column specification of the VO layer: ``ivoa.obscore`` and ``TAP_SCHEMA``.

Everything a client can see of a column is generated from here, so nothing can drift: the
``ivoa.obscore`` view and the ``TAP_SCHEMA`` rows the VO migration creates (PostgreSQL), the
VOSI ``/tables`` document, the FIELDs of TAP, SIA and cone-search results, and the ObsCore
values SIA and cone search compute in Python from an ``ArchiveFile`` (they run on SQLite too;
a test checks on PostgreSQL that the view and :attr:`Column.value` agree).

Only pure data and SQL text here; the views write the documents.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.models import ArchiveFile

# The publisher's authority in dataset identifiers (ivo://<authority>/archive?<dp_id>).
AUTHORITY = "dataflow.observatory"
DID_PREFIX = f"ivo://{AUTHORITY}/archive?"
DATALINK_FORMAT = "application/x-votable+xml;content=datalink"
# Rows of ivoa.obscore link to their DataLink document by a path; the writer prefixes the
# server's address (the view cannot know it).
DATALINK_PATH = "/vo/datalink?ID="
DID_QUOTED = f"ivo%3A%2F%2F{AUTHORITY}%2Farchive%3F"

# The day the proprietary rules are evaluated for, and the programmes whose proprietary rows
# the client may read: set per transaction by the TAP runner (archive.vo.adql). Unset (psql,
# a report), the view shows public rows only.
TODAY_SQL = "COALESCE(NULLIF(current_setting('dataflow.vo_today', true), '')::date, CURRENT_DATE)"


@dataclass(frozen=True)
class Column:
    name: str
    datatype: str  # VOTable: char, short, int, long, double, boolean
    description: str
    unit: str = ""
    ucd: str = ""
    utype: str = ""
    xtype: str = ""
    arraysize: str = ""
    principal: bool = False
    indexed: bool = False
    std: bool = True
    # ivoa.obscore: the expression over archive_archivefile (alias f) and the same in Python.
    sql: str = ""
    value: Callable[[ArchiveFile], Any] | None = field(default=None, compare=False)
    # A path on this server: answered as an absolute URL.
    server_path: bool = False

    @property
    def adql_name(self) -> str:
        """The name as TAP_SCHEMA registers it: ADQL reserved words quoted."""
        return f'"{self.name}"' if self.name.lower() in ADQL_RESERVED else self.name


ADQL_RESERVED = {"size", "value", "date", "time", "timestamp", "first", "last", "level"}


@dataclass(frozen=True)
class Table:
    schema: str
    name: str  # qualified, as ADQL writes it: ivoa.obscore, TAP_SCHEMA.tables
    description: str
    columns: tuple[Column, ...]
    utype: str = ""
    table_type: str = "table"

    @property
    def sql_name(self) -> str:
        return self.name.lower()

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name.lower().strip('"'):
                return column
        return None


@dataclass(frozen=True)
class ForeignKey:
    key_id: str
    from_table: str
    target_table: str
    columns: tuple[tuple[str, str], ...]
    description: str = ""


def _text(value: str) -> str | None:
    return value or None


def _kbytes(size: int) -> int:
    return (size + 1023) // 1024


def _region(f: ArchiveFile) -> str | None:
    corners = f.footprint
    if not isinstance(corners, list) or len(corners) < 3:
        return None
    return stc_polygon([float(c) for corner in corners for c in corner[:2]])


def stc_polygon(degrees: list[float]) -> str:
    """STC-S of a polygon given as ra1 dec1 ra2 dec2 ... (degrees)."""
    return "Polygon ICRS " + " ".join(f"{v:.8g}" for v in degrees)


def _release(f: ArchiveFile) -> datetime.datetime:
    return datetime.datetime.combine(f.release_date, datetime.time())


def _spectrum(f: ArchiveFile) -> str:
    return "spectrum" if "SPECTRUM" in f.dpr_tech.upper() else "image"


def _none(f: ArchiveFile) -> None:
    return None


def _rights(f: ArchiveFile) -> str:
    from archive.access import is_public

    return "public" if is_public(f) else "proprietary"


C = Column
OBSCORE_COLUMNS: tuple[Column, ...] = (
    C("dataproduct_type", "char", "Data product type (image, spectrum)", "", "meta.code.class",
      "obscore:ObsDataset.dataProductType", arraysize="*", principal=True,
      sql="CASE WHEN position('SPECTRUM' IN upper(f.dpr_tech)) > 0 THEN 'spectrum' "
          "ELSE 'image' END", value=_spectrum),
    C("calib_level", "short", "Calibration level: 1 raw, 2 calibrated, 3 product", "",
      "meta.code;obs.calib", "obscore:ObsDataset.calibLevel", principal=True,
      sql="f.calib_level::smallint", value=lambda f: f.calib_level),
    C("obs_collection", "char", "Collection: the instrument for raw data", "", "meta.id",
      "obscore:DataID.Collection", arraysize="*", principal=True, sql="f.instrument_name",
      value=lambda f: f.instrument_name),
    C("obs_id", "char", "Dataset id (ARCFILE without .fits)", "", "meta.id",
      "obscore:DataID.observationID", arraysize="*", principal=True, indexed=True,
      sql="f.dp_id", value=lambda f: f.dp_id),
    C("obs_publisher_did", "char", "Publisher's dataset identifier", "", "meta.ref.ivoid",
      "obscore:Curation.PublisherDID", arraysize="*", principal=True, indexed=True,
      sql=f"'{DID_PREFIX}' || f.dp_id", value=lambda f: DID_PREFIX + f.dp_id),
    C("access_url", "char", "The dataset's DataLink document", "", "meta.ref.url",
      "obscore:Access.Reference", arraysize="*", principal=True,
      sql=f"'{DATALINK_PATH}{DID_QUOTED}' || f.dp_id",
      value=lambda f: f"{DATALINK_PATH}{DID_QUOTED}{f.dp_id}", server_path=True),
    C("access_format", "char", "Format of what access_url returns", "", "meta.code.mime",
      "obscore:Access.Format", arraysize="*", principal=True, sql=f"'{DATALINK_FORMAT}'",
      value=lambda f: DATALINK_FORMAT),
    C("access_estsize", "long", "Estimated size of the file", "kbyte", "phys.size;meta.file",
      "obscore:Access.Size", sql="((f.size_bytes + 1023) / 1024)::bigint",
      value=lambda f: _kbytes(f.size_bytes)),
    C("target_name", "char", "Target (OBJECT keyword)", "", "meta.id;src",
      "obscore:Target.Name", arraysize="*", principal=True, sql="NULLIF(f.object_name, '')",
      value=lambda f: _text(f.object_name)),
    C("s_ra", "double", "Right ascension of the pointing (ICRS)", "deg", "pos.eq.ra",
      "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1", principal=True,
      indexed=True, sql="f.ra_deg", value=lambda f: f.ra_deg),
    C("s_dec", "double", "Declination of the pointing (ICRS)", "deg", "pos.eq.dec",
      "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2", principal=True,
      indexed=True, sql="f.dec_deg", value=lambda f: f.dec_deg),
    C("s_fov", "double", "Diameter of the field of view", "deg", "phys.angSize;instr.fov",
      "obscore:Char.SpatialAxis.Coverage.Bounds.Extent.diameter", principal=True,
      sql="f.fov_deg", value=lambda f: f.fov_deg),
    C("s_region", "char", "Footprint on the sky (from the WCS), STC-S", "",
      "pos.outline;obs.field", "obscore:Char.SpatialAxis.Coverage.Support.Area",
      xtype="adql:REGION", arraysize="*", principal=True,
      sql="CASE WHEN jsonb_typeof(f.footprint) = 'array' AND jsonb_array_length(f.footprint) >= 3 "
          "THEN (SELECT ('{' || string_agg('(' || (c.p->>0) || 'd,' || (c.p->>1) || 'd)', ',' "
          "ORDER BY c.n) || '}')::spoly FROM jsonb_array_elements(f.footprint) "
          "WITH ORDINALITY AS c(p, n)) END",
      value=_region),
    C("s_resolution", "double", "Spatial resolution (not recorded)", "arcsec",
      "pos.angResolution", "obscore:Char.SpatialAxis.Resolution.Refval.value",
      sql="NULL::double precision", value=_none),
    C("s_xel1", "long", "Pixels along the first axis (not recorded)", "", "meta.number",
      "obscore:Char.SpatialAxis.numBins1", sql="NULL::bigint", value=_none),
    C("s_xel2", "long", "Pixels along the second axis (not recorded)", "", "meta.number",
      "obscore:Char.SpatialAxis.numBins2", sql="NULL::bigint", value=_none),
    C("t_min", "double", "Start of the exposure (MJD-OBS, UTC)", "d", "time.start;obs.exposure",
      "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StartTime", principal=True, indexed=True,
      sql="f.t_min", value=lambda f: f.t_min),
    C("t_max", "double", "End of the exposure (MJD, UTC)", "d", "time.end;obs.exposure",
      "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StopTime", principal=True,
      sql="f.t_max", value=lambda f: f.t_max),
    C("t_exptime", "double", "Exposure time", "s", "time.duration;obs.exposure",
      "obscore:Char.TimeAxis.Coverage.Support.Extent", principal=True, sql="f.exptime_s",
      value=lambda f: f.exptime_s),
    C("t_resolution", "double", "Time resolution: the exposure", "s", "time.resolution",
      "obscore:Char.TimeAxis.Resolution.Refval.value", sql="f.exptime_s",
      value=lambda f: f.exptime_s),
    C("t_xel", "long", "Time bins: one exposure", "", "meta.number",
      "obscore:Char.TimeAxis.numBins", sql="1::bigint", value=lambda f: 1),
    C("em_min", "double", "Shortest wavelength (not recorded)", "m", "em.wl;stat.min",
      "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit",
      sql="NULL::double precision", value=_none),
    C("em_max", "double", "Longest wavelength (not recorded)", "m", "em.wl;stat.max",
      "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit",
      sql="NULL::double precision", value=_none),
    C("em_res_power", "double", "Spectral resolving power (not recorded)", "",
      "spect.resolution", "obscore:Char.SpectralAxis.Resolution.ResolPower.refVal",
      sql="NULL::double precision", value=_none),
    C("em_xel", "long", "Spectral bins (not recorded)", "", "meta.number",
      "obscore:Char.SpectralAxis.numBins", sql="NULL::bigint", value=_none),
    C("o_ucd", "char", "What the pixels measure", "", "meta.ucd",
      "obscore:Char.ObservableAxis.ucd", arraysize="*", sql="'phot.count'::text",
      value=lambda f: "phot.count"),
    C("pol_states", "char", "Polarisation states (none recorded)", "",
      "meta.code;phys.polarization", "obscore:Char.PolarizationAxis.stateList",
      arraysize="*", sql="NULL::text", value=_none),
    C("pol_xel", "long", "Polarisation bins (none recorded)", "", "meta.number",
      "obscore:Char.PolarizationAxis.numBins", sql="NULL::bigint", value=_none),
    C("facility_name", "char", "Telescope", "", "meta.id;instr.tel",
      "obscore:Provenance.ObsConfig.Facility.name", arraysize="*", principal=True,
      sql="NULLIF(f.telescope_name, '')", value=lambda f: _text(f.telescope_name)),
    C("instrument_name", "char", "Instrument", "", "meta.id;instr",
      "obscore:Provenance.ObsConfig.Instrument.name", arraysize="*", principal=True,
      indexed=True, sql="f.instrument_name", value=lambda f: f.instrument_name),
    C("obs_release_date", "char", "The first day the file is public (UTC)", "",
      "time.release", "obscore:Curation.releaseDate", xtype="timestamp", arraysize="*",
      principal=True, sql="f.release_date::timestamp", value=_release),
    C("data_rights", "char", "public or proprietary (today)", "", "meta.code",
      "obscore:Curation.Rights", arraysize="*", principal=True,
      sql=f"CASE WHEN f.release_date <= {TODAY_SQL} THEN 'public' ELSE 'proprietary' END",
      value=_rights),
    C("proposal_id", "char", "Programme (ESO OBS PROG ID)", "", "meta.id;obs.proposal",
      "obscore:Provenance.Proposal.identifier", arraysize="*", principal=True,
      sql="NULLIF(f.prog_id, '')", value=lambda f: _text(f.prog_id)),
)  # fmt: skip

OBSCORE = Table(
    "ivoa",
    "ivoa.obscore",
    "The archive's datasets (ObsCore 1.1): raw frames and products, one row a file",
    OBSCORE_COLUMNS,
    utype="ivo://ivoa.net/std/obscore#table-1.1",
    table_type="view",
)


def _tap(name: str, datatype: str, description: str, *, principal: bool = True) -> Column:
    arraysize = "*" if datatype == "char" else ""
    return Column(name, datatype, description, arraysize=arraysize, principal=principal)


TAP_SCHEMA_TABLES: tuple[Table, ...] = (
    Table("TAP_SCHEMA", "TAP_SCHEMA.schemas", "The schemas of this service", (
        _tap("schema_name", "char", "Schema name"),
        _tap("utype", "char", "Schema utype"),
        _tap("description", "char", "Description"),
        _tap("schema_index", "int", "Display order", principal=False),
    )),
    Table("TAP_SCHEMA", "TAP_SCHEMA.tables", "The tables of this service", (
        _tap("schema_name", "char", "Schema of the table"),
        _tap("table_name", "char", "Qualified table name"),
        _tap("table_type", "char", "table or view"),
        _tap("utype", "char", "Table utype"),
        _tap("description", "char", "Description"),
        _tap("table_index", "int", "Display order", principal=False),
    )),
    Table("TAP_SCHEMA", "TAP_SCHEMA.columns", "The columns of this service's tables", (
        _tap("table_name", "char", "Qualified table name"),
        _tap("column_name", "char", "Column name"),
        _tap("utype", "char", "Column utype"),
        _tap("ucd", "char", "Column UCD"),
        _tap("unit", "char", "Column unit (VOUnit)"),
        _tap("description", "char", "Description"),
        _tap("datatype", "char", "VOTable datatype"),
        _tap("arraysize", "char", "VOTable arraysize"),
        _tap("xtype", "char", "VOTable xtype"),
        _tap("size", "int", "Deprecated: use arraysize", principal=False),
        _tap("principal", "int", "1 if the column is principal"),
        _tap("indexed", "int", "1 if the column is indexed"),
        _tap("std", "int", "1 if the column is defined by a standard"),
        _tap("column_index", "int", "Display order", principal=False),
    )),
    Table("TAP_SCHEMA", "TAP_SCHEMA.keys", "Foreign keys between tables", (
        _tap("key_id", "char", "Key identifier"),
        _tap("from_table", "char", "Table holding the key"),
        _tap("target_table", "char", "Table the key points to"),
        _tap("utype", "char", "Key utype"),
        _tap("description", "char", "Description"),
    )),
    Table("TAP_SCHEMA", "TAP_SCHEMA.key_columns", "The columns of the foreign keys", (
        _tap("key_id", "char", "Key identifier"),
        _tap("from_column", "char", "Column in from_table"),
        _tap("target_column", "char", "Column in target_table"),
    )),
)  # fmt: skip

FOREIGN_KEYS: tuple[ForeignKey, ...] = (
    ForeignKey("tables_schema", "TAP_SCHEMA.tables", "TAP_SCHEMA.schemas",
               (("schema_name", "schema_name"),), "A table's schema"),
    ForeignKey("columns_table", "TAP_SCHEMA.columns", "TAP_SCHEMA.tables",
               (("table_name", "table_name"),), "A column's table"),
    ForeignKey("keys_from", "TAP_SCHEMA.keys", "TAP_SCHEMA.tables",
               (("from_table", "table_name"),), "The table holding a key"),
    ForeignKey("keys_target", "TAP_SCHEMA.keys", "TAP_SCHEMA.tables",
               (("target_table", "table_name"),), "The table a key points to"),
    ForeignKey("key_columns_key", "TAP_SCHEMA.key_columns", "TAP_SCHEMA.keys",
               (("key_id", "key_id"),), "A key column's key"),
)  # fmt: skip

SCHEMAS: tuple[tuple[str, str], ...] = (
    ("ivoa", "IVOA data models: ObsCore"),
    ("TAP_SCHEMA", "This service's metadata (TAP 1.1)"),
)
TABLES: tuple[Table, ...] = (OBSCORE, *TAP_SCHEMA_TABLES)


def table_named(name: str) -> Table | None:
    for table in TABLES:
        if table.sql_name == name.lower():
            return table
    return None


# ---------------------------------------------------------------------------------------------
# SQL for the migration (PostgreSQL only)
# ---------------------------------------------------------------------------------------------

SQL_TYPES = {"char": "text", "short": "smallint", "int": "integer", "long": "bigint"}


def obscore_view_sql() -> str:
    select = ",\n  ".join(f"{c.sql} AS {c.name}" for c in OBSCORE_COLUMNS)
    return (
        "CREATE OR REPLACE VIEW ivoa.obscore AS SELECT\n  "
        + select
        + "\nFROM archive_archivefile AS f\nWHERE f.release_date <= "
        + TODAY_SQL
        + "\n  OR f.proposal_id = ANY(COALESCE(NULLIF(current_setting("
        "'dataflow.vo_proposals', true), ''), '{}')::bigint[])"
        "\n  OR current_setting('dataflow.vo_all', true) = 'on'"
    )


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def tap_schema_rows() -> dict[str, list[tuple[object, ...]]]:
    """The rows of each TAP_SCHEMA table, in its columns' order."""
    rows: dict[str, list[tuple[object, ...]]] = {t.sql_name: [] for t in TAP_SCHEMA_TABLES}
    for index, (schema, description) in enumerate(SCHEMAS):
        rows["tap_schema.schemas"].append((schema, None, description, index))
    for t_index, table in enumerate(TABLES):
        rows["tap_schema.tables"].append(
            (table.schema, table.name, table.table_type, table.utype or None,
             table.description, t_index)
        )  # fmt: skip
        for c_index, c in enumerate(table.columns):
            rows["tap_schema.columns"].append(
                (table.name, c.adql_name, c.utype or None, c.ucd or None, c.unit or None,
                 c.description, c.datatype, c.arraysize or None, c.xtype or None, None,
                 int(c.principal), int(c.indexed), int(c.std), c_index)
            )  # fmt: skip
    for key in FOREIGN_KEYS:
        rows["tap_schema.keys"].append(
            (key.key_id, key.from_table, key.target_table, None, key.description)
        )
        for from_column, target_column in key.columns:
            rows["tap_schema.key_columns"].append((key.key_id, from_column, target_column))
    return rows


def tap_schema_sql() -> list[str]:
    """DROP and CREATE of the TAP_SCHEMA tables with their rows (rerunnable)."""
    statements = ["DROP SCHEMA IF EXISTS tap_schema CASCADE", "CREATE SCHEMA tap_schema"]
    rows = tap_schema_rows()
    for table in TAP_SCHEMA_TABLES:
        columns = ", ".join(
            f"{c.adql_name} {SQL_TYPES.get(c.datatype, 'text')}" for c in table.columns
        )
        statements.append(f"CREATE TABLE {table.sql_name} ({columns})")
        values = ",\n".join(
            "(" + ", ".join(_literal(v) for v in row) + ")" for row in rows[table.sql_name]
        )
        statements.append(f"INSERT INTO {table.sql_name} VALUES\n{values}")
    statements.append("GRANT USAGE ON SCHEMA tap_schema TO PUBLIC")
    statements.append("GRANT SELECT ON ALL TABLES IN SCHEMA tap_schema TO PUBLIC")
    return statements


POSITION_INDEX = "archive_spoint_gist"


def vo_create_sql() -> list[str]:
    """pgSphere, the position index, ivoa.obscore and TAP_SCHEMA."""
    return [
        "CREATE EXTENSION IF NOT EXISTS pg_sphere",
        # The expression ADQL's CONTAINS(POINT('ICRS', s_ra, s_dec), ...) becomes through the
        # view, so the planner uses this index for cone queries.
        f"CREATE INDEX IF NOT EXISTS {POSITION_INDEX} ON archive_archivefile USING gist "
        "(spoint(radians(ra_deg), radians(dec_deg)))",
        # queryparser writes ADQL's DISTANCE(p, q) < r as spoint_dwithin, which pgSphere has
        # only from 1.3 on (Debian 12 ships 1.2): the same predicate where it is missing.
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'spoint_dwithin') "
        "THEN CREATE FUNCTION spoint_dwithin(spoint, spoint, float8) RETURNS boolean "
        "AS 'SELECT $1 <-> $2 <= $3' LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE; "
        "END IF; END $$",
        "CREATE SCHEMA IF NOT EXISTS ivoa",
        obscore_view_sql(),
        "GRANT USAGE ON SCHEMA ivoa TO PUBLIC",
        *tap_schema_sql(),
    ]


def vo_drop_sql() -> list[str]:
    return [
        "DROP SCHEMA IF EXISTS tap_schema CASCADE",
        "DROP SCHEMA IF EXISTS ivoa CASCADE",
        f"DROP INDEX IF EXISTS {POSITION_INDEX}",
    ]


# ---------------------------------------------------------------------------------------------
# Values as the view gives them
# ---------------------------------------------------------------------------------------------


def polygon_degrees(text: str) -> list[float]:
    """pgSphere's spoly output, ``{(0.1 , -0.2),(...)}`` in radians, as DALI's polygon."""
    numbers = text.replace("{", "").replace("}", "").replace("(", "").replace(")", "")
    return [math.degrees(float(v)) for v in numbers.replace(" ", "").split(",") if v]
