"""Every kind of map siteplan writes, opened in headless Chromium with every request blocked.

`siteplan run`, `siteplan batch`, `siteplan site` and `siteplan map` each write an HTML map with
their defaults (no ``offline`` argument anywhere): each must open with no request at all and no
script error, and draw every parcel.  The Taiyuan demo is run once for the module; the layers
(blind spots above parcels, readable top-20 ranks, grouped layer control) are checked on the
`siteplan run` map, the one a bureau opens first.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import test_browser as tb

from siteplan.core.errors import SiteplanWarning

pytestmark = pytest.mark.browser

browser = tb.browser  # the same fixture: one Chromium per module


@pytest.fixture(scope="module")
def taiyuan():
    from siteplan.pipeline import DEMO_STUDY, run_study

    with pytest.warns(SiteplanWarning, match="repaired 1 invalid geometry"):
        return run_study(DEMO_STUDY)


@pytest.fixture(scope="module")
def run_out(taiyuan, tmp_path_factory) -> dict[str, Path]:
    """`siteplan run`'s outputs with the study's defaults (what `write_outputs` does unasked)."""
    from siteplan.outputs.writers import write_outputs

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        return write_outputs(taiyuan, tmp_path_factory.mktemp("run"), formats=["html", "gpkg"])


def _opens_offline(browser, path: Path, n_parcels: int) -> tb.Opened:
    o = tb.open_offline(browser, path)
    assert o.requests == [], o.requests[:3]
    assert o.errors == [], o.errors[:3]
    assert o.page.locator("path.sp-parcel").count() == n_parcels
    return o


def test_run_map_is_offline_by_default(browser, taiyuan, run_out):
    assert taiyuan.study.outputs.offline is True
    _opens_offline(browser, run_out["map"], len(taiyuan.parcels)).page.close()


def test_map_command_redraw_is_offline_by_default(browser, taiyuan, run_out, tmp_path):
    from siteplan.outputs.writers import maps_from_results

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        paths = maps_from_results(run_out["gpkg"], tmp_path)
    _opens_offline(browser, paths["map"], len(taiyuan.parcels)).page.close()


def test_site_map_is_offline_by_default(browser, taiyuan, tmp_path):
    from siteplan.outputs.siting import write_siting
    from siteplan.siting.study import site_study

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        paths = write_siting(site_study(taiyuan, "kindergarten", k=2), tmp_path, "kg")
    html = next(p for p in paths if p.suffix == ".html")
    o = _opens_offline(browser, html, len(taiyuan.parcels))
    assert o.page.locator(".sp-proposed-site").count() == 2
    o.page.close()


def test_batch_maps_are_offline_by_default(browser, taiyuan, tmp_path, monkeypatch):
    """`siteplan batch`'s own study runner, serial, with the pipeline's analysis reused."""
    import siteplan.pipeline
    from siteplan.batch import run_batch

    monkeypatch.setattr(siteplan.pipeline, "run_study", lambda study: taiyuan)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        report = run_batch([siteplan.pipeline.DEMO_STUDY], tmp_path, n_workers=0, xlsx=False)
    assert report.exit_code == 0
    maps = [p for p in tmp_path.rglob("*.html") if p.parent != tmp_path]
    assert len(maps) == 1
    _opens_offline(browser, maps[0], len(taiyuan.parcels)).page.close()


def test_cdn_only_when_asked(capsys, run_out, tmp_path):
    """``--cdn`` (or ``--online``) is the only way to a map that links Leaflet's CDN."""
    from siteplan.cli import main
    from siteplan.outputs.maps.assets import LEAFLET_CDN_JS

    offline = run_out["map"].read_text(encoding="utf-8")
    assert LEAFLET_CDN_JS not in offline and "L.map(" in offline
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        with pytest.raises(SystemExit) as exc:
            main(["map", str(run_out["gpkg"]), "--out", str(tmp_path), "--cdn", "-q"])
    assert exc.value.code in (0, None), capsys.readouterr()
    online = next(tmp_path.glob("*.html")).read_text(encoding="utf-8")
    assert LEAFLET_CDN_JS in online
