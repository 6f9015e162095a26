"""PostgreSQL connections for the PostGIS reader and writer.

URL parsing, connecting, and error messages a planner can act on (unreachable server, refused
login, missing database), never showing a password.

:mod:`siteplan.io.postgis.layers` is the public face (it re-exports :func:`is_postgis_url`,
:func:`display_source` and :func:`parse_postgis_url`); this module is its plumbing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from siteplan.core.errors import InputError
from siteplan.core.optional import require_extra

_SCHEME_RE = re.compile(r"^(postgres(ql)?(\+\w+)?)://", re.IGNORECASE)
_GDAL_PG_RE = re.compile(r"^PG:", re.IGNORECASE)
# Query parameters that siteplan reads; every other one is passed on to libpq.
_OWN_PARAMS = ("table", "layer", "sql", "geom")
MAX_IDENT_BYTES = 63  # PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1)
_CONNECT_TIMEOUT_S = 10

_AUTH_HINTS = ("password authentication failed", "no password supplied", "authentication failed",
               "pg_hba.conf")
_UNREACHABLE_HINTS = ("connection refused", "could not translate host name", "timeout expired",
                      "no route to host", "network is unreachable", "could not connect",
                      "name or service not known", "temporary failure in name resolution",
                      "server closed the connection unexpectedly")


@dataclass(frozen=True)
class PostgisSource:
    """A parsed PostGIS URL.  ``display`` is safe to show (no password)."""

    url: Any  # sqlalchemy.engine.URL minus siteplan's own parameters; its repr hides passwords
    display: str
    password: str | None = field(repr=False)  # only to scrub it from driver messages
    table: str | None
    sql: str | None
    geom: str | None


def is_postgis_url(text: object) -> bool:
    """Tell whether ``text`` names a PostgreSQL source rather than a file.

    A source is ``postgresql://``, ``postgres://`` or GDAL's ``PG:``.  Check the string before
    turning it into a ``Path``: a ``Path`` collapses ``//``.
    """
    if isinstance(text, os.PathLike):
        text = os.fspath(text)
    if not isinstance(text, str):
        return False
    return bool(_SCHEME_RE.match(text.strip()) or _GDAL_PG_RE.match(text.strip()))


def display_source(source: object) -> str:
    """Return a source as it may be shown (messages, metadata, maps).

    A PostGIS URL loses its password (``postgresql://user@host:port/db?table=...``); anything
    else is shown as ``str``.
    """
    text = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    if not is_postgis_url(text) or _GDAL_PG_RE.match(text.strip()):
        return text
    try:
        src = parse_postgis_url(text)
    except InputError:
        return _redact(text)
    what = (f"?table={src.table}" if src.table else
            f"?sql={short(src.sql)}" if src.sql else "")
    return src.display + what


def parse_postgis_url(url: str) -> PostgisSource:
    """Split a PostGIS URL into connection URL and siteplan's ``table``/``sql``/``geom``.

    Raises
    ------
    InputError
        Not a ``postgresql://`` URL, or one that cannot be parsed.
    SiteplanError
        The ``postgis`` extra is not installed.
    """
    require_extra("postgis", f"the PostGIS source {_redact(str(url).strip())}")
    from sqlalchemy.engine import make_url

    text = str(url).strip()
    if _GDAL_PG_RE.match(text):
        raise InputError(
            "GDAL-style 'PG:' connection strings are not supported.", where="PostGIS source",
            fix="write it as a URL: postgresql://USER@HOST:PORT/DBNAME?table=SCHEMA.TABLE")
    scheme_match = _SCHEME_RE.match(text)
    if scheme_match is None:
        raise InputError("is not a postgresql:// URL.", where="PostGIS source",
                         fix="use postgresql://USER@HOST:PORT/DBNAME?table=SCHEMA.TABLE")
    scheme = scheme_match.group(1).lower()
    if "+" not in scheme:  # SQLAlchemy 2.1 defaults to psycopg 3; siteplan ships psycopg2
        text = "postgresql+psycopg2" + text[len(scheme):]
    try:
        parsed = make_url(text)
    except Exception:
        raise InputError(
            "the PostGIS URL cannot be parsed.", where=_redact(text),
            fix="use postgresql://USER@HOST:PORT/DBNAME?table=SCHEMA.TABLE, with special "
            "characters in the password percent-encoded (@ as %40).") from None
    query = dict(parsed.query)
    own: dict[str, str | None] = {}
    for key in _OWN_PARAMS:
        value = query.get(key)
        if isinstance(value, tuple):
            raise InputError(f"the URL gives {key}= more than once.", where=_display(parsed),
                             fix=f"give {key}= once.")
        own[key] = value
    table = own["table"] or own["layer"]
    display = _display(parsed)
    return PostgisSource(url=parsed.difference_update_query(_OWN_PARAMS), display=display,
                         password=parsed.password, table=table or None,
                         sql=own["sql"] or None, geom=own["geom"] or None)


def _display(url: Any) -> str:
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    user = f"{url.username}@" if url.username else ""
    return f"postgresql://{user}{host}{port}/{url.database or ''}"


def _redact(text: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", text)


def scrub(message: str, src: PostgisSource) -> str:
    """Return a driver message with the source's password replaced by ``***``."""
    if src.password:
        message = message.replace(src.password, "***")
    return message


def _engine(src: PostgisSource) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    args: dict[str, Any] = {"client_encoding": "utf8", "application_name": "siteplan"}
    if "connect_timeout" not in src.url.query:
        args["connect_timeout"] = _CONNECT_TIMEOUT_S
    try:
        return create_engine(src.url, poolclass=NullPool, connect_args=args)
    except Exception as exc:  # unknown driver in postgresql+driver://
        raise InputError(f"cannot use this database URL ({first_line(exc)}).",
                         where=src.display,
                         fix="use postgresql://USER@HOST:PORT/DBNAME?table=... (psycopg2 driver)."
                         ) from None


def driver_message(exc: BaseException) -> str:
    """Return the database driver's own message of an error, on one line."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(line.strip() for line in str(orig).strip().splitlines() if line.strip())
    return text or type(orig).__name__


def _connect_error(exc: BaseException, src: PostgisSource, where: str) -> InputError:
    msg = scrub(driver_message(exc), src)
    low = msg.lower()
    user = src.url.username or "(your login name)"
    if re.search(r'database ".*" does not exist', low):
        return InputError(f"the database does not exist ({msg}).", where=where,
                          fix="check the database name after the host in the URL "
                          "(postgresql://USER@HOST:PORT/DBNAME?...).")
    if any(h in low for h in _AUTH_HINTS) or re.search(r'role ".*" does not exist', low):
        return InputError(
            f"the server refused the login of user {user!r} ({msg}).", where=where,
            fix="check the user name and password; put the password in PGPASSWORD or ~/.pgpass "
            "rather than in the URL, and ask the database administrator for access "
            "(pg_hba.conf) if the user is right.")
    if any(h in low for h in _UNREACHABLE_HINTS):
        return InputError(
            f"cannot reach the database server ({msg}).", where=where,
            fix="check the host and port (PostgreSQL's default is 5432), that the server is "
            "running, and that it accepts TCP connections from this machine "
            "(listen_addresses, firewall).")
    return InputError(f"cannot connect to the database ({msg}).", where=where,
                      fix="check the URL, and that the server is a PostgreSQL server.")


def connect(src: PostgisSource, where: str) -> Any:
    """Open a SQLAlchemy connection, or raise an :class:`InputError` saying why not."""
    from sqlalchemy.exc import DBAPIError

    engine = _engine(src)
    try:
        return engine.connect()
    except DBAPIError as exc:
        raise _connect_error(exc, src, where) from None


# ----------------------------------------------------------------------------- catalog


def short(text: str, n: int = 60) -> str:
    """``text`` on one line, cut to ``n`` characters (for messages)."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def split_table_name(name: str, where: str) -> tuple[str | None, str]:
    """``"schema.name"`` -> ``("schema", "name")``; ``"name"`` -> ``(None, "name")``."""
    parts = [p.strip().strip('"') for p in name.split(".")]
    if len(parts) > 2 or not all(parts):
        raise InputError(f"{name!r} is not a table name.", where=where,
                         fix="write table=SCHEMA.NAME or table=NAME.")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def quote_ident(con: Any, *names: str) -> str:
    """Quoted, dot-joined identifiers (``"schema"."table"``), safe in SQL text."""
    prep = con.dialect.identifier_preparer
    return ".".join(prep.quote_identifier(n) for n in names)


def find_relation(con: Any, schema: str | None, name: str) -> tuple[str, str] | None:
    """Find the ``(schema, name)`` of a table or view named ``name``, or None.

    The exact name is tried first, then the lower-case name PostgreSQL gives unquoted
    identifiers; without a schema, the first match on the search path wins.
    """
    from sqlalchemy import text

    query = text(
        "SELECT n.nspname, c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = :name AND c.relkind IN ('r', 'v', 'm', 'f', 'p') "
        "AND (n.nspname = :schema OR (CAST(:schema AS text) IS NULL "
        "     AND n.nspname = ANY (current_schemas(false)))) "
        "ORDER BY array_position(current_schemas(false), n.nspname::text) LIMIT 1")
    for sch, nm in ((schema, name), (schema.lower() if schema else None, name.lower())):
        row = con.execute(query, {"name": nm, "schema": sch}).first()
        if row is not None:
            return str(row[0]), str(row[1])
    return None


__all__ = ["MAX_IDENT_BYTES", "PostgisSource", "connect", "display_source", "driver_message",
           "find_relation", "first_line", "is_postgis_url", "parse_postgis_url", "quote_ident",
           "scrub", "short", "split_table_name"]
