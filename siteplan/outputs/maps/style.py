"""Map-only words, colours and value formatting shared by the web map and the static map.

Every word comes from the project's one label table (:func:`siteplan.core.labels.label`,
which holds the map's layer, basemap and legend words too); this module adds colours, symbols
and the value formatters.  The value formatters are vectorised
(pandas string methods, no Python loop per parcel) and return HTML-escaped text, because
everything they format ends up in the web page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from siteplan.core.columns import p_top_columns
from siteplan.core.errors import InputError
from siteplan.core.labels import has_label, label

# One hue per facility class (catchments use the same hue) and a one- or two-letter symbol so
# classes stay distinguishable in grey print and for colour-blind readers.
CLASS_STYLE: dict[str, tuple[str, str]] = {
    "kindergarten": ("#e7298a", "K"),
    "primary_school": ("#1f78b4", "P"),
    "middle_school": ("#6a3d9a", "M"),
    "high_school": ("#b15928", "H"),
    "hospital": ("#e31a1c", "+"),
    "clinic": ("#fb6a4a", "C"),
    "bus_stop": ("#33a02c", "B"),
    "metro_station": ("#ff7f00", "S"),
    "park": ("#4daf4a", "G"),
    "elderly_care": ("#a6761d", "E"),
}
OTHER_STYLE = ("#555555", "•")
# Transport proxies (siteplan.facilities.proxies): points sampled along bus routes and metro track, drawn
# as small dots rather than symbols, like any class without a symbol of its own.
PROXY_STYLE: dict[str, str] = {"bus_corridor": "#66c2a4", "metro_line": "#fd8d3c"}
CLASS_ORDER = tuple(CLASS_STYLE)
SEED_CLASSES = ("kindergarten", "primary_school", "middle_school")

EXCLUDED_COLOUR = "#9e9e9e"
# ColorBrewer RdYlBu (5 classes): diverging and colour-blind safe, low scores red, high blue.
SCORE_STOPS = ("#d7191c", "#fdae61", "#ffffbf", "#abd9e9", "#2c7bb6")
BLIND_COLOUR = "#b10026"
RANK_COLOUR = "#1b3a6b"
# Outline of the parcels meeting all three seed radii (ColorBrewer RdYlGn's dark green).
COMPLIANCE_COLOUR = "#1a9850"


def group_label(group: str, key: str, suffix: str = "", lang: str = "both") -> str:
    """Join a map word and a class name in each language, e.g. ``服务范围：幼儿园 (300 m)``.

    The result, not escaped, is ``服务范围：幼儿园 (300 m) / Catchment: Kindergarten (300 m)``
    for ``lang="both"`` (each language kept together; one of them when both read the same),
    else the ``"zh"`` or ``"en"`` half.
    """
    zh = f"{label(group, 'zh')}：{label(key, 'zh')}{suffix}"
    en = f"{label(group, 'en')}: {label(key, 'en')}{suffix}"
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return en if zh == en else f"{zh} / {en}"


def class_colour(cls: str) -> str:
    """Return the ``#rrggbb`` colour of a facility class (grey for a class without a style)."""
    return PROXY_STYLE.get(cls) or CLASS_STYLE.get(cls, OTHER_STYLE)[0]


def blind_colour(cls: str) -> str:
    """Return the colour of a class's blind spots: the class's own (one colour when unknown)."""
    return class_colour(cls) if cls else BLIND_COLOUR


def has_symbol(cls: str) -> bool:
    """Whether the class has its own map symbol (else it is drawn as small dots)."""
    return cls in CLASS_STYLE


def class_symbol(cls: str) -> str:
    """Return the one- or two-letter map symbol of a facility class (``•`` if it has none)."""
    return CLASS_STYLE.get(cls, OTHER_STYLE)[1]


def class_sort_key(cls: str) -> tuple[int, str]:
    """Seed classes first, then the docs/design.md order, then anything else alphabetically."""
    return (CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER), cls)


def _hex_to_rgb(colours: tuple[str, ...]) -> np.ndarray:
    return np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=float)


def score_lut() -> np.ndarray:
    """101 ``#rrggbb`` colours for scores 0, 1, ..., 100 (linear between the stops)."""
    stops = _hex_to_rgb(SCORE_STOPS)
    at = np.linspace(0.0, 100.0, len(stops))
    x = np.arange(101, dtype=float)
    rgb = np.rint(np.column_stack([np.interp(x, at, stops[:, k]) for k in range(3)])).astype(int)
    return np.array([f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb], dtype=object)


def score_colours(score: pd.Series | np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """``#rrggbb`` per parcel: the score ramp, grey where excluded or not scored."""
    s = pd.to_numeric(pd.Series(np.asarray(score)), errors="coerce").to_numpy(dtype=float,
                                                                             na_value=np.nan)
    ok = np.isfinite(s) & ~np.asarray(excluded, dtype=bool)
    idx = np.clip(np.rint(np.where(ok, s, 0.0)), 0, 100).astype(int)
    return np.where(ok, score_lut()[idx], EXCLUDED_COLOUR)


# ----------------------------------------------------------------------------- value formatting
# Every formatter returns an object Series of HTML-escaped strings, None where there is no value
# (the popup leaves that row out).


def escape(values: pd.Series) -> pd.Series:
    """HTML-escape a Series of text (vectorised ``html.escape``); missing values stay None."""
    s = values.astype("string")
    out = (s.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
           .str.replace(">", "&gt;", regex=False).str.replace('"', "&quot;", regex=False)
           .str.replace("'", "&#x27;", regex=False))
    return out.astype(object).where(out.notna(), None)


def fmt_text(values: pd.Series) -> pd.Series:
    """Escaped text; empty strings count as missing."""
    out = escape(values)
    return out.where(out.astype("string").fillna("").str.strip() != "", None)


def fmt_number(values: pd.Series, decimals: int = 1, unit: str = "") -> pd.Series:
    """Format numbers with fixed decimals (``12.5``) and a unit; non-numbers and NaN are missing."""
    x = pd.to_numeric(values, errors="coerce").astype(float)
    ok = np.isfinite(x.to_numpy(na_value=np.nan))
    text = pd.Series(np.char.mod(f"%.{decimals}f", np.where(ok, x.to_numpy(na_value=0.0), 0.0)),
                     index=values.index, dtype=object)
    if unit:
        text = text + unit
    return text.where(ok, None)


def fmt_value(values: pd.Series) -> pd.Series:
    """Format raw values of any kind for a popup.

    Numbers to about 3 significant digits (2362, 298.1, 0.97; trailing zeros dropped),
    booleans as 是/yes, anything else as escaped text.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return fmt_bool(values)
    if pd.api.types.is_numeric_dtype(values.dtype):
        size = np.abs(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float,
                                                                      na_value=np.nan))
        by_size = [fmt_number(values, d).astype("string") for d in (0, 1, 2)]
        text = by_size[2].where(size < 10, by_size[1].where(size < 100, by_size[0]))
        text = text.str.replace(r"(\.\d*?)0+$", r"\1", regex=True).str.rstrip(".")
        text = text.str.replace(r"^-0$", "0", regex=True)
        return text.astype(object).where(text.notna(), None)
    return fmt_text(values)


def both_languages(p: pd.DataFrame, col: str) -> pd.Series:
    """Return ``中文 / English`` from a text column ``col`` and its ``col_zh`` sibling.

    Either may be empty (then the other alone is returned); not escaped.
    """
    en = p[col].astype("string").fillna("").str.strip()
    if f"{col}_zh" not in p:
        return en
    zh = p[f"{col}_zh"].astype("string").fillna("").str.strip()
    both = zh + " / " + en
    return both.where((zh != "") & (en != ""), zh + en)


def fmt_bool(values: pd.Series) -> pd.Series:
    """``✓ 是 / yes`` or ``✗ 否 / no``; missing stays missing."""
    yes = "✓ " + label("yes")
    no = "✗ " + label("no")
    flag = values.astype("boolean")
    out = pd.Series(np.where(flag.fillna(False).to_numpy(dtype=bool), yes, no), index=values.index,
                    dtype=object)
    return out.where(flag.notna().to_numpy(), None)


def as_cells(values: pd.Series | np.ndarray) -> np.ndarray:
    """Object array for the page: missing values (None, NaN, NA) become None (JSON null)."""
    arr = np.asarray(values, dtype=object).copy()
    arr[pd.isna(arr)] = None
    return arr


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# ----------------------------------------------------------------------------- popups and legend

# (name, English label, 中文 label, weight); weight NaN when unknown.
CriterionMeta = tuple[str, str, str, float]


def criteria_meta(criteria: Any, parcels: pd.DataFrame) -> list[CriterionMeta]:
    """Criterion names, labels and weights for the popups.

    ``criteria`` is a :class:`siteplan.study.model.Study`, a sequence of ``(name, label_en,
    label_zh, weight)``, or None: every ``X`` with both ``X_raw`` and ``X_points`` columns, in
    column order, labelled from :mod:`siteplan.core.labels` and without a weight.
    """
    if criteria is None:
        names = [c[:-4] for c in map(str, parcels.columns)
                 if c.endswith("_raw") and f"{c[:-4]}_points" in parcels.columns]
        return [(n, label(n, "en"), label(n, "zh"), float("nan")) for n in names]
    if hasattr(criteria, "criteria") and hasattr(criteria, "weights_vector"):
        weights = criteria.weights_vector()
        out = []
        for c in criteria.criteria:
            # Unlabelled criteria are named after what they measure.
            default, kind = c.name, getattr(c, "kind", "")
            cls = getattr(c, "facility_class", None) or getattr(c, "class_", None)
            radius = getattr(c, "radius_m", None)
            if cls and kind == "distance":
                default = f"dist_{cls}_m"
            elif cls and kind == "count" and radius:
                default = f"n_{cls}_{radius:g}m"
            elif kind == "geometry" and has_label(str(getattr(c, "measure", ""))):
                default = str(c.measure)
            elif kind == "life_circle":
                default = f"lc_{c.circle}_share"
            en = c.label or label(default, "en")
            zh = c.label_zh or label(default, "zh")
            out.append((c.name, en, zh, float(weights.get(c.name, float("nan")))))
        return out
    out = []
    for i, item in enumerate(criteria):
        if not (isinstance(item, Sequence) and len(item) == 4):
            raise InputError(f"criteria[{i}] is {item!r}, not (name, label_en, label_zh, weight).",
                             where="make_map(criteria=...)",
                             fix="pass the study, or a list of 4-tuples.")
        name, en, zh, w = item
        out.append((str(name), str(en), str(zh), float(w)))
    return out


def _criterion_rows(p: pd.DataFrame, crit: list[CriterionMeta]) -> list[tuple[str, pd.Series]]:
    """Return ``(label, values)`` popup rows of the criteria: raw value → points, and weight."""
    rows: list[tuple[str, pd.Series]] = []
    for name, en, zh, w in crit:
        raw = fmt_value(p[f"{name}_raw"]) if f"{name}_raw" in p else None
        pts = fmt_number(p[f"{name}_points"], 1) if f"{name}_points" in p else None
        if raw is None and pts is None:
            continue
        raw = raw if raw is not None else pd.Series("–", index=p.index, dtype=object)
        text = raw.fillna("–") + (" → " + pts.fillna("–") if pts is not None else "")
        lab = f"{zh} / {en}" if zh and zh != en else en
        if np.isfinite(w):
            lab += f" ({label('weight')} {100 * w:.0f}%)"
        rows.append((lab, text))
    return rows


def _life_circle_rows(p: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """Popup rows of life-circle completeness (siteplan.access.lifecircle) per checklist."""
    rows: list[tuple[str, pd.Series]] = []
    for n in (c[3:-6] for c in p.columns if re.fullmatch(r"lc_[a-z0-9]+_share", c)):
        rows.append((label(f"lc_{n}_share"), fmt_number(p[f"lc_{n}_share"] * 100, 0, " %")))
        rows += [(label(f"lc_{n}_{w}"), fmt_text(both_languages(p, f"lc_{n}_{w}")))
                 for w in ("present", "missing")]
    return rows


def _robustness_rows(p: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """Popup rows of rank robustness (siteplan.scoring.robustness): P(top N), rank interval."""
    tops = p_top_columns(p.columns)
    if not tops or "rank_low" not in p or "rank_high" not in p:
        return []
    interval = (fmt_number(p["rank_low"], 0) + " – " + fmt_number(p["rank_high"], 0))
    return [(label(tops[0]), fmt_number(p[tops[0]] * 100, 0, " %")),
            (label("rank_interval"), interval.where(p["rank_low"].notna(), None))]


def parcel_popup(p: pd.DataFrame,
                 crit: list[CriterionMeta]) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Return the popup rows for parcels and their value columns.

    Returns ``head`` (``{"l": label, "k": column}`` rows and ``{"s": title}`` sections, labels
    escaped once per layer) and ``cols`` (one array of escaped values per row, None where a
    parcel has no value: the row is left out of its popup).  ``p`` needs ``_excluded``.
    """
    head: list[dict[str, Any]] = []
    cols: list[np.ndarray] = []

    def row(lab: str, values: pd.Series) -> None:
        head.append({"l": _esc(lab), "k": len(cols)})
        cols.append(as_cells(values))

    def section(key: str) -> None:
        head.append({"s": _esc(label(key))})

    row(label("rank"), fmt_number(p["rank"], 0) if "rank" in p else pd.Series(None, p.index))
    row(label("score"), fmt_number(p["score"], 1))
    if "exclusion_reason" in p:
        reason = both_languages(p, "exclusion_reason")
        row(label("popup_exclusion_reason"), fmt_text(reason.where(p["_excluded"])))
    for key, rows in (("section_criteria", list(_criterion_rows(p, crit)) if crit else []),
                      ("section_robustness", _robustness_rows(p)),
                      ("section_life_circle", _life_circle_rows(p))):
        if rows:
            section(key)
            for lab, text in rows:
                row(lab, text)
    meets = sorted((c for c in p.columns if re.fullmatch(r"meets_.+_radius", c)),
                   key=lambda c: class_sort_key(c[6:-7]))
    flags = meets + [c for c in ("compliant_all",) if c in p]
    if flags or "compliance_required" in p:
        section("section_compliance")
        for c in flags:
            row(label(c), fmt_bool(p[c]))
        if "compliance_required" in p:
            row(label("popup_compliance_required"),
                fmt_text(both_languages(p, "compliance_required")))
    required = [c for c in p.columns if c.startswith(("est_", "required_"))]
    if required:
        section("section_programme")
        for c in required:
            row(label(c), fmt_value(p[c]))
    dists = sorted((c for c in p.columns if re.fullmatch(r"dist_.+_m", c)),
                   key=lambda c: class_sort_key(c[5:-2]))
    if dists:
        section("section_distance")
        for c in dists:
            row(label(c), fmt_number(p[c], 0, " m"))
    return head, cols


def legend_html(top_n: int, has_excluded: bool, fac: list[str], catch: list[str],
                blind: list[str], has_boundary: bool, proposed_colour: str | None = None,
                notes: Sequence[str] = ()) -> str:
    """Return the web map's legend as HTML: score ramp, then one row per layer drawn.

    ``top_n`` is 0 when no rank labels are drawn; ``fac``, ``catch`` and ``blind`` are the
    classes with facilities, catchments and blind spots on the map; ``proposed_colour`` is None without proposed sites;
    ``notes`` are data gaps the reader must know (thin facility layers), shown last.
    """
    e = _esc
    ticks = "".join(f"<span>{v}</span>" for v in (0, 25, 50, 75, 100))
    parts = [f"<h4>{e(label('legend_score'))}</h4>",
             f'<div class="sp-ramp" style="background:linear-gradient(to right,'
             f'{",".join(SCORE_STOPS)})"></div><div class="sp-ticks">{ticks}</div>']

    def swatch(style: str, text: str) -> str:
        return f'<div><span class="sp-sw" style="{style}"></span>{e(text)}</div>'

    if has_excluded:
        parts.append(swatch(f"background:{EXCLUDED_COLOUR};border-style:dashed",
                            label("layer_excluded")))
    if top_n:
        parts.append(swatch(f"background:{RANK_COLOUR};border-radius:6px",
                            label("layer_ranks").format(n=top_n)))
    classes = sorted(set(fac) | set(catch), key=class_sort_key)
    if classes:
        # One row per class: its facility symbol and its catchment swatch side by side.
        parts.append(f"<h4>{e(label('legend_classes'))}</h4>")
        for c in classes:
            colour = class_colour(c)
            sym = ""
            if c in fac and has_symbol(c):
                sym = f'<span class="sp-sym" style="background:{colour}">{e(class_symbol(c))}</span>'
            elif c in fac:
                sym = f'<span class="sp-sym sp-dot" style="background:{colour}"></span>'
            else:
                sym = '<span class="sp-sym" style="background:none"></span>'
            area = f'<span class="sp-sw" style="background:{colour}22;border-color:{colour}">' \
                '</span>' if c in catch else '<span class="sp-sw" style="border:none"></span>'
            parts.append(f"<div>{sym}{area}{e(label(c))}</div>")
    if blind:
        parts.append(f"<h4>{e(label('layer_blind_spots'))}</h4>")
        for c in blind:
            colour = blind_colour(c)
            parts.append(swatch(f"background:{colour}59;border:2px dashed {colour}",
                                label(c) if c else label("layer_blind_spots")))
    if proposed_colour:
        parts.append(f'<div><span class="sp-sym" style="background:{proposed_colour}">★</span>'
                     f'{e(label("layer_proposed_sites"))}</div>')
        parts.append(swatch(f"background:{proposed_colour}1f;border:2px dashed {proposed_colour}",
                            label("layer_proposed_catchments")))
    if has_boundary:
        parts.append(swatch("background:none;border:2px dashed #222",
                            label("layer_boundary")))
    proxies = [c for c in classes if c in PROXY_STYLE]
    # What the reader must know before trusting a layer: thin layers, proxies.
    if notes:
        parts.append(f"<h4>{e(label('thin_layer'))}</h4>")
        parts += [f'<div class="sp-note">{e(n)}</div>' for n in notes]
    if proxies:
        parts.append(f"<h4>{e(label('data_gaps'))}</h4>")
        parts += [f'<div class="sp-note">{e(label(c))}: {e(label("proxy_note"))}</div>'
                  for c in proxies]
    return "".join(parts)


def compliance_legend(parcels: pd.DataFrame, counts: pd.DataFrame | None = None) -> str:
    """Return the legend's seed-compliance lines: parcels within each radius, and within all.

    From ``counts`` (:func:`siteplan.scoring.compliance.compliance_counts`, over every parcel
    of the run) when given, else from the parcels' ``meets_<class>_radius`` and
    ``compliant_all`` columns; empty when there are neither.
    """
    if counts is not None:
        rows = [(str(r["rule"]), int(r["n_meeting"]), int(r["n_parcels"]))
                for r in counts.to_dict("records")]
    else:
        cols = [c for c in parcels.columns if re.fullmatch(r"meets_.+_radius", str(c))]
        cols += ["compliant_all"] if cols and "compliant_all" in parcels else []
        flags = {c: parcels[c].astype("boolean").fillna(False).to_numpy(dtype=bool)
                 for c in cols}
        rows = [(c[6:-7] if c != "compliant_all" else "all", int(f.sum()), len(parcels))
                for c, f in flags.items()]
    if not rows:
        return ""
    lines = [f"<h4>{_esc(label('legend_compliance'))}</h4>"]
    for rule, k, n in rows:
        name = label("compliance_all") if rule == "all" else label(rule)
        share = f" ({100 * k / n:.1f} %)" if n else ""
        lines.append(f"<div>{_esc(name)}: {k:,} / {n:,}{share}</div>")
    return "".join(lines)
