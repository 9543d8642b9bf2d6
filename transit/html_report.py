"""``report.html``: the run's report as one self-contained page (no network, no external files).

Rendered from the files of a run folder alone (``report.md``, ``priorities.csv``, ``axes.csv``,
``zone_pairs.csv``, ``run.json``, ``network.gpkg``), so ``transit report RUN_DIR`` can render
any run folder again; ``write_outputs`` renders it for every run. What it holds:

- the report's text and tables (converted from ``report.md``; its own Markdown subset:
  headings, paragraphs, lists, tables, bold, code, links and images, which are embedded);
- the ranked projects with their English and Chinese names;
- an interactive map drawn as inline SVG (no tile server): the base rail and road network,
  the candidate projects (the chosen ones by rank), the zones coloured by the change in their
  demand-weighted generalized cost; wheel or buttons to zoom, drag to pan, a click on a
  project opens its card;
- inline SVG charts of each axis before and after and of the budget ladder.

The page is deterministic (same run folder, same bytes). Chinese labels use the browser's
fonts (Debian: ``fonts-noto-cjk``); English names are always shown beside them.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from matplotlib import colormaps

from networks.atomic import atomic_write_text
from transit.maps import (ATTRIBUTION, CELL_RADIUS_KM, clip_to_box, change_classes, city_boundaries, class_colour,
                          class_legend, geometries, internal_borders, load_boundaries, province_borders, zone_areas,
                          zone_change)

__all__ = ["render_report_html", "write_report_html"]

_CSS = """
body{font-family:"Noto Sans","Noto Sans CJK SC","Helvetica Neue",Arial,sans-serif;max-width:1180px;margin:2em auto;
padding:0 1em;color:#1c2833;line-height:1.45}
h1{font-size:1.7em;border-bottom:2px solid #2c3e50}h2{margin-top:1.6em;border-bottom:1px solid #d5d8dc}
table{border-collapse:collapse;margin:.8em 0;font-size:.86em}th,td{border:1px solid #d5d8dc;padding:3px 7px}
th{background:#eaf2f8;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#f8f9f9}code{background:#f4f6f6;padding:0 3px}
img{max-width:100%}#mapbox{position:relative;border:1px solid #aab7b8;background:#d6eaf8}
#map{width:100%;height:640px;cursor:grab;display:block}#map:active{cursor:grabbing}
#card{position:absolute;top:10px;right:10px;width:300px;background:#fff;border:1px solid #566573;
box-shadow:0 2px 6px rgba(0,0,0,.25);padding:8px 10px;font-size:.85em;display:none}
#card h3{margin:.1em 0 .4em;font-size:1.05em}.controls{position:absolute;left:10px;top:10px}
.controls button{display:block;width:30px;height:30px;margin-bottom:4px;font-size:18px}
.legend{font-size:.8em;color:#424949}.key{display:inline-block;width:.9em;height:.9em;margin:0 .2em 0 .5em;vertical-align:middle;border:1px solid #aaa}.proj{cursor:pointer}.proj:hover{stroke-width:6}
"""

_JS = """
(function(){const svg=document.getElementById('map');const vb0=svg.getAttribute('viewBox').split(' ').map(Number);
let vb=vb0.slice();function set(){svg.setAttribute('viewBox',vb.join(' '));}
function zoom(f,cx,cy){const nx=cx-(cx-vb[0])*f,ny=cy-(cy-vb[1])*f;vb=[nx,ny,vb[2]*f,vb[3]*f];set();}
function pt(e){const r=svg.getBoundingClientRect();return[vb[0]+(e.clientX-r.left)/r.width*vb[2],
vb[1]+(e.clientY-r.top)/r.height*vb[3]];}
svg.addEventListener('wheel',e=>{e.preventDefault();const p=pt(e);zoom(e.deltaY>0?1.2:1/1.2,p[0],p[1]);},{passive:false});
let drag=null;svg.addEventListener('mousedown',e=>{drag=[e.clientX,e.clientY,vb[0],vb[1]];});
window.addEventListener('mouseup',()=>{drag=null;});
svg.addEventListener('mousemove',e=>{if(!drag)return;const r=svg.getBoundingClientRect();
vb[0]=drag[2]-(e.clientX-drag[0])/r.width*vb[2];vb[1]=drag[3]-(e.clientY-drag[1])/r.height*vb[3];set();});
document.getElementById('zin').onclick=()=>zoom(1/1.5,vb[0]+vb[2]/2,vb[1]+vb[3]/2);
document.getElementById('zout').onclick=()=>zoom(1.5,vb[0]+vb[2]/2,vb[1]+vb[3]/2);
document.getElementById('zreset').onclick=()=>{vb=vb0.slice();set();};
const card=document.getElementById('card');
function el(tag,text){const n=document.createElement(tag);if(text!==undefined)n.textContent=text;return n;}
document.querySelectorAll('.proj').forEach(p=>p.addEventListener('click',e=>{e.stopPropagation();
const d=p.dataset;card.replaceChildren(el('h3',d.name),el('div',d.zh));const t=el('table');
['id','status','rank','mode','cost','lead','axes'].forEach(k=>{const r=el('tr');r.append(el('th',k),el('td',d[k]));
t.append(r);});card.append(t);card.style.display='block';}));
svg.addEventListener('click',()=>{card.style.display='none';});})();
"""


# ------------------------------------------------------------------------------ Markdown subset
def _inline(text: str, folder: Path) -> str:
    def image(m: re.Match) -> str:
        alt, src = m.group(1), m.group(2)
        path = folder / src
        if path.is_file() and path.suffix.lower() == ".png":
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        return html.escape(alt)

    parts = re.split(r"(!\[[^\]]*\]\([^)]+\))", text)
    out = []
    for part in parts:
        m = re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", part)
        if m:
            out.append(image(m))
            continue
        s = html.escape(part, quote=False)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
        s = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", _link, s)
        out.append(s)
    return "".join(out)


def _link(m: re.Match) -> str:
    """A Markdown link: web and relative targets only (no ``javascript:`` or other schemes)."""
    text, target = m.group(1), m.group(2)
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", html.unescape(target))
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        return text
    return f'<a href="{target}">{text}</a>'


def _cell(value: str, folder: Path) -> str:
    numeric = re.fullmatch(r"[-+]?[\d,]*\.?\d+(e[-+]?\d+)?\s*%?", value.strip(), re.I) is not None
    return f'<td class="n">{_inline(value, folder)}</td>' if numeric else f"<td>{_inline(value, folder)}</td>"


def markdown_to_html(text: str, folder: Path) -> str:
    """The Markdown of ``report.md`` (headings, paragraphs, lists, tables, inline marks) as HTML."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = re.match(r"^(#{1,4})\s+(.*)$", line)
        if m:
            level = len(m.group(1))
            out.append(f"<h{level}>{_inline(m.group(2), folder)}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            header, body = rows[0], [r for r in rows[1:] if not all(re.fullmatch(r":?-+:?", c) for c in r)]
            out.append("<table><thead><tr>" + "".join(f"<th>{_inline(c, folder)}</th>" for c in header)
                       + "</tr></thead><tbody>"
                       + "".join("<tr>" + "".join(_cell(c, folder) for c in r) + "</tr>" for r in body)
                       + "</tbody></table>")
        elif re.match(r"^\s*[-*]\s+", line):
            items = []
            while i < len(lines) and re.match(r"^\s*[-*]\s+", lines[i]):
                item = re.sub(r"^\s*[-*]\s+", "", lines[i])
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip() \
                        and not re.match(r"^\s*[-*]\s+", lines[i]):
                    item += " " + lines[i].strip()
                    i += 1
                items.append(f"<li>{_inline(item, folder)}</li>")
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            para = [line.strip()]
            i += 1
            while i < len(lines) and lines[i].strip() and not re.match(r"^(#{1,4}\s|\s*[-*]\s|\s*\|)", lines[i]):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{_inline(' '.join(para), folder)}</p>")
    return "\n".join(out)


# ------------------------------------------------------------------------------ map
def _xy(lon: np.ndarray, lat: np.ndarray, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    return lon * math.cos(math.radians(lat0)) * 100, -lat * 100  # equirectangular, 1 unit ~ 1 km


def _svg_runs(lines: np.ndarray, lat0: float, *, close: bool) -> str:
    """SVG path data of line strings or rings (``M x y L x y ...``, ``Z`` after each ring with
    ``close``), their coordinates formatted in one pass (no per-geometry NumPy calls)."""
    if not len(lines):
        return ""
    xy, which = shapely.get_coordinates(lines, return_index=True)
    counts = np.bincount(which, minlength=len(lines))
    x, y = _xy(xy[:, 0], xy[:, 1], lat0)
    points = [f"{a:.1f} {b:.1f}" for a, b in zip(x.tolist(), y.tolist())]
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    tail = "Z" if close else ""
    return " ".join("M" + " L".join(points[a:b]) + tail
                    for a, b, c in zip(starts, ends, counts.tolist()) if close or c >= 2)


def _path(geoms: Any, lat0: float) -> str:
    """SVG path data of (multi)line strings; parts with fewer than two points are left out."""
    parts = shapely.get_parts(np.asarray(list(geoms), dtype=object))
    return _svg_runs(parts, lat0, close=False)


def _poly_path(geoms: Any, lat0: float) -> str:
    """SVG path data of polygons (every ring closed; draw with fill-rule evenodd)."""
    parts = shapely.get_parts(np.asarray(list(geoms), dtype=object))
    polygons = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    return _svg_runs(shapely.get_rings(polygons), lat0, close=True)


def _map_svg(folder: Path, priorities: pd.DataFrame) -> str:
    from networks.gpkg import read_gpkg

    gpkg = folder / "network.gpkg"
    layers = {name: read_gpkg(gpkg, name) for name in ("rail", "road", "zones", "projects_candidates")}
    zones = layers["zones"]
    lon, lat = shapely.get_x(geometries(zones)), shapely.get_y(geometries(zones))
    lat0 = float(lat.mean())
    x, y = _xy(lon, lat, lat0)
    pad = 40.0
    x0, x1, y0, y1 = x.min() - pad, x.max() + pad, y.min() - pad, y.max() + pad
    change = zone_change(pd.read_csv(folder / "zone_pairs.csv"))
    pct = {z: float(v) for z, v in change.items()}
    rank = {r.project: r.rank for r in priorities.itertuples() if str(r.in_optimal_set) == "yes"}
    w, s, e, n = shapely.total_bounds(geometries(zones))
    view = shapely.box(w - 0.6, s - 0.5, e + 0.6, n + 0.5)
    base = load_boundaries()
    land = clip_to_box(base["land"], view)
    cells = zone_areas(zones, land=land, counties=base["counties"])
    classes = change_classes(colormaps["Greens"])
    borders = province_borders(clip_to_box(base["provinces"], view), land)
    parts = [f'<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.1f} {y0:.1f} {x1 - x0:.1f} '
             f'{y1 - y0:.1f}" preserveAspectRatio="xMidYMid meet" role="img" '
             'aria-label="Network, projects and zones">',
             f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" fill="#d6eaf8"/>',
             f'<path class="land" d="{_poly_path(land.geometry, lat0)}" fill="#fbfaf5" fill-rule="evenodd" '
             'stroke="#7fb3d5" stroke-width="0.5"/>']
    for row, cell in zip(zones.itertuples(), cells.geometry):
        value = pct.get(row.zone, float("nan"))
        label = f"{row.name_en} {row.name_zh}: " + (f"{value:+.2f} % generalized cost" if math.isfinite(value)
                                                    else "not in the objective's pairs")
        parts.append(f'<path class="zone" d="{_poly_path([cell], lat0)}" fill="{class_colour(value, classes)}" '
                     f'fill-rule="evenodd" fill-opacity="0.9" stroke="#ffffff" stroke-width="0.4">'
                     f'<title>{html.escape(label)}</title></path>')
    cities = clip_to_box(city_boundaries(base["counties"]), view) if len(base["counties"]) else base["counties"]
    if len(cities):
        parts.append(f'<path class="city" d="{_path([internal_borders(cities)], lat0)}" fill="none" stroke="#566573" '
                     'stroke-width="0.7"/>')
    parts += [f'<path d="{_poly_path(clip_to_box(base["lakes"], view).geometry, lat0)}" fill="#d6eaf8" fill-rule="evenodd" '
              'stroke="#7fb3d5" stroke-width="0.3"/>',
              f'<path class="border" d="{_path([borders], lat0)}" fill="none" stroke="#6c3483" stroke-width="1" '
              'stroke-dasharray="6 3"/>',
              f'<path d="{_path(layers["road"].geometry, lat0)}" fill="none" stroke="#e59866" stroke-width="0.6"/>',
              f'<path d="{_path(layers["rail"].geometry, lat0)}" fill="none" stroke="#34495e" stroke-width="0.9"/>']
    for (zx, zy) in zip(x, y):
        parts.append(f'<circle cx="{zx:.1f}" cy="{zy:.1f}" r="1.6" fill="#17202a"/>')
    for row in clip_to_box(base["provinces"], view).itertuples():
        point = row.geometry.representative_point()
        px, py = _xy(np.array([point.x]), np.array([point.y]), lat0)
        if x0 < px[0] < x1 and y0 < py[0] < y1:
            parts.append(f'<text x="{px[0]:.1f}" y="{py[0]:.1f}" font-size="14" fill="#7d3c98" fill-opacity="0.6" '
                         f'text-anchor="middle">{html.escape(f"{row.name_zh} {row.name_en}")}</text>')
    candidates = layers["projects_candidates"]
    order = sorted(range(len(candidates)), key=lambda k: bool(candidates["selected"].iloc[k]))  # chosen on top
    for k in order:
        row = candidates.iloc[k]
        chosen = bool(row["selected"])
        attrs = {"id": row["project"], "name": row["name_en"], "zh": row["name_zh"] or "", "mode": row["mode"],
                 "cost": f"{row['cost_bn_cny']:.1f} bn CNY", "lead": row["lead_member"], "axes": row["axes"],
                 "status": "chosen" if chosen else "candidate not chosen", "rank": rank.get(row["project"], "-")}
        data = " ".join(f'data-{k}="{html.escape(str(v))}"' for k, v in attrs.items())
        style = ('stroke="#c0392b" stroke-width="3.2"' if chosen else
                 'stroke="#5dade2" stroke-width="1.6" stroke-dasharray="5 3"')
        parts.append(f'<path class="proj" {data} d="{_path([row.geometry], lat0)}" fill="none" {style}>'
                     f'<title>{html.escape(str(attrs["rank"]))}. {html.escape(row["name_en"])}</title></path>')
        if chosen:
            gx, gy = _xy(np.array([row.geometry.coords[0][0]]), np.array([row.geometry.coords[0][1]]), lat0)
            parts.append(f'<text x="{gx[0]:.1f}" y="{gy[0] - 4:.1f}" font-size="9" fill="#922b21">'
                         f'{html.escape(str(attrs["rank"]))}</text>')
    parts.append("</svg>")
    keys = "".join(f'<span class="key" style="background:{colour}"></span>{html.escape(label)} '
                   for label, colour in class_legend(classes))
    kinds = cells["area_source"].value_counts()
    how = "Zone areas are their county's (or city's) administrative boundary"
    if kinds.get("boundary share", 0):
        how += (f"; {kinds['boundary share']} zone(s) that are not divisions (development zones) get the part of "
                "their county nearest to them")
    if kinds.get("voronoi", 0):
        how += (f"; {kinds['voronoi']} zone(s) without a shipped boundary are Voronoi areas within "
                f"{CELL_RADIUS_KM:g} km of their centroid, not administrative boundaries")
    legend = ('<p class="legend">Rail (dark), roads (orange), province borders (dashed purple), city (prefecture) '
              'boundaries (grey), candidate projects (dashed blue), chosen projects (red, numbered by rank). Zones '
              f'coloured by the change in the demand-weighted generalized cost of their trips: {keys}. {how}; all '
              f'clipped to the land. {html.escape(ATTRIBUTION)}</p>')
    return ('<div id="mapbox">' + "".join(parts) + '<div class="controls"><button id="zin" title="zoom in">+</button>'
            '<button id="zout" title="zoom out">&minus;</button><button id="zreset" title="reset">&#8634;</button>'
            '</div><div id="card"></div></div>' + legend)


# ------------------------------------------------------------------------------ charts
def _bars_svg(axes: pd.DataFrame) -> str:
    """Each axis's demand-weighted door-to-door minutes, before (grey) and after (red)."""
    n = len(axes)
    width, row_h, left = 1000, 26, 470
    top = max(axes["weighted_min_base"].max(), axes["weighted_min_opt"].max())
    scale = (width - left - 150) / top if top > 0 else 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_h * n + 30}" role="img" '
           'aria-label="Axes before and after">']
    for k, row in enumerate(axes.itertuples()):
        y = 10 + k * row_h
        out.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(str(row.name_en))[:72]}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{row.weighted_min_base * scale:.1f}" height="10" fill="#aab7b8"/>')
        out.append(f'<rect x="{left}" y="{y + 11}" width="{row.weighted_min_opt * scale:.1f}" height="10" '
                   'fill="#c0392b"/>')
        out.append(f'<text x="{left + row.weighted_min_base * scale + 4:.1f}" y="{y + 19}" font-size="11">'
                   f'{row.weighted_min_base:.1f} &#8594; {row.weighted_min_opt:.1f} min</text>')
    out.append("</svg>")
    return "".join(out)


def _ladder_svg(record: dict[str, Any]) -> str:
    """Saving against budget along the ladder (each point solved exactly)."""
    results = record.get("ladder", {}).get("results", [])
    if not results:
        return ""
    b = np.array([r["budget"] for r in results], float)
    s = np.array([r["saving"] for r in results], float)
    width, height, pad = 620, 260, 50
    bx = (width - 2 * pad) / max(b.max(), 1e-9)
    sy = (height - 2 * pad) / max(s.max(), 1e-9)
    pts = " ".join(f"{pad + x * bx:.1f},{height - pad - y * sy:.1f}" for x, y in zip([0, *b], [0, *s]))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           'aria-label="Budget ladder">',
           f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#566573"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#566573"/>',
           f'<polyline points="{pts}" fill="none" stroke="#1f618d" stroke-width="2"/>']
    for x, y, r in zip(b, s, results):
        out.append(f'<circle cx="{pad + x * bx:.1f}" cy="{height - pad - y * sy:.1f}" r="3.5" fill="#1f618d">'
                   f'<title>{x:g} bn CNY: saving {y:,.0f} ({r["status"]}, gap {r["gap"]:.1e})</title></circle>')
    out.append(f'<text x="{width / 2}" y="{height - 12}" font-size="12" text-anchor="middle">budget, bn CNY '
               f'(0 to {b.max():g})</text>')
    out.append(f'<text x="12" y="{pad - 12}" font-size="12">saving (max {s.max():,.0f} generalized min/day)</text>')
    out.append("</svg>")
    return "".join(out)


def _projects_table(priorities: pd.DataFrame) -> str:
    cols = [("rank", "rank"), ("project", "id"), ("name_en", "name"), ("name_zh", "名称"), ("mode", "mode"),
            ("cost_bn_cny", "cost bn CNY"), ("lead_member", "lead member"), ("axes", "axes"),
            ("enters_at_budget", "enters at budget"), ("npv_bn_cny", "NPV bn CNY"), ("in_optimal_set", "chosen")]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
    body = []
    for row in priorities.itertuples(index=False):
        cells = []
        for col, _ in cols:
            value = getattr(row, col)
            if isinstance(value, float):
                cells.append(f'<td class="n">{"" if math.isnan(value) else f"{value:,.1f}"}</td>')
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="projects"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def render_report_html(folder: str | Path) -> str:
    """The self-contained HTML report of the run folder ``folder``."""
    folder = Path(folder)
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    priorities = pd.read_csv(folder / "priorities.csv")
    axes = pd.read_csv(folder / "axes.csv")
    r = record["result"]
    body = markdown_to_html((folder / "report.md").read_text(encoding="utf-8"), folder)
    title = "YRD transport integration: investment priorities"
    status = ("proved optimal by CP-SAT" if r["status"] == "OPTIMAL" else f"{r['status']} (not proved optimal)")
    summary = (f'<p id="status"><strong>{html.escape(status)}</strong>: objective {r["objective"]:,.0f}, bound '
               f'{r["bound"]:,.0f}, gap {r["gap"]:.2e}; {len(r["selected"])} project(s) for {r["cost"]:,.1f} of '
               f'{r["budget"]:,.1f} bn CNY.</p>')
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{title}</title><style>{_CSS}</style></head><body>'
            f"<h1>{title}</h1>{summary}"
            f'<h2>Map</h2>{_map_svg(folder, priorities)}'
            f'<h2>Projects, ranked (名称: Chinese names)</h2>{_projects_table(priorities)}'
            f'<h2>Axes before and after</h2>{_bars_svg(axes)}'
            f'<h2>Budget ladder</h2>{_ladder_svg(record)}'
            f'<h2>Full report</h2>{body}'
            f"<script>{_JS}</script></body></html>\n")


def write_report_html(folder: str | Path) -> Path:
    """Render ``report.html`` into the run folder (atomically)."""
    path = Path(folder) / "report.html"
    atomic_write_text(path, render_report_html(folder))
    return path
