"""Compiled binary heap and edge relaxation shared by the shortest-path kernels of
:mod:`solvers.assignment` and :mod:`solvers.dndp._ue`."""

from __future__ import annotations

from solvers._jit import njit


@njit(cache=True)
def _heap_push(keys, nodes, size, key, node):
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        nodes[i] = nodes[parent]
        i = parent
    keys[i] = key
    nodes[i] = node
    return size + 1


@njit(cache=True)
def _heap_pop(keys, nodes, size):
    key = keys[0]
    node = nodes[0]
    size -= 1
    if size > 0:
        last_key = keys[size]
        last_node = nodes[size]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= size:
                break
            if child + 1 < size and keys[child + 1] < keys[child]:
                child += 1
            if keys[child] >= last_key:
                break
            keys[i] = keys[child]
            nodes[i] = nodes[child]
            i = child
        keys[i] = last_key
        nodes[i] = last_node
    return key, node, size


@njit(cache=True)
def _relax(u, du, fs_start, fs_link, head, active, cost, dist, pred, hkeys, hnodes, size):
    """Relax the active links out of ``u`` (settled at ``du``); queue improvements if heaped."""
    for k in range(fs_start[u], fs_start[u + 1]):
        a = fs_link[k]
        if not active[a]:
            continue
        v = head[a]
        nd = du + cost[a]
        if nd < dist[v]:
            dist[v] = nd
            pred[v] = a
            if hkeys.shape[0] > 0:
                size = _heap_push(hkeys, hnodes, size, nd, v)
    return size
