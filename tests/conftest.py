"""Shared test setup for the whole suite.

- OpenMP threads must not spin on the shared 2-core machines (set before torch is imported).
- No test may reach out to the model hub: the machines have no network, and a test must not depend on it.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
