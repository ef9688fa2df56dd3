"""Other tools' documents in and out: one sub-package per tool, each with one table of node twins."""
