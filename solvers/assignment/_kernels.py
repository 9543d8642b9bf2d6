"""Compiled kernels of the assignment: Dijkstra, all-or-nothing loading, link costs and the
path-based flow shifts (numba; no Python loop over OD pairs)."""

from __future__ import annotations

import numpy as np
from solvers._jit import njit, prange

from solvers._heap import _dijkstra_fs
from solvers.assignment._compaction import _gather_compact
from solvers.vdf import link_eval


#: Origins are loaded in this many fixed blocks, each into its own link-flow array, and the
#: blocks are summed in order: the same flows whether the blocks run on one thread or several.
AON_BLOCKS = 8
#: Below this many origin-links (zones x links) the blocks run on one thread: starting the
#: threads costs more than it saves (about 0.2 ms, as much as Sioux Falls' whole assignment).
PARALLEL_WORK = 1_000_000


@njit(cache=True)
def _has_demand(demand, o):
    """Whether origin ``o`` sends trips to any other zone."""
    for d in range(demand.shape[1]):
        if demand[o, d] > 0.0 and d != o:
            return True
    return False


@njit(cache=True)
def _aon_block(
    b, per, n_zones, dest_node, demand, c_start, c_head, c_cost, c_link, c_tail, load, od_cost, n_nodes, loads,
):
    """The origins of block ``b``: their trees, their costs into ``od_cost`` and their loads into
    ``loads[b]`` (compact links); returns their SPTT."""
    dist = np.empty(n_nodes)
    pred = np.empty(n_nodes, dtype=np.int64)
    order = np.empty(n_nodes, dtype=np.int64)
    hkeys = np.empty(n_nodes)
    hnodes = np.empty(n_nodes, dtype=np.int64)
    pos = np.empty(n_nodes, dtype=np.int64)
    node_flow = np.zeros(n_nodes)
    sptt = 0.0
    for o in range(b * per, min(n_zones, (b + 1) * per)):
        if not _has_demand(demand, o):
            for d in range(n_zones):
                od_cost[o, d] = np.nan
            od_cost[o, o] = 0.0
            continue
        count = _dijkstra_fs(o, c_start, c_head, c_cost, c_link, dist, pred, order, hkeys, hnodes, pos)
        for d in range(n_zones):
            if d == o:
                od_cost[o, d] = 0.0
                continue
            dn = dest_node[d]
            c = dist[dn]
            od_cost[o, d] = c
            q = demand[o, d]
            if q > 0.0 and c < np.inf:
                sptt += q * c
                if load:
                    node_flow[dn] += q
        if load:
            for i in range(count - 1, 0, -1):
                v = order[i]
                f = node_flow[v]
                if f != 0.0:
                    a = pred[v]
                    loads[b, a] += f
                    node_flow[c_tail[a]] += f
                    node_flow[v] = 0.0
            node_flow[order[0]] = 0.0
    return sptt


@njit(cache=True, parallel=True)
def _aon_blocks_threads(per, n_zones, dest_node, demand, c_start, c_head, c_cost, c_link, c_tail, load, od_cost,
                        n_nodes, loads, sptts):
    for b in prange(sptts.size):
        sptts[b] = _aon_block(b, per, n_zones, dest_node, demand, c_start, c_head, c_cost, c_link, c_tail, load,
                              od_cost, n_nodes, loads)


@njit(cache=True)
def _aon_blocks_serial(per, n_zones, dest_node, demand, c_start, c_head, c_cost, c_link, c_tail, load, od_cost,
                       n_nodes, loads, sptts):
    for b in range(sptts.size):
        sptts[b] = _aon_block(b, per, n_zones, dest_node, demand, c_start, c_head, c_cost, c_link, c_tail, load,
                              od_cost, n_nodes, loads)


@njit(cache=True)
def _spread_loads(loads, m_start, m_link, y):
    """``y`` = the blocks' compact-link loads, summed in block order, on every member link."""
    y[:] = 0.0
    for b in range(loads.shape[0]):
        for c in range(loads.shape[1]):
            f = loads[b, c]
            if f != 0.0:
                for j in range(m_start[c], m_start[c + 1]):
                    y[m_link[j]] += f


def _all_or_nothing(
    n_zones, dest_node, demand, c_start, c_head, c_cost, c_link, c_tail, m_start, m_link, load, y, od_cost,
    n_nodes,
):
    """Shortest paths from every origin; loads ``demand`` on them into ``y`` if ``load``.

    Returns SPTT over reachable pairs; ``od_cost`` gets the zone-to-zone costs (inf if none).
    The searches run on the compact forward star (:mod:`solvers.assignment._compaction`;
    ``c_cost`` its link costs), whose loads are then spread onto their member links.  The
    origins run in :data:`AON_BLOCKS` fixed blocks, on numba's threads when the network is
    large (:data:`PARALLEL_WORK`).
    """
    n_blocks = min(AON_BLOCKS, max(n_zones, 1))
    per = (n_zones + n_blocks - 1) // n_blocks
    loads = np.zeros((n_blocks, c_head.size if load else 0))
    sptts = np.zeros(n_blocks)
    blocks = _aon_blocks_threads if n_zones * m_link.size >= PARALLEL_WORK else _aon_blocks_serial
    blocks(per, n_zones, dest_node, demand, c_start, c_head, c_cost, c_link, c_tail, load, od_cost, n_nodes,
           loads, sptts)
    if load:
        _spread_loads(loads, m_start, m_link, y)
    total = 0.0
    for b in range(n_blocks):
        total += float(sptts[b])
    return total


@njit(cache=True)
def _reachable(n_zones, dest_node, demand, fs_start, fs_head, fs_link, active, n_nodes, reached):
    """``reached[o, d]``: zone ``d`` can be reached from ``o`` over active links (for pairs with
    demand; a breadth-first search per origin, no costs needed)."""
    seen = np.zeros(n_nodes, dtype=np.bool_)
    queue = np.empty(n_nodes, dtype=np.int64)
    for o in range(n_zones):
        if not _has_demand(demand, o):
            continue
        seen[:] = False
        seen[o] = True
        queue[0] = o
        head_at, tail_at = 0, 1
        while head_at < tail_at:
            u = queue[head_at]
            head_at += 1
            for k in range(fs_start[u], fs_start[u + 1]):
                v = fs_head[k]
                if active[fs_link[k]] and not seen[v]:
                    seen[v] = True
                    queue[tail_at] = v
                    tail_at += 1
        for d in range(n_zones):
            reached[o, d] = d == o or seen[dest_node[d]]


@njit(cache=True)
def _routing_costs(code, so, x, t0, cap, pa, pb, fixed, active, g, dg, t):
    """Routing cost ``g`` (time or marginal cost, plus fixed), its derivative and the time ``t``."""
    for i in range(x.size):
        ti, d1, xd2 = link_eval(code, x[i], t0[i], cap[i], pa[i], pb[i])
        t[i] = ti
        if so:
            g[i] = ti + x[i] * d1 + fixed[i]
            dg[i] = 2.0 * d1 + xd2
        else:
            g[i] = ti + fixed[i]
            dg[i] = d1


@njit(cache=True)
def _beckmann(code, x, t0, cap, pa, pb, n_steps):
    """Sum over links of the integral of the travel time from 0 to x (Simpson; exact for BPR)."""
    total = 0.0
    for i in range(x.size):
        xi = x[i]
        if xi <= 0.0:
            continue
        if code == 0:
            if pa[i] == 0.0 or pb[i] == 0.0:
                total += t0[i] * (1.0 + pa[i]) * xi
            else:
                total += t0[i] * xi * (1.0 + pa[i] * (xi / cap[i]) ** pb[i] / (pb[i] + 1.0))
        else:
            h = xi / n_steps
            s = 0.0
            for k in range(n_steps + 1):
                tk, _, _ = link_eval(code, k * h, t0[i], cap[i], pa[i], pb[i])
                w = 1.0 if (k == 0 or k == n_steps) else (4.0 if k % 2 == 1 else 2.0)
                s += w * tk
            total += s * h / 3.0
    return total


@njit(cache=True)
def _line_derivatives(code, so, alpha, x, d, t0, cap, pa, pb, fixed):
    """Derivative and curvature of the objective along ``x + alpha * d``."""
    f1 = 0.0
    f2 = 0.0
    for i in range(x.size):
        di = d[i]
        if di == 0.0:
            continue
        xi = x[i] + alpha * di
        if xi < 0.0:
            xi = 0.0
        ti, d1, xd2 = link_eval(code, xi, t0[i], cap[i], pa[i], pb[i])
        if so:
            f1 += di * (ti + xi * d1 + fixed[i])
            f2 += di * di * (2.0 * d1 + xd2)
        else:
            f1 += di * (ti + fixed[i])
            f2 += di * di * d1
    return f1, f2


# ---------------------------------------------------------------------- path-based kernels
@njit(cache=True)
def _update_link(a, delta, x, g, dg, code, so, t0, cap, pa, pb, fixed):
    xa = x[a] + delta
    if xa < 0.0:
        xa = 0.0
    x[a] = xa
    ti, d1, xd2 = link_eval(code, xa, t0[a], cap[a], pa[a], pb[a])
    if so:
        g[a] = ti + xa * d1 + fixed[a]
        dg[a] = 2.0 * d1 + xd2
    else:
        g[a] = ti + fixed[a]
        dg[a] = d1


@njit(cache=True)
def _path_cost(p, p_start, p_len, plinks, g):
    s = 0.0
    for j in range(p_start[p], p_start[p] + p_len[p]):
        s += g[plinks[j]]
    return s


@njit(cache=True)
def _equilibrate_od(
    k, od_first, p_next, p_flow, p_start, p_len, plinks, mark, x, g, dg,
    code, so, t0, cap, pa, pb, fixed, od_demand, flow_eps,
):
    """Newton flow shifts from every path of OD ``k`` to its cheapest one; drops empty paths."""
    first = od_first[k]
    if first < 0 or p_next[first] < 0:
        return
    # cheapest path
    best = -1
    best_cost = np.inf
    p = first
    while p >= 0:
        c = _path_cost(p, p_start, p_len, plinks, g)
        if c < best_cost:
            best_cost = c
            best = p
        p = p_next[p]
    bs = p_start[best]
    be = bs + p_len[best]
    p = first
    while p >= 0:
        if p != best and p_flow[p] > 0.0:
            ps = p_start[p]
            pe = ps + p_len[p]
            for j in range(bs, be):
                mark[plinks[j]] += 1
            for j in range(ps, pe):
                mark[plinks[j]] += 2
            diff = 0.0
            denom = 0.0
            for j in range(ps, pe):
                a = plinks[j]
                if mark[a] == 2:
                    diff += g[a]
                    denom += dg[a]
            for j in range(bs, be):
                a = plinks[j]
                if mark[a] == 1:
                    diff -= g[a]
                    denom += dg[a]
            if diff > 0.0:
                if denom > 0.0:
                    shift = diff / denom
                    if shift > p_flow[p]:
                        shift = p_flow[p]
                else:
                    shift = p_flow[p]
                if shift > 0.0:
                    p_flow[p] -= shift
                    p_flow[best] += shift
                    for j in range(ps, pe):
                        a = plinks[j]
                        if mark[a] == 2:
                            _update_link(a, -shift, x, g, dg, code, so, t0, cap, pa, pb, fixed)
                    for j in range(bs, be):
                        a = plinks[j]
                        if mark[a] == 1:
                            _update_link(a, shift, x, g, dg, code, so, t0, cap, pa, pb, fixed)
            for j in range(bs, be):
                mark[plinks[j]] = 0
            for j in range(ps, pe):
                mark[plinks[j]] = 0
        p = p_next[p]
    # unlink paths that lost (almost) all their flow; the residue goes to the best path
    tiny = flow_eps * od_demand[k]
    prev = -1
    p = od_first[k]
    while p >= 0:
        nxt = p_next[p]
        if p != best and p_flow[p] <= tiny:
            residue = p_flow[p]
            if residue > 0.0:
                p_flow[best] += residue
                for j in range(p_start[p], p_start[p] + p_len[p]):
                    _update_link(plinks[j], -residue, x, g, dg, code, so, t0, cap, pa, pb, fixed)
                for j in range(bs, be):
                    _update_link(plinks[j], residue, x, g, dg, code, so, t0, cap, pa, pb, fixed)
            p_flow[p] = 0.0
            p_len[p] = -1  # marks a dead path for compaction
            if prev < 0:
                od_first[k] = nxt
            else:
                p_next[prev] = nxt
        else:
            prev = p
        p = nxt


@njit(cache=True)
def _gp_sweep(
    start_origin, n_inner, sp_repeats, od_start, od_dest_node, od_demand, od_first, od_orphan,
    p_next, p_flow, p_start, p_len, plinks, counters,
    c_start, c_head, c_cost, c_link, c_tail, m_start, m_link, x, g, dg,
    code, so, t0, cap, pa, pb, fixed, flow_eps,
    dist, pred, order, pos, hkeys, hnodes, mark, scratch,
):
    """One Gauss-Seidel sweep over origins (shortest path, new path, flow shifts).

    Each origin repeats shortest path and flow shifts up to ``sp_repeats`` times while that
    finds new paths (shortest paths are cheap next to the shifts on small networks).

    Returns -1 when done, or the origin at which the path store ran out of room (the caller
    grows it and calls again from there).
    """
    n_origins = od_start.size - 1
    max_len = dist.size
    for o in range(start_origin, n_origins):
        k0 = od_start[o]
        k1 = od_start[o + 1]
        if k1 == k0:
            continue
        for _rep in range(sp_repeats):
            if counters[0] + (k1 - k0) > p_flow.size or counters[1] + (k1 - k0) * max_len > plinks.size:
                return o
            _gather_compact(m_start, m_link, g, c_cost)  # the costs as the sweep has left them
            _dijkstra_fs(o, c_start, c_head, c_cost, c_link, dist, pred, order, hkeys, hnodes, pos)
            added = 0
            for k in range(k0, k1):
                dn = od_dest_node[k]
                # trace the shortest path backwards into scratch
                n = 0
                v = dn
                while v != o:
                    c = pred[v]
                    for j in range(m_start[c + 1] - 1, m_start[c] - 1, -1):
                        scratch[n] = m_link[j]
                        n += 1
                    v = c_tail[c]
                # already known?
                found = -1
                p = od_first[k]
                while p >= 0:
                    if p_len[p] == n:
                        same = True
                        s = p_start[p]
                        for j in range(n):
                            if plinks[s + j] != scratch[j]:
                                same = False
                                break
                        if same:
                            found = p
                            break
                    p = p_next[p]
                if found < 0:
                    added += 1
                    found = counters[0]
                    counters[0] += 1
                    s = counters[1]
                    for j in range(n):
                        plinks[s + j] = scratch[j]
                    counters[1] += n
                    p_start[found] = s
                    p_len[found] = n
                    p_flow[found] = 0.0
                    p_next[found] = od_first[k]
                    od_first[k] = found
                if od_orphan[k] > 0.0:
                    q = od_orphan[k]
                    od_orphan[k] = 0.0
                    p_flow[found] += q
                    for j in range(p_start[found], p_start[found] + n):
                        _update_link(plinks[j], q, x, g, dg, code, so, t0, cap, pa, pb, fixed)
                _equilibrate_od(
                    k, od_first, p_next, p_flow, p_start, p_len, plinks, mark, x, g, dg,
                    code, so, t0, cap, pa, pb, fixed, od_demand, flow_eps,
                )
            if added == 0:
                break
    for _ in range(n_inner):
        for k in range(od_demand.size):
            _equilibrate_od(
                k, od_first, p_next, p_flow, p_start, p_len, plinks, mark, x, g, dg,
                code, so, t0, cap, pa, pb, fixed, od_demand, flow_eps,
            )
    return -1


@njit(cache=True)
def _flows_from_paths(od_first, p_next, p_flow, p_start, p_len, plinks, x):
    x[:] = 0.0
    for k in range(od_first.size):
        p = od_first[k]
        while p >= 0:
            f = p_flow[p]
            if f != 0.0:
                for j in range(p_start[p], p_start[p] + p_len[p]):
                    x[plinks[j]] += f
            p = p_next[p]


@njit(cache=True)
def _drop_paths(od_first, p_next, p_flow, p_start, p_len, plinks, active, od_orphan, scale):
    """Scale path flows per OD and drop paths that use an inactive link (their flow is orphaned)."""
    for k in range(od_first.size):
        prev = -1
        p = od_first[k]
        while p >= 0:
            nxt = p_next[p]
            p_flow[p] *= scale[k]
            ok = True
            for j in range(p_start[p], p_start[p] + p_len[p]):
                if not active[plinks[j]]:
                    ok = False
                    break
            if ok:
                prev = p
            else:
                od_orphan[k] += p_flow[p]
                p_flow[p] = 0.0
                p_len[p] = -1
                if prev < 0:
                    od_first[k] = nxt
                else:
                    p_next[prev] = nxt
            p = nxt


@njit(cache=True)
def _compact(od_first, p_next, p_flow, p_start, p_len, plinks, new_next, new_flow, new_start, new_len, new_links):
    """Copy the live paths into fresh arrays; returns (n_paths, n_links_used)."""
    n_p = 0
    n_l = 0
    for k in range(od_first.size):
        p = od_first[k]
        prev = -1
        while p >= 0:
            q = n_p
            n_p += 1
            length = p_len[p]
            new_start[q] = n_l
            new_len[q] = length
            new_flow[q] = p_flow[p]
            new_next[q] = -1
            for j in range(length):
                new_links[n_l + j] = plinks[p_start[p] + j]
            n_l += length
            if prev < 0:
                od_first[k] = q
            else:
                new_next[prev] = q
            prev = q
            p = p_next[p]
    return n_p, n_l

