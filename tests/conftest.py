"""Shared test setup: keep OpenMP threads from spinning on the shared 2-core machines."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
