"""PostgreSQL/PostGIS layers: read any input layer from a table or a query, write the shortlist.

Many planning bureaus keep their layers in PostGIS.  An input layer can be given as a URL::

    postgresql://user@host:5432/gis?table=planning.parcels
    postgresql://user@host/gis?table=parcels&geom=shape
    postgresql://user@host/gis?sql=SELECT%20*%20FROM%20poi%20WHERE%20kind%3D'school'

``table=`` (alias ``layer=``) is ``schema.name`` or ``name`` (found on the search path);
``sql=`` is a URL-encoded query (or pass ``sql=`` to :func:`read_postgis_layer`); ``geom=``
picks the geometry column when there are several.  Other query parameters (``sslmode``,
``connect_timeout``, ``options`` ...) go to libpq.  Passwords are best kept out of the URL
(``PGPASSWORD`` or ``~/.pgpass``); a password in the URL works but is never shown in messages.

:func:`write_postgis_layer` writes a GeoDataFrame to a table with its SRID and a GiST index in
one transaction: into a scratch table first, then swapped in by rename, so readers see the old
table or the new one, never a half-written one.

Connections, URL parsing and connection errors live in :mod:`siteplan.io.postgis.connect`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
import warnings
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siteplan.core.errors import ConfigError, InputError, SiteplanWarning
from siteplan.io.postgis.connect import (
    MAX_IDENT_BYTES,
    PostgisSource,
    connect,
    display_source,
    driver_message,
    find_relation,
    is_postgis_url,
    parse_postgis_url,
    quote_ident,
    scrub,
    short,
    split_table_name,
)

# ============================================================================= reading


def read_postgis_layer(
    url: str,
    *,
    table: str | None = None,
    sql: str | None = None,
    geom_col: str | None = None,
    crs: Any = None,
    kind: str = "layer",
) -> gpd.GeoDataFrame:
    """Read a PostGIS table or query into a GeoDataFrame with its CRS.

    Parameters
    ----------
    url
        ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB?table=SCHEMA.NAME`` (or ``?sql=...``);
        see the module docstring.
    table
        ``SCHEMA.NAME`` or ``NAME``, instead of ``table=`` in the URL (e.g. the ``layer`` of
        a study input).
    sql
        A query, instead of ``table=``/``sql=`` in the URL.
    geom_col
        The geometry column (overrides ``geom=`` in the URL); needed only when the table or
        query has more than one geometry or geography column.
    crs
        The layer's CRS when its SRID is 0 (undefined).  A declared CRS that differs from a
        defined SRID wins, with a :class:`~siteplan.core.errors.SiteplanWarning`.
    kind
        What the layer is for (``"parcels"``, ``"facility layer"``), used in messages.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per result row, index 0..n-1; rows of a table come in primary-key order when
        it has one.  The geometry column is called ``geometry`` (unless the table already has
        another column of that name); further geometry columns are parsed to shapely too.
        ``attrs["siteplan_source"]`` is the URL without password plus the table or query.

    Raises
    ------
    InputError
        Server unreachable, login refused, missing database, table or geometry column, failing
        query, several SRIDs in one column, or SRID 0 without ``crs``.

    Examples
    --------
    Any input layer given as such a URL is read from PostGIS (it needs a server, so it is not
    run here):

    >>> url = "postgresql://planner@db.example:5432/gis?table=planning.parcels"
    >>> is_postgis_url(url)
    True
    >>> parcels = read_postgis_layer(url, kind="parcels")  # doctest: +SKIP
    """
    import psycopg2
    from sqlalchemy.exc import DBAPIError

    src = parse_postgis_url(url)
    if table and src.table and table != src.table:
        raise InputError(f"names two tables ({src.table!r} in the URL, {table!r} as layer).",
                         where=f"{kind} {src.display}", fix="give the table once.")
    if table:
        src = dataclasses.replace(src, table=table)
    sql = sql or src.sql
    geom_col = geom_col or src.geom
    if sql and src.table:
        raise InputError("gives both a table and a SQL query.", where=f"{kind} {src.display}",
                         fix="give either table=SCHEMA.NAME or sql=SELECT ..., not both.")
    if not sql and not src.table:
        raise InputError("says neither which table nor which query to read.",
                         where=f"{kind} {src.display}",
                         fix="add ?table=SCHEMA.NAME (or ?sql=SELECT ... URL-encoded) to the URL.")
    what = f"table {src.table}" if src.table else f"query {short(sql or '')!r}"
    where = f"{kind} {src.display} ({what})"
    with connect(src, f"{kind} {src.display}") as con:
        try:
            geo_types = _geo_type_oids(con, src)
            if src.table:
                query = _table_query(con, src.table, where)
            else:
                query = (sql or "").strip().rstrip(";").strip()
            # The raw DB-API cursor runs the text as given: no bind-parameter parsing of
            # ':name' or '%' (a query may contain both in string literals).
            cur = con.connection.dbapi_connection.cursor()
            try:
                cur.execute(query)
                if cur.description is None:
                    raise InputError("the SQL statement returns no rows (it is not a query).",
                                     where=where, fix="give a SELECT query.")
                names = [d.name for d in cur.description]
                types = [d.type_code for d in cur.description]
                rows = cur.fetchall()
            finally:
                cur.close()
            geo_cols = [n for n, t in zip(names, types, strict=True) if t in geo_types]
            geom = _choose_geometry(names, geo_cols, geom_col, where)
            frame = pd.DataFrame.from_records(rows, columns=names, coerce_float=True)
            srids: dict[str, list[int]] = {}
            for col in geo_cols:
                values = np.asarray(frame[col].to_numpy(dtype=object), dtype=object)
                values[pd.isna(values)] = None
                frame[col] = shapely.from_wkb(values)
                present = frame[col].to_numpy(dtype=object)
                present = present[~shapely.is_missing(present)]
                srids[col] = sorted({int(s) for s in shapely.get_srid(present)})
            layer_crs = _layer_crs(con, srids[geom], crs, where, geom,
                                   src.table if src.table else None)
            others = {c: _other_crs(con, srids[c]) for c in geo_cols if c != geom}
        except (DBAPIError, psycopg2.Error) as exc:  # raw cursors raise psycopg2's own errors
            msg = scrub(driver_message(exc), src)
            raise InputError(f"the database refused the read ({msg}).",
                             where=where,
                             fix="check the query or table name, and that this user may read it "
                             "(GRANT SELECT).") from None
    for col, col_crs in others.items():
        frame[col] = gpd.GeoSeries(frame[col], crs=col_crs)
    name = "geometry" if geom == "geometry" or "geometry" not in frame.columns else geom
    if name != geom:
        frame = frame.rename(columns={geom: name})
    gdf = gpd.GeoDataFrame(frame, geometry=name, crs=layer_crs)
    gdf.index = pd.RangeIndex(len(gdf))
    gdf.attrs["siteplan_source"] = f"{src.display} ({what})"
    return gdf


def _geo_type_oids(con: Any, src: PostgisSource) -> set[int]:
    rows = con.exec_driver_sql(
        "SELECT oid FROM pg_type WHERE typname IN ('geometry', 'geography')").all()
    if not rows:
        raise InputError(
            "PostGIS is not installed in this database (no geometry type).", where=src.display,
            fix="ask the database administrator to run CREATE EXTENSION postgis; there, or "
            "point the URL to the database that holds the layers.")
    return {int(r[0]) for r in rows}


def _table_query(con: Any, table: str, where: str) -> str:
    from sqlalchemy import text

    schema, name = split_table_name(table, where)
    found = find_relation(con, schema, name)
    if found is None:
        spatial = [r[0] for r in con.exec_driver_sql(
            "SELECT f_table_schema || '.' || f_table_name FROM geometry_columns "
            "ORDER BY 1 LIMIT 12").all()]
        listing = (f" Tables with geometry here: {', '.join(spatial)}." if spatial
                   else " This database has no tables with geometry.")
        raise InputError("the table does not exist (or this user cannot see it)." + listing,
                         where=where,
                         fix="check the name and schema (table=SCHEMA.NAME), and that the user "
                         "has USAGE on the schema.")
    pk = con.execute(text(
        "SELECT a.attname FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        "WHERE i.indrelid = CAST(:rel AS regclass) AND i.indisprimary "
        "ORDER BY array_position(i.indkey, a.attnum)"),
        {"rel": quote_ident(con, *found)}).all()
    order = f" ORDER BY {', '.join(quote_ident(con, r[0]) for r in pk)}" if pk else ""
    return f"SELECT * FROM {quote_ident(con, *found)}{order}"


def _choose_geometry(names: list[str], geo_cols: list[str], geom_col: str | None,
                     where: str) -> str:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"the result has several columns named {dupes}.", where=where,
                         fix="give the columns distinct names (SELECT a.x AS a_x, ...).")
    if geom_col is not None:
        if geom_col in geo_cols:
            return geom_col
        if geom_col in names:
            raise InputError(f"column {geom_col!r} is not a geometry or geography column.",
                             where=where,
                             fix="name a geometry column, or convert it in a query "
                             "(sql=SELECT ..., ST_GeomFromText(col, 4490) AS geom ...).")
        raise InputError(f"has no column {geom_col!r}; columns: {', '.join(names)}.",
                         where=where, fix="give one of the geometry columns as geom=.")
    if not geo_cols:
        raise InputError(f"has no geometry column; columns: {', '.join(names)}.", where=where,
                         fix="read a table with a PostGIS geometry column, or build one in a "
                         "query, e.g. sql=SELECT *, ST_SetSRID(ST_MakePoint(lon, lat), 4326) "
                         "AS geom FROM ...")
    if len(geo_cols) > 1:
        raise InputError(f"has several geometry columns ({', '.join(geo_cols)}).", where=where,
                         fix="choose one with geom=NAME in the URL.")
    return geo_cols[0]


def _declared_srid(con: Any, table: str, geom: str) -> int:
    from sqlalchemy import text

    schema, name = split_table_name(table, table)
    found = find_relation(con, schema, name)
    if found is None:
        return 0
    row = con.execute(text(
        "SELECT srid FROM geometry_columns WHERE f_table_schema = :s AND f_table_name = :t "
        "AND f_geometry_column = :g UNION ALL "
        "SELECT srid FROM geography_columns WHERE f_table_schema = :s AND f_table_name = :t "
        "AND f_geography_column = :g"), {"s": found[0], "t": found[1], "g": geom}).first()
    return int(row[0]) if row and row[0] else 0


def _srid_crs(con: Any, srid: int) -> CRS | None:
    """Return the CRS of an SRID from ``spatial_ref_sys`` (EPSG codes directly, others by WKT)."""
    from sqlalchemy import text

    row = con.execute(text("SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys "
                           "WHERE srid = :srid"), {"srid": srid}).first()
    try:
        if row is not None and str(row[0]).upper() == "EPSG" and row[1]:
            return CRS.from_epsg(int(row[1]))
        if row is not None and row[2]:
            return CRS.from_wkt(str(row[2]))
        return CRS.from_epsg(srid)
    except Exception:
        return None


def _other_crs(con: Any, srids: list[int]) -> CRS | None:
    return _srid_crs(con, srids[0]) if len(srids) == 1 and srids[0] != 0 else None


def _layer_crs(con: Any, srids: list[int], declared: Any, where: str, geom: str,
               table: str | None) -> CRS:
    if len(srids) > 1:
        raise InputError(
            f"geometry column {geom!r} mixes SRIDs {srids}; one layer needs one CRS.",
            where=where, fix="transform them to one SRID in a query, e.g. "
            f"sql=SELECT ..., ST_Transform({geom}, 4490) AS {geom} FROM ...")
    srid = srids[0] if srids else (_declared_srid(con, table, geom) if table else 0)
    declared_crs = None
    if declared is not None:
        try:
            declared_crs = CRS.from_user_input(declared)
        except Exception:
            raise InputError(f"the declared CRS {declared!r} is not a CRS pyproj understands.",
                             where=where, fix="use an EPSG code such as 'EPSG:4490' or "
                             "'EPSG:4547'.") from None
    if srid == 0:
        if declared_crs is None:
            raise InputError(
                f"geometry column {geom!r} has SRID 0 (no CRS)" +
                (" and no rows to tell it from." if not srids else "."),
                where=where,
                fix="declare the CRS (crs='EPSG:4547', for example), or set it in the "
                f"database: SELECT UpdateGeometrySRID('<table>', '{geom}', 4547);")
        return declared_crs
    found = _srid_crs(con, srid)
    if found is None:
        if declared_crs is None:
            raise InputError(f"SRID {srid} is neither in spatial_ref_sys nor an EPSG code.",
                             where=where, fix="declare the CRS (crs='EPSG:....').")
        return declared_crs
    if declared_crs is not None and not declared_crs.equals(found):
        warnings.warn(f"{where}: the database says SRID {srid} ({found.to_string()}), but "
                      f"{declared_crs.to_string()} was declared; using the declared CRS.",
                      SiteplanWarning, stacklevel=3)
        return declared_crs
    return found


# ============================================================================= writing

IfExists = Literal["fail", "replace"]


def write_postgis_layer(
    gdf: gpd.GeoDataFrame,
    url: str,
    table: str | None = None,
    *,
    if_exists: IfExists = "fail",
) -> str:
    """Write a GeoDataFrame to a PostGIS table with its SRID and a GiST index, atomically.

    The rows go into a scratch table in the same schema, which gets its spatial index and is
    then renamed to ``table`` (after dropping the old one with ``if_exists="replace"``), all in
    one transaction: a failure leaves the database as it was.

    Parameters
    ----------
    gdf
        The layer (e.g. the shortlist).  Its CRS must have an EPSG code (the SRID).  Not
        modified; its index is not written.  A layer mixing single and multi geometries of one
        kind (Polygon and MultiPolygon) is written as multi geometries, so the column has one
        geometry type.
    url
        ``postgresql://USER@HOST:PORT/DB``; may carry ``?table=`` instead of ``table``.
    table
        ``SCHEMA.NAME`` or ``NAME`` (the first schema on the search path).  Used as given
        (case-sensitive).
    if_exists
        ``"fail"`` (default): refuse to overwrite an existing table.  ``"replace"``: replace it.

    Returns
    -------
    str
        The table written, ``schema.name``.

    Raises
    ------
    InputError
        Unreachable server, refused login, existing table with ``if_exists="fail"``, missing
        schema, no privilege, names too long, or no usable CRS.
    ConfigError
        ``if_exists`` not ``"fail"`` or ``"replace"``.

    Examples
    --------
    Writing needs a server, so it is not run here; an unknown ``if_exists`` is refused first:

    >>> import geopandas as gpd
    >>> import shapely
    >>> layer = gpd.GeoDataFrame({"parcel_id": ["TY-0001"]}, geometry=[shapely.Point(112.55, 37.87)],
    ...                          crs="EPSG:4326")
    >>> url = "postgresql://planner@db.example/gis"
    >>> write_postgis_layer(layer, url, "planning.shortlist")  # doctest: +SKIP
    'planning.shortlist'
    >>> write_postgis_layer(layer, url, "planning.shortlist", if_exists="append")
    Traceback (most recent call last):
        ...
    siteplan.core.errors.ConfigError: PostGIS output: if_exists='append' is not an option. Fix: ...
    """
    import psycopg2
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    if if_exists not in ("fail", "replace"):
        raise ConfigError(f"if_exists={if_exists!r} is not an option.", where="PostGIS output",
                          fix='use "fail" (keep an existing table) or "replace".')
    src = parse_postgis_url(url)
    table = table or src.table
    if not table:
        raise InputError("no output table given.", where=src.display,
                         fix="give the table (SCHEMA.NAME), e.g. ?table=planning.shortlist.")
    where = f"PostGIS output {src.display} (table {table})"
    schema, name = split_table_name(table, where)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None:
        raise InputError("the layer has no CRS, so its SRID is unknown.", where=where,
                         fix="set the CRS of the GeoDataFrame (gdf.set_crs(...)).")
    srid = gdf.crs.to_epsg()
    if srid is None:
        raise InputError(f"the layer's CRS has no EPSG code ({gdf.crs.to_string()[:80]}).",
                         where=where, fix="reproject to an EPSG CRS (gdf.to_crs('EPSG:4490')).")
    frame = _prepare_frame(gdf, where)
    geom = frame.geometry.name
    _check_identifiers([name, *map(str, frame.columns)], where)
    tmp = f"_siteplan_tmp_{uuid.uuid4().hex[:16]}"
    with connect(src, where) as con:
        try:
            with con.begin():
                schema = schema or con.exec_driver_sql("SELECT current_schema()").scalar()
                if schema is None:
                    raise InputError("no schema on the search path to write to.", where=where,
                                     fix="write to SCHEMA.NAME explicitly.")
                if not con.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"),
                                   {"s": schema}).first():
                    raise InputError(f"schema {schema!r} does not exist.", where=where,
                                     fix=f"create it (CREATE SCHEMA {quote_ident(con, schema)};) "
                                     "or write to an existing schema.")
                kind = con.execute(text(
                    "SELECT c.relkind FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relname = :t"),
                    {"s": schema, "t": name}).scalar()
                if kind is not None and if_exists == "fail":
                    raise InputError("the table already exists.", where=where,
                                     fix="write to another table, or replace it "
                                     '(if_exists="replace").')
                if kind is not None and kind not in ("r", "p"):
                    raise InputError(f"{schema}.{name} exists and is not a table (a view or "
                                     "index); it is not replaced.", where=where,
                                     fix="write to another table name.")
                frame.to_postgis(tmp, con, schema=schema, index=False, if_exists="fail")
                if kind is not None:
                    con.exec_driver_sql(f"DROP TABLE {quote_ident(con, schema, name)}")
                con.exec_driver_sql(f"ALTER TABLE {quote_ident(con, schema, tmp)} "
                                    f"RENAME TO {quote_ident(con, name)}")
                _spatial_index(con, schema, name, geom)
                con.exec_driver_sql(f"ANALYZE {quote_ident(con, schema, name)}")
        except (DBAPIError, psycopg2.Error) as exc:  # COPY runs on a raw psycopg2 cursor
            raise _write_error(exc, src, where) from None
    return f"{schema}.{name}"


def _spatial_index(con: Any, schema: str, table: str, geom: str) -> None:
    """Give the table the GiST index ``idx_<table>_<geom>``.

    GeoAlchemy2 made one named after the scratch table, which is renamed here; if it did not,
    the index is built.
    """
    from sqlalchemy import text

    final = _index_name(table, geom)
    made = con.execute(text(
        "SELECT indexname FROM pg_indexes WHERE schemaname = :s AND tablename = :t "
        "AND indexdef ILIKE '%USING gist%'"), {"s": schema, "t": table}).scalar()
    if made is None:
        con.exec_driver_sql(f"CREATE INDEX {quote_ident(con, final)} ON "
                            f"{quote_ident(con, schema, table)} USING GIST "
                            f"({quote_ident(con, geom)})")
    elif made != final:
        con.exec_driver_sql(f"ALTER INDEX {quote_ident(con, schema, made)} RENAME TO "
                            f"{quote_ident(con, final)}")


def _prepare_frame(gdf: gpd.GeoDataFrame, where: str) -> gpd.GeoDataFrame:
    """Return a copy with one geometry type per kind (singles promoted to multi when mixed)."""
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    type_id = shapely.get_type_id(geoms)
    out = gdf.copy()
    for single, multi, builder in ((0, 4, shapely.multipoints), (1, 5, shapely.multilinestrings),
                                   (3, 6, shapely.multipolygons)):
        singles = type_id == single
        if singles.any() and (type_id == multi).any():
            promoted = geoms.copy()
            idx = np.flatnonzero(singles)
            promoted[idx] = builder(geoms[idx], indices=np.arange(len(idx)))
            out[out.geometry.name] = gpd.GeoSeries(promoted, index=gdf.index, crs=gdf.crs)
            geoms = promoted
    if shapely.is_missing(geoms).all():
        raise InputError("the layer has no geometries to write.", where=where,
                         fix="write a layer with at least one geometry.")
    return out


def _check_identifiers(names: list[str], where: str) -> None:
    long = [n for n in names if len(n.encode("utf-8")) > MAX_IDENT_BYTES]
    if long:
        raise InputError(f"name(s) longer than PostgreSQL's {MAX_IDENT_BYTES} bytes: {long} "
                         "(PostgreSQL would cut them short).", where=where,
                         fix="rename the table or columns (a Chinese character takes 3 bytes).")


def _index_name(table: str, geom: str) -> str:
    """``idx_<table>_<geom>`` (GeoAlchemy2's name), shortened with a hash to 63 bytes."""
    name = f"idx_{table}_{geom}"
    if len(name.encode("utf-8")) <= MAX_IDENT_BYTES:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    head = name.encode("utf-8")[: MAX_IDENT_BYTES - 9].decode("utf-8", errors="ignore")
    return f"{head}_{digest}"


def _write_error(exc: BaseException, src: PostgisSource, where: str) -> InputError:
    msg = scrub(driver_message(exc), src)
    code = getattr(getattr(exc, "orig", None) or exc, "pgcode", None)
    if code == "42501":  # insufficient_privilege
        return InputError(f"permission denied ({msg}).", where=where,
                          fix="ask the database administrator for CREATE on the schema (and "
                          "ownership of the table to replace), or write to your own schema.")
    if code == "42P07":  # duplicate_table: e.g. another writer created it meanwhile
        return InputError(f"a table or index of that name exists already ({msg}).",
                          where=where, fix="write again, or to another table.")
    if code == "2BP01":  # dependent_objects_still_exist
        return InputError(f"other objects (views) depend on the table ({msg}).", where=where,
                          fix="drop or change those views first, or write to another table.")
    return InputError(f"the database refused the write ({msg}).", where=where,
                      fix="check the table name, column types and free disk space on the "
                      "server.")


__all__ = ["PostgisSource", "display_source", "is_postgis_url", "parse_postgis_url",
           "read_postgis_layer", "write_postgis_layer"]
