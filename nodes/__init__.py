"""fluxwire's built-in node packs. Each module listed here has a ``NODES`` list."""

BUILTIN_PACKS = [
    "nodes.basic",
    "nodes.flux",
    "nodes.sweep",
]
