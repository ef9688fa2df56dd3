"""Shared test setup for the whole suite.

- OpenMP threads must not spin on the shared 2-core machines (set before torch is imported).
- No test may reach out to the model hub: the machines have no network, and a test must not depend on it.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# CI runs once and must not fail on an example nobody has seen: there the hypothesis tests replay a fixed
# sequence of examples; on developer machines they keep exploring new ones.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
