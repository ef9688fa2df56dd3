"""Routing jobs to workers: the one holding the job's models first, else the least busy."""
from __future__ import annotations

import json
from pathlib import Path

from web.api.routing import Router, loader_nodes, model_key

ROOT = Path(__file__).resolve().parents[2]


def test_a_job_goes_to_the_worker_holding_its_models_else_the_least_busy():
    router = Router(2, backlog=2)
    assert router.choose("A") == 0  # both idle: the first
    assert router.choose("B") == 1  # the least busy (0 holds one job)
    assert router.choose("A") == 0  # 0 holds A and has room, though it is the busier one
    assert router.choose("B") == 1
    assert router.choose("A") is None and not router.has_room()  # every worker full: the job waits
    router.done(1)
    assert router.choose("A") == 1  # A's holder is full: the least busy takes it (and now holds A too)
    assert router.models == [{"A"}, {"A", "B"}]


def test_among_holders_the_least_busy_and_between_strangers_the_one_holding_fewer_sets():
    router = Router(3, backlog=3)
    router.models = [{"A"}, {"A", "B"}, set()]
    router.jobs = [2, 1, 0]
    assert router.choose("A") == 1  # both hold A: the less busy of them, not the idle stranger
    router.jobs = [1, 1, 1]
    assert router.choose("C") == 2  # nobody holds C: equally busy, the one holding fewest sets
    router.forget(1)  # 1 was replaced by a fresh worker: it holds nothing any more
    assert router.models[1] == set()
    router.jobs = [0, 0, 0]
    assert router.choose("B") == 1  # B is held by nobody now; 1 and the others tie on jobs, 1 holds none


def test_the_models_key_names_the_loaders_files_and_settings_only():
    from flux_core.graph.executor import Executor

    document = json.loads((ROOT / "workflows" / "flux-mini.json").read_text())
    executor = Executor()
    base = model_key(executor.validate(document))
    assert model_key(executor.validate(document, {"noise.seed": 7, "prompt.text": "a cat"})) == base
    other = model_key(executor.validate(document, {"model.weight_dtype": "fp32"}))
    assert other != base and "fp32" in other and "flux-mini.safetensors" in base
    assert sorted(loader_nodes(executor.validate(document))) == ["model", "text_encoders", "vae"]
