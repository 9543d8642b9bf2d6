"""Exact contraction to key nodes and the undominated (project set, time) records per OD pair."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from networks.paths import WALK_STEPS
from solvers.selection._graph import _ArcGraph
from solvers.selection._instance import _Instance, _bits

# --------------------------------------------------------------------------------------------
# Contraction and records
# --------------------------------------------------------------------------------------------


@dataclass
class _Records:
    """Undominated (project set, time) records per OD pair of the model."""

    pair: np.ndarray  # model pair index (into _Instance pair arrays) per OD with records
    base: np.ndarray  # base time per model pair
    records: list[list[tuple[int, float]]]  # per model pair: (mask, time), time < base
    lower: np.ndarray  # per model pair: time with every allowed project (a lower bound)
    key_nodes: int
    contracted_arcs: int
    dijkstra_calls: int
    searched_sets: int
    seconds: float
    complete: bool


def _contract(inst: _Instance, keys: np.ndarray) -> tuple[_ArcGraph, np.ndarray]:
    """Contracted base graph on ``keys``: arc i -> j when the base tree path avoids other keys."""
    graph = inst.graph
    k = keys.shape[0]
    base_matrix, _ = graph.matrix()
    is_key = np.zeros(graph.n, dtype=bool)
    is_key[keys] = True
    tails: list[np.ndarray] = []
    heads: list[np.ndarray] = []
    times: list[np.ndarray] = []
    dist_keys = np.empty((k, k))
    chunk = max(1, int(4_000_000 // max(graph.n, 1)))
    for start in range(0, k, chunk):
        src = keys[start : start + chunk]
        dist, pred = dijkstra(base_matrix, directed=True, indices=src, return_predecessors=True)
        rows = np.arange(src.shape[0])[:, None]
        through = _through_key(pred, src, is_key, keys)
        sub = dist[:, keys]
        dist_keys[start : start + src.shape[0]] = sub
        keep = np.isfinite(sub) & ~through
        keep[rows[:, 0], np.arange(start, start + src.shape[0])] = False  # no loops
        r, c = np.nonzero(keep)
        tails.append(r + start)
        heads.append(c)
        times.append(sub[r, c])
    contracted = _ArcGraph(
        k,
        np.concatenate(tails) if tails else np.zeros(0, np.int64),
        np.concatenate(heads) if heads else np.zeros(0, np.int64),
        np.concatenate(times) if times else np.zeros(0),
    )
    return contracted, dist_keys


def _through_key(pred: np.ndarray, src: np.ndarray, is_key: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``out[s, j]``: tree ``s``'s path from ``src[s]`` to ``keys[j]`` passes another key node.

    Every (tree, key) pair walks up its path at once, one arc per NumPy step, and stops at the
    first key node above it (the answer is yes unless that node is the source) or at the root;
    most walks end within a few arcs.  Trees with a path longer than :data:`WALK_STEPS` arcs
    are answered by :func:`_through_key_jumping`.
    """
    n_src, n = pred.shape
    k = keys.shape[0]
    out = np.zeros((n_src, k), dtype=bool)
    flat = out.reshape(-1)
    flat_pred = pred.reshape(-1)
    tree = np.repeat(np.arange(n_src, dtype=np.int64), k)
    node = np.tile(keys.astype(np.int64), n_src)
    slot = np.arange(n_src * k)
    for _ in range(WALK_STEPS):
        parent = flat_pred[tree * n + node]
        stop = (parent < 0) | is_key[np.maximum(parent, 0)]
        hit = stop & (parent >= 0) & (parent != src[tree])
        flat[slot[hit]] = True
        go = ~stop
        tree, node, slot = tree[go], parent[go], slot[go]
        if not len(node):
            return out
    deep = np.unique(tree)
    out[deep] = _through_key_jumping(pred[deep], src[deep], is_key, keys)
    return out


def _through_key_jumping(pred: np.ndarray, src: np.ndarray, is_key: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """:func:`_through_key` by pointer jumping over every node of the trees (log n steps)."""
    cols = np.arange(pred.shape[1])
    # flag[v]: the tree parent of v is a key node other than the source; pointer jumping then
    # ORs the flags along each tree path
    parent = np.where(pred < 0, cols[None, :], pred)
    flag = is_key[parent] & (parent != src[:, None]) & (pred >= 0)
    while True:
        grand = np.take_along_axis(parent, parent, axis=1)
        flag = flag | np.take_along_axis(flag, parent, axis=1)
        if np.array_equal(grand, parent):
            break
        parent = grand
    return flag[:, keys]


def _build_records(
    inst: _Instance,
    usable: Callable[[int], bool],
    root: int,
    *,
    deadline: float | None,
    log: Callable[[str], None] | None,
) -> _Records:
    """Enumerate, per OD pair, the undominated records among designs inside ``root``.

    ``usable(mask)`` says whether a project set can be part of some feasible design; sets that
    cannot are not recorded but still branched on (their subsets may be usable).
    """
    started = time.perf_counter()
    model_pairs = np.flatnonzero((inst.pair_demand > 0) & (inst.pair_o != inst.pair_d))
    arc_nodes = [v for arcs in inst.project_arcs for (u, w, *_rest) in arcs for v in (u, w)]
    keys = np.unique(np.concatenate([inst.pair_o[model_pairs], inst.pair_d[model_pairs], np.asarray(arc_nodes, dtype=np.int64)]))
    contracted, dist_keys = _contract(inst, keys)
    key_pos = {int(v): i for i, v in enumerate(keys)}
    # Project arcs in contracted numbering.
    carcs: list[list[tuple[int, int, float, int, int]]] = []
    for arcs in inst.project_arcs:
        carcs.append(
            [
                (key_pos[u], key_pos[v], t, who, contracted.position(key_pos[u], key_pos[v]))
                for (u, v, t, who, _pos) in arcs
            ]
        )
    contracted.prepare_extras([a for arcs in carcs for a in arcs])
    base = np.array([dist_keys[key_pos[int(inst.pair_o[p])], key_pos[int(inst.pair_d[p])]] for p in model_pairs])
    records: list[list[tuple[int, float]]] = [[] for _ in model_pairs]
    matrices: dict[int, tuple[sp.csr_array, dict[tuple[int, int], int]]] = {}
    calls = 0
    searched = 0
    complete = True
    usable_cache: dict[int, bool] = {}
    # Keep cached contracted matrices to roughly 2e7 stored arcs (about 300 MB).
    max_cached = max(16, int(2e7 // max(1, contracted.times.shape[0])))

    def graph_for(mask: int) -> tuple[sp.csr_array, dict[tuple[int, int], int]]:
        got = matrices.get(mask)
        if got is None:
            if len(matrices) > max_cached:
                matrices.clear()
            got = contracted.matrix([a for i in _bits(mask) for a in carcs[i]])
            matrices[mask] = got
        return got

    by_origin: dict[int, list[int]] = {}
    for slot, p in enumerate(model_pairs):
        by_origin.setdefault(int(inst.pair_o[p]), []).append(slot)
    # Every design lies inside ``root``: its times bound every design's times from below, which
    # gives a bound even when the record search is cut short by the time limit.
    lower = base.copy()
    if model_pairs.size:
        src_all = np.array([key_pos[o] for o in by_origin])
        dist_all = dijkstra(graph_for(root)[0], directed=True, indices=src_all)
        calls += 1
        row_of = {o: r for r, o in enumerate(by_origin)}
        for o, slots in by_origin.items():
            for slot in slots:
                dest = key_pos[int(inst.pair_d[model_pairs[slot]])]
                lower[slot] = min(base[slot], dist_all[row_of[o], dest])
    for origin, slots in by_origin.items():
        if deadline is not None and time.perf_counter() > deadline:
            complete = False
            break
        src = key_pos[origin]
        limit = float(max(base[s] for s in slots))
        trees: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for slot in slots:
            dest = key_pos[int(inst.pair_d[model_pairs[slot]])]
            t_base = base[slot]
            visited: set[int] = set()
            stack = [root]
            found: list[tuple[int, float]] = []
            while stack:
                allowed = stack.pop()
                if allowed in visited:
                    continue
                visited.add(allowed)
                searched += 1
                if deadline is not None and searched % 256 == 0 and time.perf_counter() > deadline:
                    complete = False
                    break
                tree = trees.get(allowed)
                if tree is None:
                    matrix, _ = graph_for(allowed)
                    dist, pred = dijkstra(matrix, directed=True, indices=src, return_predecessors=True, limit=limit)
                    calls += 1
                    tree = (dist, pred)
                    trees[allowed] = tree
                dist, pred = tree
                t = float(dist[dest])
                if not t < t_base:
                    continue  # no design inside ``allowed`` beats the base time
                owner = graph_for(allowed)[1]
                used = 0
                v = dest
                while v != src:
                    u = int(pred[v])
                    who = owner.get((u, v))
                    if who is not None:
                        used |= 1 << who
                    v = u
                if used == 0:
                    continue  # a base-only path: every design inside ``allowed`` has this time
                ok = usable_cache.get(used)
                if ok is None:
                    ok = usable_cache[used] = usable(used)
                if ok:
                    found.append((used, t))
                for i in _bits(used):
                    stack.append(allowed & ~(1 << i))
            records[slot] = _undominated(found)
            if not complete:
                break
        if not complete:
            break
    seconds = time.perf_counter() - started
    if log:
        log(
            f"selection: {len(keys)} key nodes, {contracted.times.shape[0]} contracted arcs, "
            f"{sum(len(r) for r in records)} records for {len(model_pairs)} OD pairs, "
            f"{calls} Dijkstra calls, {seconds:.2f} s"
        )
    return _Records(
        pair=model_pairs,
        base=base,
        records=records,
        lower=lower,
        key_nodes=int(len(keys)),
        contracted_arcs=int(contracted.times.shape[0]),
        dijkstra_calls=calls,
        searched_sets=searched,
        seconds=seconds,
        complete=complete,
    )


def _undominated(found: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Drop records whose project set contains another record's set with no larger time."""
    kept: list[tuple[int, float]] = []
    for mask, t in sorted(set(found), key=lambda r: (r[1], bin(r[0]).count("1"), r[0])):
        if not any((m & ~mask) == 0 for m, _ in kept):
            kept.append((mask, t))
    return kept
