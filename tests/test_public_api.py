"""The small public API re-exported at the package level resolves to the real objects."""

import networks
import transit


def test_public_names_resolve():
    for package in (networks, transit):
        for name in package.__all__:
            obj = getattr(package, name)
            assert getattr(obj, "__name__", name) == name
    from networks.paths import CompiledGraph
    from transit.optimize import run_optimization

    assert networks.CompiledGraph is CompiledGraph and transit.run_optimization is run_optimization
