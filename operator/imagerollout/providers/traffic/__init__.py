"""Traffic providers: one file per provider, each a TrafficRouter."""
