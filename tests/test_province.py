"""A province as a batch: the summary tables and index map against each city run on its own."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_batch import real_studies  # noqa: F401  (the fixture: two tiny cities and a broken one)

from siteplan.batch import run_batch
from siteplan.pipeline import run_study
from siteplan.scoring.compliance import compliance_counts


# As test_batch's real-studies test: no Tianditu key, no kindergarten, one repaired polygon.
@pytest.mark.filterwarnings("ignore:no Tianditu key:siteplan.core.errors.SiteplanWarning")
@pytest.mark.filterwarnings(
    "ignore:.*the facility data has no kindergarten facilities:siteplan.core.errors.SiteplanWarning")
@pytest.mark.filterwarnings(
    "ignore:.*areas.geojson. repaired 1 invalid geometry:siteplan.core.errors.SiteplanWarning")
def test_province_summary_equals_each_city_run_alone(real_studies, tmp_path):  # noqa: F811
    out = tmp_path / "province"
    batch = run_batch(real_studies, out, n_workers=0)
    assert [o.ok for o in batch.outcomes] == [True, True, False]
    coverage = pd.read_csv(out / "province_coverage.csv", encoding="utf-8-sig")
    compliance = pd.read_csv(out / "province_compliance.csv", encoding="utf-8-sig")
    # The failed city has no rows; the others are in study order.
    assert coverage["study"].unique().tolist() == [o.folder for o in batch.outcomes[:2]]
    for outcome, path in zip(batch.outcomes[:2], real_studies[:2], strict=True):
        alone = run_study(path)
        rows = coverage[coverage["study"] == outcome.folder].reset_index(drop=True)
        expected = alone.coverage.reset_index(drop=True)
        assert rows["class"].tolist() == expected["class"].tolist()
        assert rows["study_name"].eq(alone.study.study.name).all()
        for col in ("n_units", "n_units_served", "n_parcels", "n_parcels_served"):
            assert rows[col].tolist() == expected[col].tolist(), col
        for col in ("units_served_share", "residents_served_share", "area_served_share"):
            np.testing.assert_allclose(rows[col], expected[col].astype(float), atol=5e-5,
                                       err_msg=col)
        counts = compliance_counts(alone.parcels, alone.study.compliance.radii)
        mine = compliance[compliance["study"] == outcome.folder].reset_index(drop=True)
        assert mine["rule"].tolist() == counts["rule"].tolist()
        assert mine["n_meeting"].tolist() == counts["n_meeting"].tolist()
        assert mine["n_candidates_meeting"].tolist() == counts["n_candidates_meeting"].tolist()
        # In memory, the outcome carries the city's table as computed.
        pd.testing.assert_frame_equal(outcome.coverage.reset_index(drop=True), expected)
        assert outcome.extent is not None
        west, south, east, north = outcome.extent
        bounds = alone.parcels.to_crs(4326).total_bounds
        np.testing.assert_allclose([west, south, east, north], bounds, rtol=0, atol=1e-9)
    assert (compliance["rule"] == "all").sum() == 2
    # One index map: a shaded, linked box per city, the failed one listed with its reason.
    page = (out / "province_map.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)"><rect', page)
    assert links == [Path(o.map_html).relative_to(out).as_posix() for o in batch.outcomes[:2]]
    assert all((out / link).exists() for link in links)
    assert page.count("<rect") == 2 and "no_parcels.gpkg" in page
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org", "")
    assert batch.files["province_map_html"] == out / "province_map.html"
