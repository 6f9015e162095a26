"""The README's Python tour runs as written, from the facade."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tour_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = text[text.index("## A tour of the Python API"):]
    tour = tour[:tour.index("\n## ", 5)]
    return re.findall(r"```python\n(.*?)```", tour, flags=re.S)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::siteplan.core.errors.SiteplanWarning")  # the demo's notes
def test_the_readme_tour_runs_as_written(monkeypatch):
    blocks = _tour_blocks()
    assert len(blocks) == 2 and all("import siteplan as sp" in b for b in blocks)
    assert not any("from siteplan." in b for b in blocks)  # the facade, not module paths
    monkeypatch.chdir(ROOT)
    first: dict[str, object] = {}
    exec(compile(blocks[0], "README tour 1", "exec"), first)
    written = first["written"]
    assert {"csv", "xlsx", "gpkg", "map", "png"} <= set(written)  # type: ignore[arg-type]
    assert all(Path(p).resolve().parent == ROOT / "maps" / "tour"
               for p in written.values())  # type: ignore[attr-defined]
    second: dict[str, object] = {}
    exec(compile(blocks[1], "README tour 2", "exec"), second)
    assert set(second["acc"].table.columns) >= {  # type: ignore[attr-defined]
        "dist_kindergarten_m", "n_primary_school_500m", "nearest_middle_school_id"}
    assert len(second["polys"]) > 0  # type: ignore[arg-type]
