"""Line layers of a rail graph: a change of line costs time, a through journey does not.

A track graph lets a shortest path switch from one line to another at any junction for free,
so it finds journeys no train runs (Shanghai - Huzhou - Xuancheng as if one service ran over
both lines).  :func:`line_layers` expands the graph into one layer per line: a path that stays
on a line pays nothing extra, a path that changes line (a passenger's transfer, or a through
train's detour over a connecting line) pays ``change_min`` each time.

The expanded graph:

* every node ``n`` of the input gets one copy per *layer* that meets it: each line named in
  the ``lines`` attribute of its edges, and ``""`` for track that no line claims (the
  conventional network); edges of a line join the copies of that line; an unclaimed edge
  joins the ``""`` copies and also the copies of every line at either end, so a gap in the
  line data (a short unclaimed piece between two pieces of the same line) costs no change;
* station links (``link == "station"``: a station placed beside the track) carry the
  layers of the lines at either end;
* at every station and every node whose edges do not all carry the same layers (a junction,
  the end of a shared stretch), copies of different layers are joined both ways by
  ``link == "change"`` edges of ``change_min`` minutes (inside a shared stretch a change is no
  faster than at its end, so those nodes need none);
* every station node keeps its id and attributes and becomes the *departure* node
  (``station -> copy`` edges, ``link == "board"``, zero time); a new *arrival* node
  (``copy -> arrival``, ``link == "alight"``, zero time) receives the journeys, so a journey
  cannot leave a line at a station and board another for free.  The station node records its
  arrival node as ``arrival``; the arrival node records ``arrival_of``.

Exact for the stated rule (one penalty per change of layer, none for boarding or alighting):
a shortest path of the expanded graph from a station to another's arrival node is the fastest
journey under that rule.  What it leaves out: which changes a timetable offers (every pair of
lines at a node connects), waits between trains, and services that run over two lines
without a change (they pay the penalty).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from typing import Any

import networkx as nx

from networks.errors import InputError

__all__ = ["contract_chains", "line_layers", "CONVENTIONAL"]

CONVENTIONAL = ""  # the layer of track that no line claims


def contract_chains(G: nx.MultiDiGraph, *, keep: set[Hashable] | None = None) -> nx.MultiDiGraph:
    """A copy of ``G`` with pass-through nodes removed: fewer nodes, the same shortest paths.

    A node is removed when it is not a station (``station=True``) nor in ``keep``, has exactly
    two neighbours ``a`` and ``b``, and its edges pair up as ``a -> v -> b`` (and ``b -> v ->
    a``) with the same ``mode``, ``link``, ``lines``, ``speed_kph`` and ``source``; each pair
    becomes one edge ``a -> b`` with the summed ``length`` and ``travel_time``.  Every path
    between kept nodes keeps its length and time, so shortest paths are unchanged (the
    geometry between kept nodes is lost: draw the original graph).
    """
    H = G.copy()
    keep = set(keep or ())

    def kind(d: dict[str, Any]) -> tuple:
        return (d.get("mode"), d.get("link"), tuple(d.get("lines") or ()), d.get("speed_kph"), d.get("source"))

    for v in list(H.nodes):
        if v in keep or H.nodes[v].get("station"):
            continue
        neighbours = set(H.predecessors(v)) | set(H.successors(v))
        if v in neighbours or len(neighbours) != 2:
            continue
        a, b = sorted(neighbours, key=str)
        merged = []
        for x, y in ((a, b), (b, a)):
            into, out = H.number_of_edges(x, v), H.number_of_edges(v, y)
            if into != out or into > 1:
                merged = []
                break
            if into == 1:
                d1, d2 = next(iter(H[x][v].values())), next(iter(H[v][y].values()))
                if kind(d1) != kind(d2):
                    merged = []
                    break
                merged.append((x, y, {**d1, "length": d1["length"] + d2["length"],
                                      "travel_time": d1["travel_time"] + d2["travel_time"]}))
        if merged and H.in_degree(v) == len(merged) == H.out_degree(v):
            H.remove_node(v)
            H.add_edges_from(merged)
    return H


def line_layers(
    rail: nx.MultiDiGraph,
    *,
    change_min: float,
    node_offset: int,
    line_attr: str = "lines",
) -> nx.MultiDiGraph:
    """The line-layer expansion of ``rail`` (see the module docstring).

    Parameters
    ----------
    rail
        A directed rail graph: nodes with ``x``, ``y`` (and ``station=True`` for stations),
        edges with ``travel_time`` (s) and ``length`` (m), optionally ``line_attr`` (a tuple
        of line ids) and ``link``.
    change_min
        Minutes charged for each change of layer; ``>= 0``.
    node_offset
        New node ids are ``node_offset + k``; must lie above every integer node id of the
        graph (and of any graph it is later composed with).
    line_attr
        The edge attribute naming the lines an edge belongs to.

    Returns
    -------
    networkx.MultiDiGraph
        Station nodes keep their ids; other input nodes are replaced by their copies.
    """
    if not change_min >= 0:
        raise InputError(f"change_min = {change_min!r}; expected a number >= 0")
    ids = [n for n in rail.nodes if isinstance(n, int)]
    if ids and max(ids) >= node_offset:
        raise InputError(f"node_offset {node_offset} is not above the largest node id {max(ids)}")
    stations = {n for n, s in rail.nodes(data="station") if s}

    lined: dict[Hashable, set[str]] = defaultdict(set)
    for u, v, d in rail.edges(data=True):
        if d.get("link") != "station":
            for line in d.get(line_attr) or ():
                lined[u].add(str(line))
                lined[v].add(str(line))

    def layers_of(u: Hashable, v: Hashable, d: dict[str, Any]) -> set[str]:
        if d.get("link") == "station":  # a station beside the track: the lines at either end
            return (lined[u] | lined[v]) or {CONVENTIONAL}
        own = {str(x) for x in d.get(line_attr) or ()}
        return own if own else {CONVENTIONAL} | lined[u] | lined[v]

    out = nx.MultiDiGraph(**rail.graph)
    out.graph["line_change_min"] = float(change_min)
    copy: dict[tuple[Hashable, str], int] = {}
    next_id = node_offset

    def node(n: Hashable, layer: str) -> int:
        nonlocal next_id
        key = (n, layer)
        if key not in copy:
            copy[key] = next_id
            data = rail.nodes[n]
            out.add_node(next_id, x=data["x"], y=data["y"], line=layer, of=n)
            next_id += 1
        return copy[key]

    incident: dict[Hashable, set[frozenset[str]]] = defaultdict(set)
    for u, v, d in rail.edges(data=True):
        attrs = {k: val for k, val in d.items() if k != line_attr}
        layers = layers_of(u, v, d)
        incident[u].add(frozenset(layers))
        incident[v].add(frozenset(layers))
        for layer in sorted(layers):
            out.add_edge(node(u, layer), node(v, layer), **attrs, line=layer)

    by_node: dict[Hashable, list[tuple[str, int]]] = defaultdict(list)
    for (n, layer), k in copy.items():
        by_node[n].append((layer, k))
    change = {"mode": "rail", "length": 0.0, "travel_time": 60.0 * float(change_min), "link": "change"}
    for n, copies in by_node.items():
        # Where every edge at a node carries the same layers (a node inside a shared stretch),
        # a change there is no faster than at the stretch's end, whose edges differ (copies of
        # one edge share its time): change edges at such nodes are left out.
        if n not in stations and len(incident[n]) == 1:
            continue
        for a, ka in copies:
            for b, kb in copies:
                if a != b:
                    out.add_edge(ka, kb, **change)
    for s in sorted(stations, key=str):
        data = dict(rail.nodes[s])
        arrival = next_id
        next_id += 1
        out.add_node(s, **data, arrival=arrival)
        out.add_node(arrival, x=data["x"], y=data["y"], arrival_of=s,
                     **({"city": data["city"]} if "city" in data else {}))
        for _, k in sorted(by_node.get(s, [])):
            out.add_edge(s, k, mode="rail", length=0.0, travel_time=0.0, link="board")
            out.add_edge(k, arrival, mode="rail", length=0.0, travel_time=0.0, link="alight")
    return out
