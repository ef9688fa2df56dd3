"""Mutated and garbage documents always give a structured WorkflowError, never another exception."""
import copy
import json

from hypothesis import HealthCheck, given, settings, strategies as st

from flux_core import Executor, RunFailed, load_workflow
from flux_core.workflow import WorkflowError

from .conftest import doc

BASE = doc([("x", "Number", {"value": 2}), ("y", "Number", {"value": 3}), ("add", "Add", {}), ("out", "Sink", {}),
            ("t", "Text", {"text": "hi"}), ("f", "Fail", {"fail": 0})],
           [("x", "value", "add", "a"), ("y", "value", "add", "b"), ("add", "sum", "f", "value"),
            ("f", "value", "out", "value")])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


ALL_PATHS = [p for p in paths(BASE) if p]


@st.composite
def mutated(draw):
    d = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = d
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "swap"]))
            if action == "replace":
                parent[path[-1]] = draw(json_values)
            elif action == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(draw(st.sampled_from([BASE["nodes"][0], BASE["links"][0], "x",
                                                                       "value", 1e309, -1])))
        except (KeyError, IndexError, TypeError):
            continue
    return d


def run_checked(registry, document):
    try:
        Executor(registry).run(document)
    except RunFailed as e:  # a valid document whose Fail node was switched on: a structured runtime error
        assert e.node_id == "f"
    except WorkflowError as e:
        assert e.problems, "a WorkflowError must list at least one problem"
        for p in e.problems:
            assert isinstance(p.message, str) and p.message
        json.dumps(e.to_dict())  # the structured form is always serialisable


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=mutated())
def test_mutated_documents_give_structured_errors(registry, document):
    run_checked(registry, document)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=json_values)
def test_garbage_documents_give_structured_errors(registry, garbage):
    run_checked(registry, garbage)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_garbage_text_gives_structured_errors(registry, text):
    try:
        load_workflow(text if text.lstrip().startswith("{") else "{" + text, registry=registry)
    except WorkflowError as e:
        assert e.problems
