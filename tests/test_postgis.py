"""PostGIS reading and writing against a real, throwaway PostgreSQL + PostGIS server.

The server is started once per session on a free loopback port in a temporary folder
(tests/pg_server.py) and deleted afterwards.  Without the Debian packages the tests skip and
say why; nothing is faked.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pg_server import PASSWORD, PASSWORD_USER, running_server, unavailable_reason
from pyproj import CRS, Transformer

from siteplan.core.errors import ConfigError, InputError, SiteplanWarning
from siteplan.io.postgis.layers import (
    display_source,
    is_postgis_url,
    parse_postgis_url,
    read_postgis_layer,
    write_postgis_layer,
)

pytestmark = pytest.mark.postgis

# Taiyuan (太原) parcel corners, lon/lat; the test layers are built from them in EPSG:4547
# (CGCS2000 3-degree Gauss-Kruger, central meridian 114°E).
TAIYUAN_LONLAT = [(112.5489, 37.8706), (112.5612, 37.8655), (112.5790, 37.8512)]


@pytest.fixture(scope="session")
def pg():
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"no PostgreSQL/PostGIS server here: {reason}")
    with running_server() as server:
        print(f"throwaway PostGIS server on 127.0.0.1:{server.port}, "
              f"started in {server.startup_seconds:.2f} s")
        yield server


def _parcels() -> gpd.GeoDataFrame:
    """Three parcels in EPSG:4547: two squares and a two-part multipolygon, with Chinese text,
    quotes, '%' and ':' (which SQL layers like to mangle), a NaN and booleans."""
    to_4547 = Transformer.from_crs(4326, 4547, always_xy=True)
    xs, ys = to_4547.transform(*zip(*TAIYUAN_LONLAT, strict=True))
    squares = [shapely.box(x, y, x + 120.0, y + 80.0) for x, y in zip(xs, ys, strict=True)]
    geoms = [squares[0], squares[1],
             shapely.MultiPolygon([squares[2], shapely.box(xs[2] + 200, ys[2], xs[2] + 260,
                                                           ys[2] + 60)])]
    return gpd.GeoDataFrame(
        {
            "parcel_id": ["TY-001", "TY-002", "TY-003"],
            "名称": ["小店区一号地块", "迎泽区 'A' 地块", "万柏林区 100% 地块: 东"],
            "score": [87.25, 64.5, np.nan],
            "rank": [1, 2, 3],
            "clean_land": [True, False, True],
        },
        geometry=geoms,
        crs="EPSG:4547",
    )


# ----------------------------------------------------------------------------- URLs


def test_is_postgis_url():
    assert is_postgis_url("postgresql://u@h/db?table=t")
    assert is_postgis_url("POSTGRES://u@h/db?table=t")
    assert is_postgis_url("postgresql+psycopg2://u@h:5433/db?sql=SELECT+1")
    assert is_postgis_url("PG:dbname=gis")
    assert not is_postgis_url("data/taiyuan/parcels.gpkg")
    assert not is_postgis_url(Path("data/postgresql.gpkg"))
    assert not is_postgis_url(None)


def test_parse_url_keeps_password_out_of_display():
    src = parse_postgis_url(
        "postgresql://bob:p%40ss@db.example:5433/gis?table=planning.parcels&sslmode=require")
    assert src.display == "postgresql://bob@db.example:5433/gis"
    assert src.password == "p@ss" and "p@ss" not in src.display and "p@ss" not in repr(src)
    assert src.table == "planning.parcels" and src.sql is None
    assert dict(src.url.query) == {"sslmode": "require"}  # passed on to libpq
    assert src.url.drivername == "postgresql+psycopg2"
    sql = "SELECT * FROM poi WHERE kind = 'school'"
    src = parse_postgis_url(f"postgresql://bob@h/gis?sql={urllib.parse.quote(sql)}&geom=g")
    assert src.sql == sql and src.geom == "g" and src.table is None


def test_display_source_hides_the_password():
    assert display_source("postgresql://bob:hunter2@db:5433/gis?table=a.b&sslmode=require") \
        == "postgresql://bob@db:5433/gis?table=a.b"
    assert "hunter2" not in display_source("postgresql://bob:hunter2@db:99999999/gis")
    assert display_source(Path("data/parcels.gpkg")) == str(Path("data/parcels.gpkg"))


def test_gdal_pg_string_is_refused_with_the_url_form():
    with pytest.raises(InputError, match="postgresql://USER@HOST"):
        read_postgis_layer("PG:dbname=gis host=localhost")


# ----------------------------------------------------------------------------- round trip


def test_round_trip_chinese_text_and_cgcs2000(pg):
    gdf = _parcels()
    before = gdf.copy()
    written = write_postgis_layer(gdf, pg.url(), "public.规划地块")
    assert written == "public.规划地块"
    assert gdf.equals(before)  # the input is not modified

    back = read_postgis_layer(pg.url(query="table=public.规划地块"))
    assert back.crs == CRS.from_epsg(4547)
    assert list(back.columns) == ["parcel_id", "名称", "score", "rank", "clean_land", "geometry"]
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                                  pd.DataFrame(gdf.drop(columns="geometry")),
                                  check_dtype=False)
    assert back["rank"].tolist() == [1, 2, 3]
    assert back["clean_land"].tolist() == [True, False, True]
    # Mixed Polygon/MultiPolygon is written as MultiPolygon, with identical coordinates.
    assert set(back.geom_type) == {"MultiPolygon"}
    assert shapely.equals(back.geometry.to_numpy(), gdf.geometry.to_numpy()).all()
    assert np.allclose(back.area.to_numpy(), gdf.area.to_numpy(), rtol=0, atol=0)
    assert "password" not in back.attrs["siteplan_source"]


def test_written_table_has_srid_type_and_gist_index(pg):
    write_postgis_layer(_parcels(), pg.url(), "srid_check")
    assert pg.psql("SELECT Find_SRID('public', 'srid_check', 'geometry')").strip() == "4547"
    assert pg.psql("SELECT type FROM geometry_columns WHERE f_table_name = 'srid_check'"
                   ).strip() == "MULTIPOLYGON"
    indexes = pg.psql("SELECT indexname || ' ' || indexdef FROM pg_indexes "
                      "WHERE tablename = 'srid_check'").strip().splitlines()
    assert len(indexes) == 1
    assert indexes[0].startswith("idx_srid_check_geometry ")
    assert "USING gist (geometry)" in indexes[0]
    # No scratch tables left behind.
    assert pg.psql("SELECT count(*) FROM pg_class WHERE relname LIKE '_siteplan_tmp%'").strip() \
        == "0"


def test_read_with_sql_in_url_and_argument(pg):
    write_postgis_layer(_parcels(), pg.url(), "sql_src")
    sql = ("SELECT parcel_id, 名称, geometry AS geom FROM sql_src "
           "WHERE 名称 LIKE '%区%' AND score > 60 ORDER BY parcel_id;")
    via_url = read_postgis_layer(pg.url(query="sql=" + urllib.parse.quote(sql)))
    via_arg = read_postgis_layer(pg.url(), sql=sql)
    for gdf in (via_url, via_arg):
        assert gdf["parcel_id"].tolist() == ["TY-001", "TY-002"]  # NaN score drops TY-003
        assert gdf.geometry.name == "geometry"
        assert gdf.crs == CRS.from_epsg(4547)
        assert gdf["名称"].tolist() == ["小店区一号地块", "迎泽区 'A' 地块"]


def test_read_geography_and_pick_geometry_column(pg):
    write_postgis_layer(_parcels(), pg.url(), "two_geoms")
    sql = ("SELECT parcel_id, geometry, ST_Transform(ST_Centroid(geometry), 4326)::geography "
           "AS centre FROM two_geoms ORDER BY parcel_id")
    with pytest.raises(InputError, match="several geometry columns"):
        read_postgis_layer(pg.url(), sql=sql)
    centres = read_postgis_layer(pg.url(query="geom=centre"), sql=sql)
    assert centres.crs == CRS.from_epsg(4326)
    expected = _parcels().geometry.centroid.to_crs(4326)
    assert np.allclose(centres.geometry.x, expected.x, atol=1e-9)
    assert np.allclose(centres.geometry.y, expected.y, atol=1e-9)
    assert centres["geometry"].crs == CRS.from_epsg(4547)  # the other column is parsed too


def test_primary_key_order(pg):
    pg.psql("CREATE TABLE pk_order (id int PRIMARY KEY, geom geometry(Point, 4490));"
            "INSERT INTO pk_order VALUES (3, 'SRID=4490;POINT(112.5 37.8)'), "
            "(1, 'SRID=4490;POINT(112.6 37.9)'), (2, 'SRID=4490;POINT(112.7 37.7)');"
            "UPDATE pk_order SET id = id WHERE id = 1;")
    gdf = read_postgis_layer(pg.url(query="table=pk_order"))
    assert gdf["id"].tolist() == [1, 2, 3]
    assert gdf.crs == CRS.from_epsg(4490)
    assert gdf.geometry.x.tolist() == [112.6, 112.7, 112.5]


# ----------------------------------------------------------------------------- if_exists


def test_if_exists_fail_and_replace(pg):
    gdf = _parcels()
    write_postgis_layer(gdf, pg.url(query="table=shortlist"))
    with pytest.raises(InputError, match="already exists") as err:
        write_postgis_layer(gdf.iloc[:1], pg.url(), "shortlist")
    assert 'if_exists="replace"' in str(err.value)
    assert pg.psql("SELECT count(*) FROM shortlist").strip() == "3"  # untouched

    write_postgis_layer(gdf.iloc[:2], pg.url(), "shortlist", if_exists="replace")
    assert pg.psql("SELECT string_agg(parcel_id, ',' ORDER BY parcel_id) FROM shortlist"
                   ).strip() == "TY-001,TY-002"
    assert pg.psql("SELECT indexname FROM pg_indexes WHERE tablename = 'shortlist'"
                   ).strip() == "idx_shortlist_geometry"
    with pytest.raises(ConfigError, match="if_exists"):
        write_postgis_layer(gdf, pg.url(), "shortlist",
                            if_exists="append")  # type: ignore[arg-type]


def test_failed_replace_leaves_the_old_table(pg):
    write_postgis_layer(_parcels(), pg.url(), "kept")
    pg.psql("CREATE VIEW kept_view AS SELECT parcel_id FROM kept")
    with pytest.raises(InputError, match="depend on the table"):
        write_postgis_layer(_parcels().iloc[:1], pg.url(), "kept", if_exists="replace")
    assert pg.psql("SELECT count(*) FROM kept").strip() == "3"
    assert pg.psql("SELECT count(*) FROM pg_class WHERE relname LIKE '_siteplan_tmp%'").strip() \
        == "0"


def test_write_needs_an_epsg_crs_and_short_names(pg):
    with pytest.raises(InputError, match="no CRS"):
        write_postgis_layer(_parcels().set_crs(None, allow_override=True), pg.url(), "x1")
    with pytest.raises(InputError, match="63 bytes"):
        write_postgis_layer(_parcels(), pg.url(), "地" * 22)  # 66 bytes in UTF-8
    with pytest.raises(InputError, match="schema 'nowhere' does not exist"):
        write_postgis_layer(_parcels(), pg.url(), "nowhere.x1")


# ----------------------------------------------------------------------------- errors


def test_missing_table_lists_the_spatial_tables(pg):
    write_postgis_layer(_parcels(), pg.url(), "listed")
    with pytest.raises(InputError, match="does not exist") as err:
        read_postgis_layer(pg.url(query="table=public.no_such_table"), kind="parcels")
    msg = str(err.value)
    assert "public.listed" in msg and "parcels postgresql://" in msg


def test_wrong_port_is_unreachable(pg):
    closed = pg.port + 1 if pg.port < 65535 else pg.port - 1
    url = f"postgresql://postgres@127.0.0.1:{closed}/postgres?table=x"
    with pytest.raises(InputError, match="cannot reach the database server") as err:
        read_postgis_layer(url)
    assert f"127.0.0.1:{closed}" in str(err.value)
    assert "5432" in str(err.value)  # the fix names the default port


def test_wrong_password_never_shows_the_password(pg):
    good = read_postgis_layer(pg.url(user=PASSWORD_USER, password=PASSWORD),
                              sql="SELECT 1 AS id, 'SRID=4326;POINT(1 2)'::geometry AS geom")
    assert len(good) == 1 and good.crs == CRS.from_epsg(4326)
    wrong = "Wr0ng-Secret-42"
    with pytest.raises(InputError, match="refused the login") as err:
        read_postgis_layer(pg.url(user=PASSWORD_USER, password=wrong, query="table=x"))
    assert wrong not in str(err.value) and PASSWORD not in str(err.value)
    with pytest.raises(InputError, match="refused the login"):
        read_postgis_layer(pg.url(user="nobody_here", query="table=x"))


def test_missing_database(pg):
    with pytest.raises(InputError, match="database does not exist"):
        read_postgis_layer(pg.url(db="no_such_db", query="table=x"))


def test_missing_geometry_column(pg):
    pg.psql("CREATE TABLE plain (id int, 名称 text)")
    with pytest.raises(InputError, match="has no geometry column; columns: id, 名称"):
        read_postgis_layer(pg.url(query="table=plain"))
    write_postgis_layer(_parcels(), pg.url(), "geom_named")
    with pytest.raises(InputError, match="'score' is not a geometry"):
        read_postgis_layer(pg.url(query="table=geom_named&geom=score"))


def test_srid_zero_needs_a_declared_crs(pg):
    pg.psql("CREATE TABLE no_srid (id int, geom geometry);"
            "INSERT INTO no_srid VALUES (1, 'POINT(372000 4192000)')")
    with pytest.raises(InputError, match="SRID 0") as err:
        read_postgis_layer(pg.url(query="table=no_srid"))
    assert "crs=" in str(err.value)
    gdf = read_postgis_layer(pg.url(query="table=no_srid"), crs="EPSG:4547")
    assert gdf.crs == CRS.from_epsg(4547) and gdf.geometry.x.tolist() == [372000.0]
    with pytest.warns(SiteplanWarning, match="declared"):
        gdf = read_postgis_layer(pg.url(), sql="SELECT 'SRID=4490;POINT(112 37)'::geometry AS g",
                                 crs="EPSG:4326")
    assert gdf.crs == CRS.from_epsg(4326)


def test_mixed_srids_and_bad_sql(pg):
    sql = ("SELECT 'SRID=4326;POINT(112 37)'::geometry AS g UNION ALL "
           "SELECT 'SRID=4490;POINT(112 37)'::geometry")
    with pytest.raises(InputError, match=r"mixes SRIDs \[4326, 4490\]"):
        read_postgis_layer(pg.url(), sql=sql)
    with pytest.raises(InputError, match="refused the read"):
        read_postgis_layer(pg.url(), sql="SELECT * FROM nothing_here")
    with pytest.raises(InputError, match="both a table and a SQL query"):
        read_postgis_layer(pg.url(query="table=x"), sql="SELECT 1")
    with pytest.raises(InputError, match="neither which table"):
        read_postgis_layer(pg.url())


def test_table_as_argument(pg):
    write_postgis_layer(_parcels(), pg.url(), "by_arg")
    gdf = read_postgis_layer(pg.url(), table="public.by_arg")
    assert gdf["parcel_id"].tolist() == ["TY-001", "TY-002", "TY-003"]
    with pytest.raises(InputError, match="names two tables"):
        read_postgis_layer(pg.url(query="table=a"), table="b")


# Expected with this input: the demo's one invalid polygon is repaired, 80 parcels in one
# corner reach no kindergarten and no metro track within the search limit, and no Tianditu key.
@pytest.mark.filterwarnings("ignore:.*repaired 1 invalid geometry:siteplan.core.errors.SiteplanWarning")
@pytest.mark.filterwarnings("ignore:.*no parcel reaches a:siteplan.core.errors.SiteplanWarning")
@pytest.mark.filterwarnings("ignore:no Tianditu key:siteplan.core.errors.SiteplanWarning")
def test_study_reads_parcels_from_postgis_and_writes_the_shortlist_back(pg, tmp_path):
    """A bureau keeps its parcels in PostGIS (CGCS2000 GK) and wants the shortlist there too."""
    from siteplan.outputs.writers import write_outputs
    from siteplan.pipeline import DEMO_STUDY, run_study
    from siteplan.study.model import load_study

    src = Path(DEMO_STUDY).parent
    parcels = gpd.read_file(src / "parcels.gpkg", layer="parcels").head(80).to_crs(4547)
    url = pg.url()
    write_postgis_layer(parcels, url + "?table=public.study_candidates")
    text = (src / "study.toml").read_text(encoding="utf-8")
    text = text.replace('path = "parcels.gpkg"', f'path = "{url}?table=public.study_candidates"')
    text = text.replace('layer = "parcels"\n', "")
    for name in ("taiyuan_osm_lines.geojson", "taiyuan_osm_multipolygons.geojson"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    result = run_study(load_study(tmp_path / "study.toml"))
    assert len(result.parcels) == 80
    out = write_outputs(result, tmp_path / "out", formats=["csv"],
                        postgis=url + "?table=public.study_shortlist")
    assert "postgis" in out and PASSWORD not in str(out["postgis"])
    back = read_postgis_layer(url + "?table=public.study_shortlist")
    ranked = result.ranked(result.study.outputs.top_n)
    assert back["parcel_id"].tolist() == ranked["parcel_id"].tolist()
    np.testing.assert_allclose(back["score"], ranked["score"])
    assert back.crs.to_epsg() == result.network.crs.to_epsg()
