"""Fast shortest paths and skims behind a networkx-friendly interface.

A :class:`CompiledGraph` turns a networkx (Multi)DiGraph into a SciPy CSR matrix once;
every query then runs SciPy's compiled Dijkstra from many sources at a time, so a skim of
all zone pairs on the whole YRD graph is one call instead of a Python loop per pair.

``weight`` follows networkx: the name of an edge attribute, or a function
``weight(u, v, data) -> float | None`` called on every edge (for multigraphs, on each
parallel edge; the smallest value wins; ``None`` hides the edge).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from networks.errors import InputError

__all__ = ["CompiledGraph", "shortest_path_lengths", "skim", "path_sums", "min_csr"]

Weight = str | Callable[[Hashable, Hashable, dict[str, Any]], float | None]


def _edge_weights(graph: nx.DiGraph, weight: Weight) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    nodes = list(graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    tails: list[int] = []
    heads: list[int] = []
    values: list[float] = []
    edges = graph.edges(data=True)
    for u, v, data in edges:
        if callable(weight):
            value = weight(u, v, data)
            if value is None:
                continue
        else:
            if weight not in data:
                raise InputError(f"edge ({u!r}, {v!r}) has no attribute {weight!r} to use as weight")
            value = data[weight]
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise InputError(f"edge ({u!r}, {v!r}) has weight {value!r}; expected a finite number >= 0")
        tails.append(index[u])
        heads.append(index[v])
        values.append(value)
    return np.asarray(tails, dtype=np.int64), np.asarray(heads, dtype=np.int64), np.asarray(values), nodes


def min_csr(n: int, tails: np.ndarray, heads: np.ndarray, values: np.ndarray) -> csr_array:
    """CSR matrix keeping the smallest of parallel edges (SciPy would sum duplicates)."""
    if len(values) == 0:
        return csr_array((n, n))
    order = np.lexsort((values, heads, tails))
    tails, heads, values = tails[order], heads[order], values[order]
    first = np.ones(len(values), dtype=bool)
    first[1:] = (tails[1:] != tails[:-1]) | (heads[1:] != heads[:-1])
    tails, heads, values = tails[first], heads[first], values[first]
    # csgraph treats stored zeros as missing edges; a tiny positive weight keeps them.
    values = np.where(values == 0.0, 1e-12, values)
    return csr_array((values, (tails, heads)), shape=(n, n))


class CompiledGraph:
    """A directed graph compiled for repeated shortest-path queries.

    Parameters
    ----------
    graph
        A networkx ``DiGraph`` or ``MultiDiGraph`` (undirected graphs are taken as
        symmetric digraphs).
    weight
        Edge attribute name or ``weight(u, v, data)`` function (see module docstring).
    """

    def __init__(self, graph: nx.Graph, *, weight: Weight = "travel_time") -> None:
        if not graph.is_directed():
            graph = graph.to_directed()
        tails, heads, values, nodes = _edge_weights(graph, weight)
        self.nodes: list[Hashable] = nodes
        self.index: dict[Hashable, int] = {node: i for i, node in enumerate(nodes)}
        self.matrix = min_csr(len(nodes), tails, heads, values)

    @classmethod
    def from_arrays(
        cls,
        n_nodes: int,
        tails: Sequence[int] | np.ndarray,
        heads: Sequence[int] | np.ndarray,
        weights: Sequence[float] | np.ndarray,
    ) -> CompiledGraph:
        """Compile a graph given as arc arrays over nodes ``0 .. n_nodes - 1``."""
        self = cls.__new__(cls)
        self.nodes = list(range(n_nodes))
        self.index = {i: i for i in range(n_nodes)}
        self.matrix = min_csr(
            n_nodes, np.asarray(tails, dtype=np.int64), np.asarray(heads, dtype=np.int64), np.asarray(weights, float)
        )
        return self

    def _indices(self, nodes: Iterable[Hashable], what: str) -> np.ndarray:
        out = []
        for node in nodes:
            try:
                out.append(self.index[node])
            except KeyError:
                raise InputError(f"{what} node {node!r} is not in the graph") from None
        return np.asarray(out, dtype=np.int64)

    def lengths(
        self, sources: Iterable[Hashable], targets: Iterable[Hashable] | None = None
    ) -> np.ndarray:
        """Shortest-path lengths, shape ``(len(sources), len(targets))``; ``inf`` if unreachable."""
        src = self._indices(sources, "source")
        dist = dijkstra(self.matrix, directed=True, indices=src)
        dist = np.atleast_2d(dist)
        if targets is None:
            return dist
        return dist[:, self._indices(targets, "target")]

    def tree(self, source: Hashable) -> tuple[np.ndarray, np.ndarray]:
        """Shortest-path tree from ``source``: distances and predecessors (node positions)."""
        src = self._indices([source], "source")[0]
        dist, pred = dijkstra(self.matrix, directed=True, indices=int(src), return_predecessors=True)
        return dist, pred

    def walk(self, pred: np.ndarray, source: Hashable, target: Hashable) -> list[Hashable]:
        """The node list from ``source`` to ``target`` along a predecessor array of :meth:`tree`."""
        src, dst = self._indices([source, target], "path end")
        if src != dst and pred[dst] < 0:
            raise nx.NetworkXNoPath(f"no path from {source!r} to {target!r}")
        walk = [int(dst)]
        while walk[-1] != src:
            walk.append(int(pred[walk[-1]]))
        return [self.nodes[i] for i in reversed(walk)]

    def path(self, source: Hashable, target: Hashable) -> list[Hashable]:
        """One shortest path as a node list; raises :class:`networkx.NetworkXNoPath` if none."""
        _, pred = self.tree(source)
        return self.walk(pred, source, target)


def shortest_path_lengths(
    graph: nx.Graph,
    sources: Iterable[Hashable],
    targets: Iterable[Hashable] | None = None,
    *,
    weight: Weight = "travel_time",
) -> np.ndarray:
    """Matrix of shortest-path lengths from ``sources`` to ``targets`` (all nodes if None)."""
    return CompiledGraph(graph, weight=weight).lengths(sources, targets)


def skim(
    graph: nx.Graph | CompiledGraph,
    zones: Sequence[Hashable],
    *,
    destinations: Sequence[Hashable] | None = None,
    weight: Weight = "travel_time",
) -> pd.DataFrame:
    """Zone-to-zone skim as a DataFrame indexed by origin, with destination columns."""
    compiled = graph if isinstance(graph, CompiledGraph) else CompiledGraph(graph, weight=weight)
    destinations = list(zones if destinations is None else destinations)
    return pd.DataFrame(compiled.lengths(zones, destinations), index=list(zones), columns=destinations)


def path_sums(
    n_nodes: int,
    tails: np.ndarray,
    heads: np.ndarray,
    cost: np.ndarray,
    attrs: Sequence[np.ndarray],
    sources: np.ndarray,
    targets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path costs and, along the same paths, the sums of other arc attributes.

    Parameters
    ----------
    n_nodes, tails, heads, cost
        Arcs over nodes ``0 .. n_nodes - 1`` with their costs (the path criterion); of parallel
        arcs the cheapest counts (its attributes too).
    attrs
        Per-arc attributes to add up along each shortest path (e.g. time, distance, fare).
    sources, targets
        Node positions.

    Returns
    -------
    (cost, sums)
        ``cost``: shape ``(len(sources), len(targets))`` (``inf`` if unreachable); ``sums``:
        shape ``(len(attrs), len(sources), len(targets))`` (0 where unreachable).  The sums use
        one shortest path per pair (SciPy's Dijkstra tree), added up in NumPy from each target
        towards its tree's root (:func:`_tree_sums`).
    """
    tails = np.asarray(tails, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    cost = np.asarray(cost, dtype=float)
    values = np.vstack([np.asarray(a, dtype=float) for a in attrs]) if len(attrs) else np.zeros((0, len(cost)))
    order = np.lexsort((cost, heads, tails))
    tails, heads, cost, values = tails[order], heads[order], cost[order], values[:, order]
    first = np.ones(len(cost), dtype=bool)
    first[1:] = (tails[1:] != tails[:-1]) | (heads[1:] != heads[:-1])
    tails, heads, cost, values = tails[first], heads[first], cost[first], values[:, first]
    indptr = np.searchsorted(tails, np.arange(n_nodes + 1)).astype(np.int64)
    matrix = csr_array((np.where(cost == 0, 1e-12, cost), heads, indptr), shape=(n_nodes, n_nodes))
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    out_cost = np.empty((len(sources), len(targets)))
    out_sums = np.zeros((values.shape[0], len(sources), len(targets)))
    table = _in_arc_table(n_nodes, tails, heads) if values.shape[0] else None  # once for every batch
    for start in range(0, len(sources), 64):  # bounded memory: 64 trees at a time
        src = sources[start:start + 64]
        dist, pred = dijkstra(matrix, directed=True, indices=src, return_predecessors=True)
        dist = np.atleast_2d(dist)
        pred = np.atleast_2d(pred).astype(np.int64)
        out_cost[start:start + len(src)] = dist[:, targets]
        if values.shape[0]:
            out_sums[:, start:start + len(src)] = _tree_sums(dist, pred, indptr, heads, values, targets, table)
    return out_cost, out_sums


#: Paths longer than this many arcs are added up by pointer jumping instead of walking.
WALK_STEPS = 2048


#: In-arcs of a node looked up in a dense table of this width (wider nodes: binary search).
IN_TABLE_WIDTH = 8


def _in_arc_table(n: int, tails: np.ndarray, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each node's in-arcs as a dense table: ``tails[v, k]``, ``arcs[v, k]`` (``-1`` padded),
    for up to :data:`IN_TABLE_WIDTH` in-arcs; ``wide[v]`` marks nodes with more."""
    indeg = np.bincount(heads, minlength=n)
    width = int(min(max(int(indeg.max(initial=0)), 1), IN_TABLE_WIDTH))
    by_head = np.argsort(heads, kind="stable")
    first = np.concatenate([[0], np.cumsum(indeg)[:-1]])
    rank = np.arange(len(heads)) - first[heads[by_head]]
    fits = rank < width
    small = np.int32 if max(n, len(heads)) < 2**31 else np.int64  # half the memory on any real graph
    table_tails = np.full((n, width), -1, dtype=small)
    table_arcs = np.zeros((n, width), dtype=small)
    table_tails[heads[by_head][fits], rank[fits]] = tails[by_head][fits]
    table_arcs[heads[by_head][fits], rank[fits]] = by_head[fits]
    return table_tails, table_arcs, indeg > width


def _tree_sums(dist: np.ndarray, pred: np.ndarray, indptr: np.ndarray, heads: np.ndarray, values: np.ndarray,
               targets: np.ndarray, table: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Sums of ``values`` (per arc) from each tree's root to ``targets``.

    Every (tree, target) pair walks up its path at once, one arc per NumPy step, adding the arc's
    values; a walker stops at the root (or at once where the target is unreachable).  Only the
    arcs on the targets' paths are touched, so on the YRD skims this is about 3.7x faster than
    pointer jumping over every node a tree reaches.  The arc from a node's predecessor is found
    in a small dense table of each node's in-arcs (:func:`_in_arc_table`; 1.8x faster than a
    binary search over all arcs on the YRD road layer), by binary search for the few nodes with
    more in-arcs than the table holds.  Trees whose paths are longer than :data:`WALK_STEPS`
    arcs (a long chain) are finished by :func:`_tree_sums_jumping`, whose cost grows with the
    logarithm of the depth.  Arcs must be unique per ``(tail, head)`` (as :func:`path_sums`
    leaves them).  ``table`` is :func:`_in_arc_table` of the arcs, if already built.
    """
    n_src, n = dist.shape
    n_attr = values.shape[0]
    n_tgt = len(targets)
    if table is None:
        table = _in_arc_table(n, np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr)), heads)
    table_tails, table_arcs, wide = table
    any_wide = bool(wide.any())
    if any_wide:  # binary search for the wide nodes: arcs are in (tail, head) order
        keys = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr)) * n + heads
    columns = [np.ascontiguousarray(values[a]) for a in range(n_attr)]
    sums = [np.zeros(n_src * n_tgt) for _ in range(n_attr)]
    flat_pred = pred.reshape(-1)
    tree = np.repeat(np.arange(n_src, dtype=np.int64) * n, n_tgt)  # each walker's tree, as a row offset
    node = np.tile(np.asarray(targets, dtype=np.int64), n_src)
    slot = np.arange(n_src * n_tgt)
    for _ in range(WALK_STEPS):
        parent = flat_pred[tree + node]
        live = parent >= 0
        if not live.all():
            tree, node, slot, parent = tree[live], node[live], slot[live], parent[live]
            if not len(node):
                break
        arc = table_arcs[node, np.argmax(table_tails[node] == parent[:, None], axis=1)]
        if any_wide:
            far = wide[node]
            if far.any():
                arc[far] = np.searchsorted(keys, parent[far] * n + node[far])
        for a in range(n_attr):
            sums[a][slot] += columns[a][arc]
        node = parent
    out = np.stack(sums).reshape(n_attr, n_src, n_tgt) if n_attr else np.zeros((0, n_src, n_tgt))
    if len(node):  # deep trees: start those again by pointer jumping
        deep = np.unique(tree // n)
        out[:, deep] = _tree_sums_jumping(dist[deep], pred[deep], indptr, heads, values, targets)
    return out


def _tree_sums_jumping(dist: np.ndarray, pred: np.ndarray, indptr: np.ndarray, heads: np.ndarray,
                       values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Sums of ``values`` (per arc) from each tree's root to ``targets``, by pointer jumping.

    Each node's value is that of the arc from its predecessor (0 at the root and where
    unreachable); then ``log2(depth)`` rounds of ``acc[v] += acc[up[v]]; up[v] = up[up[v]]``
    add up every path at once, in NumPy (no compiled kernel needed).
    """
    n_src, n = dist.shape
    n_attr = values.shape[0]
    tails = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    keys = tails * n + heads  # sorted: arcs are in (tail, head) order
    out = np.empty((n_attr, n_src, len(targets)))
    for s in range(n_src):
        # only the nodes this tree reaches, numbered 0 .. m-1; m is a sink (value 0, its own parent)
        reach = np.flatnonzero(np.isfinite(dist[s]))
        m = len(reach)
        local = np.full(n, m, dtype=np.int64)
        local[reach] = np.arange(m)
        parent = pred[s, reach].astype(np.int64)
        has = parent >= 0
        arc = np.searchsorted(keys, np.where(has, parent, 0) * n + reach)
        acc = np.zeros((n_attr, m + 1))
        acc[:, :m] = np.where(has, values[:, np.minimum(arc, len(keys) - 1)], 0.0)
        up = np.append(np.where(has, local[np.maximum(parent, 0)], m), m)
        active = np.flatnonzero(up != m)
        while len(active):
            above = up[active]
            acc[:, active] = acc[:, active] + acc[:, above]  # the old values on both sides
            up[active] = up[above]
            active = active[up[active] != m]
        out[:, s] = acc[:, local[targets]]
    return out
