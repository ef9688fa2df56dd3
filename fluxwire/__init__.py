"""`fluxwire` as an import name for scripts: the API client lives at `fluxwire.client` (see flux_core)."""
