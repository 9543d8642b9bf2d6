"""Chains of pass-through nodes contracted for the shortest-path searches of the assignment.

A node that is not a zone and whose active links join it to exactly two other nodes, either
one way (one link in from ``a``, one out to ``b``) or both ways (links in from and out to both
``a`` and ``b``, one each), only passes traffic through: every shortest path that enters it
from ``a`` leaves to ``b``.  Maximal chains of such nodes become one *compact link* from the
chain's first node to its last, whose cost is the sum of its member links' costs; a search
over the compact links finds the same distances from every node that is kept, and a compact
link on a shortest path stands for its members in order.  (The turn back to ``a`` at a
two-way node is left out: it returns to a node already reached no cheaper, so no shortest
path uses it.)  Flows are unchanged: all the flow on a chain's first link runs through all its
links.  On Berlin-Center 28,376 links become 24,568 compact links between 9,316 of the 12,981
nodes (AequilibraE 1.7's compact graph: the same 24,568 links, 9,281 nodes).

Exact: the searches give the same distances; among equally short paths they may pick another.
"""

from __future__ import annotations

import numpy as np

from solvers._jit import njit


@njit(cache=True)
def _pass_through(n_nodes, n_zones, fs_start, fs_head, fs_link, active, in_count, in_tail):
    """``True`` for nodes that only pass traffic through (see the module docstring)."""
    out = np.zeros(n_nodes, dtype=np.bool_)
    for v in range(n_zones, n_nodes):
        n_in = in_count[v]
        n_out = 0
        h0 = -1
        h1 = -1
        for k in range(fs_start[v], fs_start[v + 1]):
            if not active[fs_link[k]]:
                continue
            n_out += 1
            if n_out == 1:
                h0 = fs_head[k]
            elif n_out == 2:
                h1 = fs_head[k]
        if n_in == 1 and n_out == 1:
            out[v] = in_tail[v, 0] != h0 and h0 != v
        elif n_in == 2 and n_out == 2:
            t0, t1 = in_tail[v, 0], in_tail[v, 1]
            out[v] = (t0 != t1 and h0 != h1 and v != t0 and v != t1
                      and ((t0 == h0 and t1 == h1) or (t0 == h1 and t1 == h0)))
    return out


@njit(cache=True)
def _chains(n_nodes, fs_start, fs_head, fs_link, active, through, c_start, c_head, m_start, m_link):
    """Fill the compact forward star; returns (compact links, member slots) used."""
    nc = 0
    nm = 0
    for u in range(n_nodes):
        c_start[u] = nc
        if through[u]:
            continue
        for k in range(fs_start[u], fs_start[u + 1]):
            a = fs_link[k]
            if not active[a]:
                continue
            m_start[nc] = nm
            m_link[nm] = a
            nm += 1
            prev = u
            v = fs_head[k]
            steps = 0
            while through[v] and steps < n_nodes:
                steps += 1
                nxt = -1
                for j in range(fs_start[v], fs_start[v + 1]):
                    b = fs_link[j]
                    if active[b] and fs_head[j] != prev:
                        nxt = j
                        break
                b = fs_link[nxt]
                m_link[nm] = b
                nm += 1
                prev = v
                v = fs_head[nxt]
            c_head[nc] = v
            nc += 1
    c_start[n_nodes] = nc
    m_start[nc] = nm
    return nc, nm


def compact_forward_star(
    n_nodes: int, n_zones: int, fs_start: np.ndarray, fs_head: np.ndarray, fs_link: np.ndarray,
    tail: np.ndarray, head: np.ndarray, active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The compact forward star: ``c_start`` (per node), ``c_head`` (per compact link), and the
    members of compact link ``c``: ``m_link[m_start[c]:m_start[c + 1]]``, in path order.

    Nodes ``0 .. n_zones - 1`` (the zones) are always kept.  Compact link ids are their
    positions in the star (sorted by tail).
    """
    m = tail.size
    in_count = np.zeros(n_nodes, dtype=np.int64)
    in_tail = np.full((n_nodes, 2), -1, dtype=np.int64)
    live = np.flatnonzero(active)
    heads = head[live]
    # first two tails into each node (enough to tell a pass-through node)
    np.add.at(in_count, heads, 1)
    order = np.argsort(heads, kind="stable")
    sorted_heads = heads[order]
    first = np.searchsorted(sorted_heads, np.arange(n_nodes))
    for slot in (0, 1):
        at = first + slot
        ok = (at < sorted_heads.size) & (in_count > slot)
        in_tail[ok, slot] = tail[live[order[at[ok]]]]
    through = _pass_through(n_nodes, n_zones, fs_start, fs_head, fs_link, active, in_count, in_tail)
    c_start = np.zeros(n_nodes + 1, dtype=np.int64)
    c_head = np.empty(m, dtype=np.int64)
    m_start = np.zeros(m + 1, dtype=np.int64)
    m_link = np.empty(m, dtype=np.int64)
    nc, nm = _chains(n_nodes, fs_start, fs_head, fs_link, active, through, c_start, c_head, m_start, m_link)
    return c_start, c_head[:nc].copy(), m_start[: nc + 1].copy(), m_link[:nm].copy()


@njit(cache=True)
def _gather_compact(m_start, m_link, cost, c_cost):
    """``c_cost[c]`` = the sum of its members' ``cost``."""
    for c in range(c_cost.size):
        s = 0.0
        for j in range(m_start[c], m_start[c + 1]):
            s += cost[m_link[j]]
        c_cost[c] = s
