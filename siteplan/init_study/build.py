"""A new city in one command: a complete study folder from OSM data (``siteplan init``).

:func:`init_study` reads the city (:mod:`siteplan.init_study.sources`), makes candidate
parcels of its street blocks (:func:`city_blocks`), surveys what the data holds
(:mod:`siteplan.init_study.survey`) and writes, into one folder, ``osm.gpkg`` (the lines and
the features), ``parcels.gpkg``, ``REPORT.md`` (what the data has and lacks) and
``study.toml`` (:mod:`siteplan.init_study.template`), which ``siteplan run`` runs with no
edits.  :func:`make_parcels` writes the blocks alone (``siteplan parcels``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siteplan.core.atomic import check_writable_dir, write_text_atomic
from siteplan.core.errors import InputError
from siteplan.core.i18n import _
from siteplan.core.progress import Progress, Steps
from siteplan.init_study.blocks import DEFAULT_BLOCKS, BlockOptions, city_blocks, write_parcels
from siteplan.init_study.report import report_text
from siteplan.init_study.sources import CitySources, read_city
from siteplan.init_study.survey import Survey, survey_city
from siteplan.init_study.template import study_toml
from siteplan.outputs.writers import write_layers
from siteplan.study.model import Study


@dataclass(frozen=True)
class InitResult:
    """What ``siteplan init`` wrote and found.

    Attributes
    ----------
    study
        The ``study.toml`` written.
    files
        Every file written, by kind (``study``, ``osm``, ``parcels``, ``report``).
    survey
        What the data has and lacks.
    timings
        Seconds per step.
    """

    study: Path
    files: dict[str, Path]
    survey: Survey
    timings: dict[str, float]

    def summary(self) -> str:
        """Return what was found, chosen and written, and the next command, for the terminal."""
        survey = self.survey
        proxy = _("proxy")
        lines = [_("Parcels: {n:,} street blocks").format(n=survey.blocks.get("kept", 0)),
                 _("Classes: {classes}").format(classes=", ".join(
                     f"{c} ({survey.counts.get(c) or proxy})" for c in survey.scored_classes()))]
        lines += [_("Transport: {text}").format(text=t.explain()) for t in survey.transport]
        lines += [_("Lacks: {gap}").format(gap=gap) for gap in survey.gaps()]
        lines += [_("{kind}: {path}").format(kind=kind, path=path)
                  for kind, path in self.files.items()]
        return "\n".join([*lines, _("Next: siteplan run {study}").format(study=self.study)])


def _default_name(source: str) -> str:
    name = Path(source).name if Path(source).exists() else source
    for suffix in (".pbf", ".osm", ".gz", ".bz2", ".gpkg", ".geojson", ".shp"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".osm") or "new study"


def _write_osm(path: Path, city: CitySources, inputs: Sequence[str]) -> Path:
    layers: dict[str, pd.DataFrame] = {"lines": city.lines.to_crs("EPSG:4326")}
    if city.features is not None and len(city.features):
        layers["features"] = city.features.to_crs("EPSG:4326")
    return write_layers(path, layers, inputs=inputs)


def init_study(source: str | Path, out: str | Path, *, features: str | Path | None = None,
               name: str | None = None, crs: Any = None,
               options: BlockOptions = DEFAULT_BLOCKS, force: bool = False,
               cache_dir: str | Path = ".siteplan_cache/osm", refresh: bool = False,
               progress: Progress | None = None) -> InitResult:
    """Write a complete, commented study for a city from its OSM data.

    Parameters
    ----------
    source
        A raw OSM file (``.osm``, ``.osm.pbf``...), a line layer with OSM ``highway`` tags, or
        a place name / ``west,south,east,north`` bbox for Overpass (online, cached).
    out
        The study folder (created if needed).
    features
        OSM-like features for a line layer (facilities, land use, water).
    name
        The study's name (default: the file name or the query).
    crs
        CRS of a layer that does not declare one.
    options
        How the candidate blocks are made.
    force
        Overwrite a ``study.toml`` already in ``out``.
    cache_dir, refresh
        The Overpass cache.
    progress
        Called as ``progress(step, "start" | "done")`` around each step.

    Returns
    -------
    InitResult

    Raises
    ------
    InputError
        ``out`` already holds a study (without ``force``), or the data cannot make one.

    Examples
    --------
    >>> import tempfile
    >>> from siteplan import load_study
    >>> folder = tempfile.TemporaryDirectory()
    >>> res = init_study("tests/data/beijing_haidian_pku_tsinghua_2017.osm", folder.name)
    >>> sorted(res.files)
    ['osm', 'parcels', 'report', 'study']
    >>> [c.name for c in load_study(res.study).criteria][:3]
    ['kindergarten_walk', 'primary_school_walk', 'middle_school_walk']
    >>> [t.use for t in res.survey.transport]
    ['bus_stop', 'metro_station']
    >>> folder.cleanup()
    """
    out = check_writable_dir(out)
    study_path = out / "study.toml"
    if study_path.exists() and not force:
        raise InputError(_("the folder already holds a study.toml."), where=str(study_path),
                         fix=_("choose a new folder with --out, or pass --force to overwrite "
                               "it."))
    text_source = str(source)
    step = Steps(progress)
    with step("read OSM"):
        city = read_city(text_source, features=features, crs=crs, cache_dir=cache_dir,
                         refresh=refresh)
    with step("blocks"):
        blocks = city_blocks(city, options)
    with step("survey"):
        survey = survey_city(city, blocks.attrs["counts"])
    title = name or _default_name(text_source)
    text = study_toml(survey, name=title, source=text_source, far=options.far,
                      facilities=city.features is not None and len(city.features) > 0)
    # The study is checked before anything is written: a study init cannot run is a bug here.
    Study.model_validate(tomllib.loads(text), context={"base_dir": out}, source=str(study_path))
    inputs = [p for p in (text_source, features) if p is not None and Path(p).exists()]
    with step("write"):
        files = {"osm": _write_osm(out / "osm.gpkg", city, [str(p) for p in inputs]),
                 "parcels": write_parcels(blocks, out / "parcels.gpkg", inputs)}
        files["report"] = write_text_atomic(out / "REPORT.md", report_text(
            survey, name=title, source=text_source, kind=city.kind, options=options,
            n_blocks=len(blocks), block_ha=np.asarray(blocks["area_m2"]) / 1e4,
            outside=city.outside, repaired=city.repaired))
        files["study"] = write_text_atomic(study_path, text)  # last: no study without its data
    return InitResult(study=study_path, files=files, survey=survey, timings=step.timings)


__all__ = ["InitResult", "init_study"]
