"""Compiled kernels of the assignment: Dijkstra, all-or-nothing loading, link costs and the
path-based flow shifts (numba; no Python loop over OD pairs)."""

from __future__ import annotations

import numpy as np
from solvers._jit import njit

from solvers._heap import _heap_pop, _heap_push, _relax
from solvers.vdf import link_eval


@njit(cache=True)
def _dijkstra(origin, fs_start, fs_link, head, cost, active, dist, pred, order, settled, hkeys, hnodes):
    """Shortest-path tree from ``origin``; returns the number of settled nodes (in ``order``)."""
    for i in range(dist.size):
        dist[i] = np.inf
        pred[i] = -1
        settled[i] = False
    dist[origin] = 0.0
    size = _heap_push(hkeys, hnodes, 0, 0.0, origin)
    count = 0
    while size > 0:
        d, u, size = _heap_pop(hkeys, hnodes, size)
        if settled[u]:
            continue
        settled[u] = True
        order[count] = u
        count += 1
        size = _relax(u, d, fs_start, fs_link, head, active, cost, dist, pred, hkeys, hnodes, size)
    return count


@njit(cache=True)
def _all_or_nothing(
    n_zones, dest_node, demand, fs_start, fs_link, tail, head, cost, active, load, y, od_cost,
    node_flow, dist, pred, order, settled, hkeys, hnodes,
):
    """Shortest paths from every origin; loads ``demand`` on them into ``y`` if ``load``.

    Returns SPTT over reachable pairs; ``od_cost`` gets the zone-to-zone costs (inf if none).
    """
    if load:
        y[:] = 0.0
    sptt = 0.0
    for o in range(n_zones):
        has_demand = False
        for d in range(n_zones):
            if demand[o, d] > 0.0 and d != o:
                has_demand = True
                break
        if not has_demand:
            for d in range(n_zones):
                od_cost[o, d] = np.nan
            od_cost[o, o] = 0.0
            continue
        count = _dijkstra(o, fs_start, fs_link, head, cost, active, dist, pred, order, settled, hkeys, hnodes)
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
                    y[a] += f
                    node_flow[tail[a]] += f
                    node_flow[v] = 0.0
            node_flow[order[0]] = 0.0
    return sptt


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
    fs_start, fs_link, tail, head, active, x, g, dg,
    code, so, t0, cap, pa, pb, fixed, flow_eps,
    dist, pred, order, settled, hkeys, hnodes, mark, scratch,
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
            _dijkstra(o, fs_start, fs_link, head, g, active, dist, pred, order, settled, hkeys, hnodes)
            added = 0
            for k in range(k0, k1):
                dn = od_dest_node[k]
                # trace the shortest path backwards into scratch
                n = 0
                v = dn
                while v != o:
                    a = pred[v]
                    scratch[n] = a
                    n += 1
                    v = tail[a]
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

