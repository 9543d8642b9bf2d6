"""Origin-destination demand between zones: a documented gravity model.

``T_ij = k * P_i**alpha * P_j**beta / max(d_ij, d_min)**gamma`` for i != j, with P the
population (``data/cities.csv``), d the great-circle distance in km and k chosen so that
all ordered pairs sum to ``total_trips`` (trips per day), times the scenario ``growth``.
The parameters live in the ``[demand]`` table of the configuration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from networks.geometry import haversine_km

__all__ = ["gravity_demand"]


def gravity_demand(cities: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Daily trips per ordered zone pair: columns ``origin``, ``destination``, ``demand``."""
    params = config["demand"]
    names = list(cities["name_en"])
    lon = cities["lon"].to_numpy(float)
    lat = cities["lat"].to_numpy(float)
    pop = cities["population"].to_numpy(float)
    dist = haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    dist = np.maximum(dist, params["min_distance_km"])
    attraction = (pop[:, None] ** params["alpha"]) * (pop[None, :] ** params["beta"]) / dist ** params["gamma"]
    np.fill_diagonal(attraction, 0.0)
    scale = params["total_trips"] * params["growth"] / attraction.sum() if attraction.sum() > 0 else 0.0
    trips = attraction * scale
    i, j = np.nonzero(~np.eye(len(names), dtype=bool))
    return pd.DataFrame({
        "origin": [names[a] for a in i],
        "destination": [names[b] for b in j],
        "distance_km": dist[i, j],
        "demand": trips[i, j],
    })
