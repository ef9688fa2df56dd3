"""The engine, without FLUX math: node API, socket types, the workflow document, subgraphs,
validation, the node registry, the executor with its cache, run events."""
