"""Compiled accumulation of arc attributes along shortest-path trees (see :func:`networks.paths.path_sums`)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def tree_sums(dist, pred, indptr, heads, values, targets):  # pragma: no cover - compiled
    n_attr = values.shape[0]
    n_src, n = dist.shape
    out = np.zeros((n_attr, n_src, targets.shape[0]))
    acc = np.zeros((n_attr, n))
    for s in range(n_src):
        order = np.argsort(dist[s])
        acc[:, :] = 0.0
        for k in range(n):
            v = order[k]
            if not np.isfinite(dist[s, v]):
                break
            u = pred[s, v]
            if u < 0:
                continue
            arc = -1
            for e in range(indptr[u], indptr[u + 1]):
                if heads[e] == v:
                    arc = e
                    break
            for a in range(n_attr):
                acc[a, v] = acc[a, u] + values[a, arc]
        for t in range(targets.shape[0]):
            for a in range(n_attr):
                out[a, s, t] = acc[a, targets[t]]
    return out
