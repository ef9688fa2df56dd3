"""The one exception loaders raise for problems a user can cause (wrong, broken or missing files)."""
from __future__ import annotations


class ModelLoadError(ValueError):
    """A model file or folder cannot be loaded; the message names the file and the offending keys."""


def first_keys(keys, limit: int = 5) -> str:
    """Render up to ``limit`` keys (sorted) for an error message, with a count of the rest."""
    keys = sorted(keys)
    shown = ", ".join(repr(k) for k in keys[:limit])
    more = len(keys) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")
