"""Checks across sections of a study: problems no single table can see on its own.

A criterion's class exists, the AHP matrix matches the criteria, the search limit covers every
walking distance used, ...  Each problem is ``(key, value, what, fix)`` with a dotted key such as
``criteria[2].class``; :mod:`siteplan.study.errors` turns them into one ConfigError.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from siteplan.core.errors import ConfigError
from siteplan.core.i18n import _
from siteplan.facilities.rules import CLASSES, PROXY_CLASSES
from siteplan.study.ahp import (
    MAX_CONSISTENCY_RATIO,
    RANDOM_INDEX,
    ahp_weights,
    check_pairwise_matrix,
)
from siteplan.study.criteria import DistanceCriterion, NetworkCriterion
from siteplan.study.transforms import IdealRangeTransform, LinearTransform, StepTransform

if TYPE_CHECKING:
    from siteplan.study.tables import StudyTables

Problem = tuple[str, Any, str, str]


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """Suggest the closest choice: ``' (did you mean "x"?)'``, or ``''`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return _(' (did you mean "{choice}"?)').format(choice=close[0]) if close else ""


def _class_problems(study: StudyTables, known: list[str]) -> list[Problem]:
    """Find unknown facility classes and network criteria without a radius."""
    out: list[Problem] = []
    for i, c in enumerate(study.criteria):
        cls_name = c.facility_class
        if cls_name is None:
            continue
        if cls_name not in known:
            out.append((f"criteria[{i}].class", cls_name,
                        _("unknown facility class") + did_you_mean(cls_name, known),
                        _("use one of {choices}, or declare it in [classes.{name}].").format(
                            choices=", ".join(known), name=cls_name)))
            continue
        needs_radius = (c.kind == "distance" and c.transform is None) or c.kind == "access_2sfca"
        if needs_radius and study.criterion_radius(c) is None:
            if c.kind == "distance":
                what = _("needs a radius: the default transform scores 100 within it")
                fix = _("add radius_m = ... to the criterion or to [classes.{name}], or give "
                        "a transform.")
            else:
                what = _("needs a catchment radius")
                fix = _("add radius_m = ... to the criterion or to [classes.{name}].")
            out.append((f"criteria[{i}].radius_m", None, what, fix.format(name=cls_name)))
    for cls_name in study.compliance.radii:
        if cls_name not in known:
            out.append((f"compliance.radii.{cls_name}", cls_name,
                        _("unknown facility class") + did_you_mean(cls_name, known),
                        _("use one of {choices}.").format(choices=", ".join(known))))
    return out


def _unused_class_problems(study: StudyTables) -> list[Problem]:
    """Find class tables nothing uses whose name is close to a known class (a typo).

    A ``[classes.kindergarden]`` table would otherwise be accepted and silently ignored, while
    the kindergarten radius stays the default.
    """
    used = set(study.facility_classes()) | {
        layer.class_ for layer in study.inputs.layers if layer.class_ is not None}
    known = [*CLASSES, *PROXY_CLASSES]
    out: list[Problem] = []
    for name in study.classes:
        if name in used or name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        if close:
            out.append((f"classes.{name}", name,
                        _("no criterion, [compliance] radius or facility layer uses this class")
                        + did_you_mean(name, close),
                        _("rename the table [classes.{name}], or remove it.").format(
                            name=close[0])))
    return out


def _weight_problems(study: StudyTables) -> list[Problem]:
    """Find missing direct weights, or a bad or inconsistent AHP matrix."""
    out: list[Problem] = []
    n = len(study.criteria)
    if study.weights.method == "direct":
        for i, c in enumerate(study.criteria):
            if c.weight is None:
                out.append((f"criteria[{i}].weight", None,
                            _("criterion {name!r} has no weight").format(name=c.name),
                            _("give every criterion weight = <positive number> (they are "
                              'normalised to sum 1), or set [weights] method = "ahp".')))
        return out
    for i, c in enumerate(study.criteria):
        if c.weight is not None:
            out.append((f"criteria[{i}].weight", c.weight,
                        _('a direct weight is given but [weights] method is "ahp"'),
                        _('remove the weight (AHP derives it) or set method = "direct".')))
    m = study.weights.matrix
    if m is None:
        out.append(("weights.matrix", None, _('method = "ahp" needs a pairwise matrix'),
                    _("add matrix = [[...], ...] with {n} rows of {n} numbers in criteria "
                      "order.").format(n=n)))
        return out
    if len(m) != n or any(len(row) != n for row in m):
        shape = _("{rows} rows of lengths {lengths}").format(
            rows=len(m), lengths=sorted({len(r) for r in m}))
        out.append(("weights.matrix", shape,
                    _("the matrix must be {n} x {n}, one row and column per criterion").format(
                        n=n),
                    _("write {n} rows of {n} numbers, in the order the criteria are "
                      "listed.").format(n=n)))
        return out
    if n == 0:
        return out
    if n not in RANDOM_INDEX:
        out.append(("weights.matrix", f"{n} x {n}", _("AHP is limited to 15 criteria"),
                    _('use method = "direct" or group criteria.')))
        return out
    for problem in check_pairwise_matrix(m):
        out.append(("weights.matrix", m, problem,
                    _("a pairwise matrix is positive with ones on the diagonal and "
                      "a_ji = 1/a_ij.")))
    if out:
        return out
    res = ahp_weights(m)
    if res.consistency_ratio > MAX_CONSISTENCY_RATIO and not study.weights.allow_inconsistent:
        out.append(("weights.matrix", f"CR = {res.consistency_ratio:.3f}",
                    _("the judgements are inconsistent: consistency ratio {ratio:.3f} > "
                      "{limit} (Saaty)").format(ratio=res.consistency_ratio,
                                               limit=MAX_CONSISTENCY_RATIO),
                    _("revise the comparisons, or set allow_inconsistent = true to accept "
                      "them.")))
    return out


def _constraint_problems(study: StudyTables) -> list[Problem]:
    """Find constraints on unknown criteria, with values of the wrong kind, or without data."""
    out: list[Problem] = []
    names = [c.name for c in study.criteria]
    for i, k in enumerate(study.constraints):
        if k.criterion is not None and k.criterion not in names:
            out.append((f"constraints[{i}].criterion", k.criterion,
                        _("no criterion has this name") + did_you_mean(k.criterion, names),
                        _("use one of {choices}, or column = ...").format(
                            choices=", ".join(names) or _("(no criteria defined)"))))
        if k.criterion is not None or k.measure is not None:
            if not isinstance(k.value, int | float) or isinstance(k.value, bool):
                out.append((f"constraints[{i}].value", k.value,
                            _("a criterion or measure is numeric, so the value must be a "
                              "number"), _("write a number, e.g. 25.")))
        if k.is_distance(study.criteria):
            if k.column is not None and (not isinstance(k.value, int | float)
                                         or isinstance(k.value, bool)):
                out.append((f"constraints[{i}].value", k.value,
                            _("a walking distance or time is numeric, so the value must be a "
                              "number"), _("write a number, e.g. 1000.")))
            if "missing" in k.model_fields_set:
                out.append((f"constraints[{i}].missing", k.missing,
                            _("a missing walking distance means nothing is reachable within "
                              "[network] search_limit_m and always compares as infinitely far"),
                            _("remove missing from this constraint.")))
        if k.builtin == "inside_hazard" and not study.inputs.hazards:
            out.append((f"constraints[{i}].builtin", k.builtin,
                        _("no hazard layers are configured"),
                        _('list them in [inputs] hazards = ["flood.gpkg", ...].')))
    return out


def _transform_reach(t: object) -> float | None:
    """Return the farthest breakpoint of a distance transform (None when it has none)."""
    if isinstance(t, LinearTransform):
        return max(t.best, t.worst)
    if isinstance(t, StepTransform):
        return max(th for th, _ in t.steps)
    if isinstance(t, IdealRangeTransform):
        return t.zero_above if t.zero_above is not None else t.high
    return None


def distances_in_use(study: StudyTables) -> list[tuple[str, float]]:
    """List ``(key, metres)`` of every walking distance the study compares with.

    Those are the radii of the classes it uses (service, count, compliance, criteria), ring
    cutoffs in ``rings`` mode, breakpoints of distance transforms and thresholds of distance
    constraints.
    """
    out: list[tuple[str, float]] = []
    for cls in study.facility_classes():
        fc = study.classes.get(cls)
        if fc is None:
            continue
        if fc.radius_m is not None:
            key = "life_circle" if fc.life_circle is not None else "radius_m"
            out.append((f"classes.{cls}.{key}", fc.radius_m))
        if fc.count_radii_m:
            out.append((f"classes.{cls}.count_radii_m", max(fc.count_radii_m)))
    out += [(f"compliance.radii.{cls}", r) for cls, r in study.compliance.radii.items()]
    for i, c in enumerate(study.criteria):
        if isinstance(c, NetworkCriterion) and c.radius_m is not None:
            out.append((f"criteria[{i}].radius_m", c.radius_m))
        reach = _transform_reach(c.transform) if isinstance(c, DistanceCriterion) else None
        if reach is not None:
            out.append((f"criteria[{i}].transform", reach))
    if study.catchments.mode == "rings" and study.catchments.rings_m:
        out.append(("catchments.rings_m", max(study.catchments.rings_m)))
    for i, k in enumerate(study.constraints):
        if not k.is_distance(study.criteria) or not isinstance(k.value, int | float) \
                or isinstance(k.value, bool):
            continue
        metres = float(k.value)
        if k.column is not None and k.column.startswith("time_"):
            metres *= 60.0 * study.network.speed_mps  # minutes at the study's walking speed
        out.append((f"constraints[{i}].value", metres))
    return out


def _search_limit_problems(study: StudyTables) -> list[Problem]:
    """Find walking distances beyond the search limit.

    Distances beyond ``search_limit_m`` are never computed (NaN), so a radius above it silently
    fails every parcel (a 1000 m radius with a 400 m limit: nobody is within it).
    """
    limit = study.network.search_limit_m
    over = [(key, d) for key, d in distances_in_use(study) if d > limit]
    if not over:
        return []
    shown = ", ".join(f"{key} = {d:g} m" for key, d in over)
    need = max(d for _, d in over)
    return [("network.search_limit_m", limit,
             _("the search limit is shorter than walking distances the study uses ({shown}); "
               "distances beyond the limit are not computed (NaN), so no parcel could be "
               "within them").format(shown=shown),
             _("set [network] search_limit_m = {need:g} or more, or lower the distances "
               "listed.").format(need=need))]


def _robustness_problems(study: StudyTables) -> list[Problem]:
    """Refuse Saaty-step robustness without AHP judgements to vary."""
    rob = study.robustness
    if rob is not None and rob.method == "saaty_step" and study.weights.method != "ahp":
        return [("robustness.method", "saaty_step",
                 'varying AHP judgements needs [weights] method = "ahp" and its matrix',
                 'set method = "weights" (each weight moved within weight_bound) or give the '
                 "AHP matrix.")]
    return []


def _scenario_problems(study: StudyTables) -> list[Problem]:
    """Refuse scenarios naming unknown criteria, twice the same name, or AHP weights."""
    out: list[Problem] = []
    names = [c.name for c in study.criteria]
    seen: set[str] = set()
    for i, sc in enumerate(study.scenarios):
        if sc.name in seen:
            out.append((f"scenarios[{i}].name", sc.name, "another scenario has this name",
                        "give every scenario a distinct name (it names output columns)."))
        seen.add(sc.name)
        if study.weights.method != "direct":
            out.append((f"scenarios[{i}].weights", sc.name,
                        'scenarios vary direct weights; [weights] method is "ahp"',
                        "compare AHP variants as separate study files (siteplan compare A B)."))
        for key in sc.weights:
            if key not in names:
                out.append((f"scenarios[{i}].weights.{key}", key,
                            f"no criterion of this name{did_you_mean(key, names)}",
                            f"use criterion names: {', '.join(names)}."))
    return out


def cross_check(study: StudyTables) -> list[Problem]:
    """List all problems that involve more than one section of ``study``."""
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, c in enumerate(study.criteria):
        if c.name in seen:
            out.append((f"criteria[{i}].name", c.name,
                        _("criteria[{index}] already has this name").format(index=seen[c.name]),
                        _("give every criterion a distinct name (it names output columns).")))
        seen.setdefault(c.name, i)
        raster = getattr(c, "raster", None)
        if raster is not None and raster not in study.inputs.rasters:
            have = list(study.inputs.rasters)
            out.append((f"criteria[{i}].raster", raster,
                        _("no raster of this name in [inputs.rasters]")
                        + did_you_mean(raster, have),
                        _('add {name} = "path/to/file.tif" under [inputs.rasters].').format(
                            name=raster)))
    # The classes of the naming contract (docs/design.md) and those the study declares.
    known = sorted(set(CLASSES) | set(study.classes))
    out += _class_problems(study, known)
    out += _unused_class_problems(study)
    out += _weight_problems(study)
    out += _constraint_problems(study)
    out += _search_limit_problems(study)
    out += _robustness_problems(study)
    out += _scenario_problems(study)
    return out


#: The study table (for messages) of each input :func:`require_inputs` can ask for.
_INPUT_TABLES = {"streets": "[inputs] streets", "parcels": "[inputs.parcels]",
                 "facilities": "[inputs] facilities", "residential": "[inputs] residential"}


def require_inputs(study: StudyTables, names: tuple[str, ...], task: str) -> None:
    """Refuse a study that lacks inputs ``task`` needs, before any data is read.

    Parameters
    ----------
    study
        The study.
    names
        The inputs needed, among ``streets``, ``parcels``, ``facilities``, ``residential``.
    task
        What needs them (``"siteplan run"``), for the message.

    Raises
    ------
    ConfigError
        Naming every missing input and the table that gives it.

    Examples
    --------
    >>> from siteplan import ConfigError, Study
    >>> study = Study.model_validate({"study": {"name": "demo"},
    ...                               "inputs": {"streets": "roads.gpkg"}})
    >>> try:
    ...     require_inputs(study, ("streets", "parcels"), "siteplan run")
    ... except ConfigError as err:
    ...     print(err.what)
    ...     print(err.fix)
    siteplan run needs candidate parcels, and the study has no [inputs.parcels].
    add [inputs.parcels] with path = "parcels.gpkg" and id_column = "parcel_id" (siteplan parcels makes street blocks from the streets).
    """
    missing = [n for n in names if getattr(study.inputs, n) is None]
    if not missing:
        return
    words = {"streets": _("street lines"), "parcels": _("candidate parcels"),
             "facilities": _("facility features"), "residential": _("residential land")}
    fixes = {"streets": _('add streets = "streets.gpkg" (or an .osm/.osm.pbf file) to '
                          "[inputs]"),
             "parcels": _('add [inputs.parcels] with path = "parcels.gpkg" and id_column = '
                          '"parcel_id" (siteplan parcels makes street blocks from the '
                          "streets)"),
             "facilities": _('add facilities = "features.gpkg" to [inputs]'),
             "residential": _('add residential = "residential.gpkg" to [inputs]')}
    raise ConfigError(
        _("{task} needs {what}, and the study has no {tables}.").format(
            task=task, what=_(" and ").join(words[n] for n in missing),
            tables=_(" or ").join(_INPUT_TABLES[n] for n in missing)),
        where=study.source_path or _("study config"),
        fix=_("; ").join(fixes[n] for n in missing) + _("."))
