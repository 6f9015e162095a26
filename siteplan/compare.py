"""Scenario comparison: one study's parcels ranked under several weightings, network built once.

``siteplan compare BASE.toml VARIANT.toml ...`` takes studies that differ only in what they
score (criteria, transforms, weights, constraints, class radii, programme, robustness) and share
their data (``[inputs]``, ``[crs]``, ``[network]``): the inputs are read, the walking network
built and the facilities classified once (from the first study), access measured once for the
union of the classes and count radii all scenarios need, and each scenario then only scores and
ranks.  The table has one row per parcel:

- ``rank_<scenario>`` and ``score_<scenario>`` for each scenario (NaN rank: excluded there);
- ``rank_change_<scenario>``: the rank under that scenario minus the rank under the first
  (negative: the parcel moves up);
- ``rank_best``, ``rank_worst``: its best and worst rank over the scenarios;
- ``top_all``: in the top N under every scenario (the robust part of the shortlist).

Rows are in the order of the first scenario's ranks.  Scenario names are the study files'
stems and the names of their ``[[scenarios]]`` (weight variants of one study), made unique.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from siteplan.access.distances import facility_access
from siteplan.access.lifecircle import life_circle_completeness
from siteplan.core.errors import ConfigError
from siteplan.core.outputset import plan_outputs, staged_outputs
from siteplan.core.progress import Progress, Steps
from siteplan.facilities.lifecircle import life_circle_facilities
from siteplan.outputs.shortlist import shortlist_csv_bytes
from siteplan.pipeline import checked_parcels, prepare, release_lines
from siteplan.scoring.robustness import study_robustness
from siteplan.scoring.score import assess_parcels
from siteplan.study.checks import require_inputs
from siteplan.study.model import Study, load_study

#: The study tables scenarios must share: the data and the network they are computed on.
SHARED_TABLES = ("inputs", "crs", "network")


@dataclass
class Comparison:
    """What :func:`compare_studies` computed.

    Attributes
    ----------
    table
        One row per parcel (module docstring).
    scenarios
        The scenario names, in the order given (the first is the baseline).
    top_n
        The N of ``top_all``.
    timings
        Seconds per step.
    """

    table: pd.DataFrame
    scenarios: list[str]
    top_n: int
    timings: dict[str, float] = field(default_factory=dict)

    def top_all(self) -> pd.DataFrame:
        """Return the parcels in the top N under every scenario, by baseline rank."""
        return self.table[self.table["top_all"]]


def _names(studies: Sequence[Study]) -> list[str]:
    names: list[str] = []
    for i, s in enumerate(studies):
        stem = Path(s.source_path).stem if s.source_path else f"scenario{i + 1}"
        stem = re.sub(r"\W+", "_", stem).strip("_") or f"scenario{i + 1}"
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}_{k}", k + 1
        names.append(name)
    return names


def scenarios_of(studies: Sequence[Study]) -> list[tuple[str, Study]]:
    """Name the scenarios: each study (its file's stem), then its ``[[scenarios]]`` variants.

    A variant is the study with the scenario's weights replacing those of the criteria it
    names (direct weights; the study's checks refuse the rest).

    Examples
    --------
    >>> from siteplan import Study
    >>> study = Study.model_validate({"study": {"name": "s"}, "criteria": [
    ...     {"name": "kg_walk", "kind": "distance", "class": "kindergarten", "weight": 1},
    ...     {"name": "size", "kind": "geometry", "measure": "area_ha", "weight": 1,
    ...      "transform": {"type": "linear", "best": 5, "worst": 1}}],
    ...     "scenarios": [{"name": "kids_first", "weights": {"kg_walk": 3}}]})
    >>> [(name, s.weights_vector()["kg_walk"]) for name, s in scenarios_of([study])]
    [('scenario1', 0.5), ('kids_first', 0.75)]
    """
    out: list[tuple[str, Study]] = []
    for name, study in zip(_names(studies), studies, strict=True):
        out.append((name, study))
        for sc in study.scenarios:
            criteria = [c.model_copy(update={"weight": sc.weights.get(c.name, c.weight)})
                        for c in study.criteria]
            out.append((sc.name, study.model_copy(update={"criteria": criteria,
                                                          "scenarios": []})))
    taken: set[str] = set()
    unique: list[tuple[str, Study]] = []
    for name, study in out:  # a scenario named like a study file gets a suffix
        new, k = name, 2
        while new in taken:
            new, k = f"{name}_{k}", k + 1
        taken.add(new)
        unique.append((new, study))
    return unique


def check_comparable(studies: Sequence[Study]) -> None:
    """Refuse scenarios that do not share their data and network (:data:`SHARED_TABLES`)."""
    if len(studies) < 2:
        raise ConfigError("compare needs at least two scenarios.", where="siteplan compare",
                          fix="give two or more study files (siteplan compare A.toml B.toml), or "
                          "add [[scenarios]] to the study.")
    base = studies[0].model_dump(mode="json", include=set(SHARED_TABLES))
    for s in studies[1:]:
        other = s.model_dump(mode="json", include=set(SHARED_TABLES))
        differ = [t for t in SHARED_TABLES if base.get(t) != other.get(t)]
        if differ:
            raise ConfigError(
                f"the study differs from {studies[0].source_path or 'the first study'} in "
                f"[{'], ['.join(differ)}]; scenarios must share their data and network.",
                where=s.source_path or "study config",
                fix="copy those tables from the first study, or run the studies separately "
                "(siteplan batch).")


def compare_studies(studies: Sequence[Study | str | Path], *, top_n: int | None = None,
                    progress: Progress | None = None) -> Comparison:
    """Rank one set of parcels under several scenarios, computing the network once.

    Parameters
    ----------
    studies
        Studies or study files sharing ``[inputs]``, ``[crs]`` and ``[network]``, each followed
        by its ``[[scenarios]]`` (:func:`scenarios_of`); the first is the baseline.
    top_n
        The N of ``top_all``; the first study's ``[outputs] top_n`` by default.
    progress
        Called as ``progress(step, "start" | "done")`` around each step.

    Returns
    -------
    Comparison
        The per-parcel table of ranks, scores and rank changes (module docstring).

    Raises
    ------
    ConfigError
        Fewer than two scenarios, or studies on different data or networks.

    Examples
    --------
    The demo study against a variant that weighs only the walk to primary school:

    >>> import warnings
    >>> from siteplan import SiteplanWarning, compare_studies, load_study
    >>> base = load_study("data/taiyuan/study.toml")
    >>> variant = base.model_copy(update={
    ...     "criteria": [c for c in base.criteria if c.name == "primary_school_walk"]})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", SiteplanWarning)
    ...     cmp = compare_studies([base, variant], top_n=10)
    >>> cmp.scenarios
    ['study', 'study_2']
    >>> int(cmp.table["rank_study"].iloc[0]), len(cmp.table) == len(cmp.table["parcel_id"].unique())
    (1, True)
    """
    named = scenarios_of([s if isinstance(s, Study) else load_study(s) for s in studies])
    loaded = [s for _, s in named]
    check_comparable(loaded)
    base = loaded[0]
    require_inputs(base, ("streets", "parcels"), "siteplan compare")
    step = Steps(progress)
    inp = prepare(base, step)
    cfg = base.network
    with step("parcels"):
        parcels = checked_parcels(base, inp)
        release_lines(inp)
    with step("access"):
        classes = sorted({c for s in loaded for c in s.facility_classes()})
        radii = {c: sorted({r for s in loaded for r in s.count_radii(c)}) for c in classes}
        access = facility_access(
            inp.network, parcels, inp.facilities, classes=classes, count_radii=radii,
            search_limit_m=cfg.search_limit_m, max_snap_m=cfg.max_snap_m,
            target_point=cfg.parcel_point, facility_point=cfg.facility_point,
            speed_mps=cfg.speed_mps)
        parcels = parcels.join(access.table)
    if any(s.uses_life_circles() for s in loaded):
        with step("life circles"):
            # prepare() collects them only when the first study measures life circles.
            life = inp.life_circle if inp.life_circle is not None else life_circle_facilities(
                inp.facilities)
            parcels = parcels.join(life_circle_completeness(
                inp.network, parcels, life, target_point=cfg.parcel_point,
                facility_point=cfg.facility_point, max_snap_m=cfg.max_snap_m))
    names = [name for name, _ in named]
    n = top_n or base.outputs.top_n
    cols: dict[str, object] = {"parcel_id": parcels["parcel_id"].to_numpy()}
    with step("scenarios"):
        for name, s in zip(names, loaded, strict=True):
            scored = assess_parcels(parcels, s, net=inp.network, facilities=inp.facilities,
                                    demand=inp.residential, hazards=inp.hazards)
            cols[f"rank_{name}"] = scored["rank"].to_numpy(dtype=float, na_value=np.nan)
            cols[f"score_{name}"] = scored["score"].to_numpy(dtype=float)
            if s.robustness is not None:
                rob = study_robustness(scored, s)
                for c in rob.columns:
                    cols[f"{c}_{name}"] = rob[c].to_numpy()
    return Comparison(_table(cols, names, n), names, n, step.timings)


def _table(cols: dict[str, object], names: list[str], top_n: int) -> pd.DataFrame:
    table = pd.DataFrame(cols)
    ranks = table[[f"rank_{m}" for m in names]].to_numpy(dtype=float)
    first = ranks[:, 0]
    for j, m in enumerate(names[1:], start=1):
        table[f"rank_change_{m}"] = ranks[:, j] - first
    best = np.where(np.isnan(ranks), math.inf, ranks).min(axis=1)
    worst = np.where(np.isnan(ranks), -math.inf, ranks).max(axis=1)
    table["rank_best"] = np.where(np.isinf(best), np.nan, best)
    table["rank_worst"] = np.where(np.isinf(worst), np.nan, worst)
    table["top_all"] = (np.nan_to_num(ranks, nan=math.inf) <= top_n).all(axis=1)
    for c in [c for c in table.columns if c.startswith("rank_")]:  # whole ranks, <NA> if none
        table[c] = pd.array(table[c].to_numpy(dtype=float), dtype="Float64").astype("Int64")
    order = np.lexsort((table["parcel_id"].astype(str).to_numpy(),
                        np.nan_to_num(first, nan=math.inf)))
    return table.iloc[order].reset_index(drop=True)


#: The file :func:`write_comparison` writes.
COMPARE_CSV = "compare.csv"


def plan_comparison(out_dir: str | Path, studies: Sequence[str | Path] = ()) -> None:
    """Check the comparison's output before any work (folder writable, no input overwritten)."""
    plan_outputs(out_dir, [COMPARE_CSV], inputs=studies)


def write_comparison(cmp: Comparison, out_dir: str | Path) -> Path:
    """Write the comparison table to ``<out_dir>/compare.csv`` (UTF-8 with BOM, atomically)."""
    plan = plan_outputs(out_dir, [COMPARE_CSV])
    with staged_outputs(plan) as stage:
        (stage / COMPARE_CSV).write_bytes(shortlist_csv_bytes(cmp.table))
    return Path(out_dir) / COMPARE_CSV


def comparison_text(cmp: Comparison, rows: int = 10) -> str:
    """Summarise a comparison for the terminal: scenarios, the parcels in every top N."""
    top = cmp.top_all()
    lines = [f"{len(cmp.scenarios)} scenarios: {', '.join(cmp.scenarios)} "
             f"(baseline {cmp.scenarios[0]})",
             f"{len(top)} parcel(s) in the top {cmp.top_n} under every scenario"]
    ranks = [f"rank_{m}" for m in cmp.scenarios]
    for _, r in top.head(rows).iterrows():
        shown = ", ".join(f"{m} {int(r[c])}" for m, c in zip(cmp.scenarios, ranks, strict=True))
        lines.append(f"  {r['parcel_id']}: {shown}")
    moved = cmp.table.dropna(subset=ranks)
    if len(cmp.scenarios) > 1 and len(moved):
        spread = (moved["rank_worst"] - moved["rank_best"]).to_numpy()
        lines.append(f"median rank spread over the scenarios: {float(np.median(spread)):g} "
                     f"(largest {float(spread.max()):g})")
    return "\n".join(lines)


__all__ = [
    "COMPARE_CSV", "SHARED_TABLES", "Comparison", "check_comparable", "compare_studies",
    "comparison_text", "plan_comparison", "scenarios_of", "write_comparison",
]
