"""Providers behind small Protocols: traffic routers and metric providers."""
