"""Mutated ComfyUI documents give structured WorkflowErrors (or a valid document), never another exception."""
import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from flux_core.graph.context import Environment
from flux_core.graph.registry import default_registry
from flux_core.graph.validation import check
from flux_core.graph.workflow import WorkflowError, parse_document

from .conftest import fixture

BASES = [fixture("api_schnell_split.json"), fixture("ui_dev_split.json"), fixture("ui_schnell_group_node.json"),
         fixture("ui_schnell_subgraph.json")]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


@st.composite
def mutated(draw):
    base = draw(st.sampled_from(BASES))
    d = copy.deepcopy(base)
    all_paths = [p for p in paths(base) if p]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(all_paths))
        parent = d
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "link"]))
            if action == "replace":
                parent[path[-1]] = draw(json_values)
            elif action == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = [draw(st.sampled_from(["1", "13", "99", 5])), draw(st.integers(-1, 3))]
        except (KeyError, IndexError, TypeError):
            continue
    return d


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return Environment(models_dir=tmp_path_factory.mktemp("no_models"))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=mutated())
def test_mutated_comfyui_documents_give_structured_errors(document, env):
    try:
        check(parse_document(document), default_registry(), env)
    except WorkflowError as e:
        assert e.problems and all(isinstance(p.message, str) and p.message for p in e.problems)
        json.dumps(e.to_dict())
