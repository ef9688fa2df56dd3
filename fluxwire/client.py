"""`fluxwire.client.Client`: the same client as `flux_core.client` (the engine's package)."""
from flux_core.client import ApiError, Client, JobFailed  # noqa: F401
