"""From data to routable graphs: OSM ingestion, default network, shortest paths, skims."""
