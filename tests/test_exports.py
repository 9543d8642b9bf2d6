"""The exports of every run folder, re-read with the tools that consume them.

OMX with the openmatrix package, GMNS against the spec's required fields and the graph it came
from, the Excel workbook against the CSV tables, the GeoPackage with geopandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transit.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "run"
    assert main(["optimize", "--budget", "60", "--ladder-steps", "1", "--out", str(out)]) == 0
    return out


def test_omx_skims_reread_with_openmatrix(run_dir):
    import openmatrix as omx

    from transit.model.zones import load_zones

    pairs = pd.read_csv(run_dir / "zone_pairs.csv")
    zones = load_zones()
    with omx.open_file(str(run_dir / "skims.omx"), "r") as f:
        names = set(f.list_matrices())
        assert {"demand", "rail_door_min_base", "car_door_min_opt", "coach_door_min_base", "gc_min_base", "gc_min_opt",
                "share_rail_opt"} <= names
        assert f.shape() == (len(zones), len(zones))
        mapping = f.mapping("zone_adcode")  # adcode -> matrix index
        gc_base = np.array(f["gc_min_base"])
        gc_opt = np.array(f["gc_min_opt"])
        rail = np.array(f["rail_door_min_base"])
        demand = np.array(f["demand"])
    assert sorted(mapping) == sorted(zones["adcode"].astype(int)) and sorted(mapping.values()) == list(range(len(zones)))
    code = dict(zip(zones["zone"], zones["adcode"].astype(int)))
    # every zone pair of the objective has the values of zone_pairs.csv at its cell
    for row in pairs.sample(200, random_state=0).itertuples():
        i, j = mapping[code[row.origin]], mapping[code[row.destination]]
        assert gc_base[i, j] == pytest.approx(row.gc_min_base, rel=1e-3)
        assert gc_opt[i, j] == pytest.approx(row.gc_min_opt, rel=1e-3)
        assert rail[i, j] == pytest.approx(row.rail_door_min_base, rel=1e-3)
        assert demand[i, j] == pytest.approx(row.demand, rel=1e-3)
    assert np.isnan(np.diag(gc_base)).all()  # within a zone: outside the intercity model
    assert (gc_opt[np.isfinite(gc_opt)] <= gc_base[np.isfinite(gc_opt)] + 1e-9).all()  # projects never hurt


def test_gmns_has_the_required_fields_and_the_network(run_dir):
    from transit.config import load_config
    from transit.model import build_model
    from transit.model.zones import load_zones

    node = pd.read_csv(run_dir / "node.csv")
    link = pd.read_csv(run_dir / "link.csv")
    config = pd.read_csv(run_dir / "config.csv")
    # GMNS required fields (node: node_id, x_coord, y_coord; link: link_id, from_node_id, to_node_id, directed)
    assert {"node_id", "x_coord", "y_coord"} <= set(node.columns)
    assert {"link_id", "from_node_id", "to_node_id", "directed"} <= set(link.columns)
    assert node["node_id"].is_unique and link["link_id"].is_unique
    assert link["from_node_id"].isin(node["node_id"]).all() and link["to_node_id"].isin(node["node_id"]).all()
    assert config.loc[0, "long_length"] == "km" and config.loc[0, "speed"] == "kph"
    # the network of the chosen package, link for edge
    import json

    selected = tuple(json.loads((run_dir / "run.json").read_text())["result"]["selected"])
    G = build_model(load_config()).design_graph(selected)
    assert len(node) == G.number_of_nodes() and len(link) == G.number_of_edges()
    assert link["length"].sum() == pytest.approx(sum(d["length"] for *_, d in G.edges(data=True)) / 1000, rel=1e-6)
    assert node["zone_id"].dropna().nunique() == len(load_zones())  # an origin and a destination node per zone
    assert set(link["allowed_uses"]) == {"road", "rail", "access", "connector"}


def test_excel_workbook_holds_the_tables(run_dir):
    sheets = pd.read_excel(run_dir / "tables.xlsx", sheet_name=None)
    assert list(sheets) == ["priorities", "axes", "pairs", "zone_pairs", "appraisal", "tornado"]
    for name in ("priorities", "axes", "appraisal"):
        csv = pd.read_csv(run_dir / f"{name}.csv")
        pd.testing.assert_frame_equal(sheets[name], csv, check_dtype=False, check_exact=False, rtol=1e-4)


def test_geopackage_rereads_with_geopandas(run_dir):
    import geopandas as gpd
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(run_dir / "network.gpkg")}
    assert {"rail", "road", "stations", "zones", "projects_candidates", "projects_selected"} <= layers
    zones = gpd.read_file(run_dir / "network.gpkg", layer="zones")
    assert len(zones) == 163 and zones.crs.to_epsg() == 4326


def test_html_report_is_self_contained_and_renders_in_chromium(run_dir, tmp_path):
    """report.html needs nothing outside itself; a real headless Chromium runs it: the tables, the
    embedded images and the interactive map (project cards) are in the rendered page."""
    import re
    import shutil
    import subprocess

    from transit.html_report import render_report_html

    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page == render_report_html(run_dir)  # deterministic: `transit report` renders the same bytes
    # self-contained: no external scripts, styles, images or fonts
    assert not re.search(r'src="(https?:)?//', page) and "<link " not in page and "url(http" not in page
    assert page.count('src="data:image/png;base64,') >= 1
    assert main(["report", str(run_dir)]) == 0 and (run_dir / "report.html").read_text(encoding="utf-8") == page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium fonts-noto-cjk); the page was checked "
                    "without a browser above")
    flags = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = (run_dir / "report.html").resolve().as_uri()
    # the DOM after the page's script ran: click the first chosen project and read its card
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", "<script>document.querySelector('.proj[data-status=\"chosen\"]')"
                                             ".dispatchEvent(new MouseEvent('click',{bubbles:true}));</script></body>"),
                     encoding="utf-8")
    dom = subprocess.run([*flags, "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert '<table id="projects">' in dom and dom.count("<tr>") > 10
    assert re.search(r'<div id="card" style="display: block;"><h3>[^<]+</h3>', dom), "the project card did not open"
    # the map has the sea and the land, the province borders and one choropleth cell per zone
    import geopandas as gpd

    n_zones = len(gpd.read_file(run_dir / "network.gpkg", layer="zones"))
    assert dom.count('class="land"') == 1 and dom.count('class="border"') == 1 and dom.count('class="city"') == 1
    assert dom.count('<path class="zone"') == n_zones and "浙江省 Zhejiang" in dom and "Natural Earth" in dom
    shot = tmp_path / "report.png"
    subprocess.run([*flags, "--window-size=1280,1600", f"--screenshot={shot}", url], capture_output=True, timeout=120,
                   check=True)
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (1600, 1280) and pixels[..., :3].std() > 0.05  # a page, not a blank screen


def test_html_report_escapes_what_it_is_given(tmp_path):
    """Names come from users' catalogues: text is escaped, links keep web and relative targets only,
    and the map's project card is filled with textContent, never innerHTML."""
    from transit.html_report import _JS, markdown_to_html

    out = markdown_to_html("# <b>x</b>\n\n| a | b |\n|---|---|\n| <script>alert(1)</script> | 1.5 |\n\n"
                           "[bad](javascript:alert(1)) [ok](docs/model.md) [web](https://example.org)\n", tmp_path)
    assert "<script>" not in out and "&lt;script&gt;" in out and "<h1>&lt;b&gt;x&lt;/b&gt;</h1>" in out
    assert "javascript:" not in out and '<a href="docs/model.md">ok</a>' in out and 'href="https://example.org"' in out
    assert '<td class="n">1.5</td>' in out
    assert "innerHTML" not in _JS and "textContent" in _JS


def test_omx_bytes_do_not_depend_on_when_handles_are_freed(tmp_path):
    """A Dask worker's profiler keeps frames (and the dataset handles in them) alive for a while; the
    file must come out byte for byte as when every handle is freed at once (it once did not)."""
    import sys

    from networks.omx import write_omx

    rng = np.random.default_rng(0)
    matrices = {f"m{k}": rng.random((12, 12)) for k in range(6)}
    lookups = {"zone": np.arange(12)}
    write_omx(tmp_path / "a.omx", matrices, lookups=lookups)
    kept = []

    def hold(frame, event, arg):  # keep every local of write_omx alive, as a sampling profiler does
        if frame.f_code.co_name == "write_omx":
            kept.append(dict(frame.f_locals))

    sys.setprofile(hold)
    try:
        write_omx(tmp_path / "b.omx", matrices, lookups=lookups)
    finally:
        sys.setprofile(None)
    assert kept and (tmp_path / "a.omx").read_bytes() == (tmp_path / "b.omx").read_bytes()
