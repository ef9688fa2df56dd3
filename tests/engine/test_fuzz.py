"""Mutated and garbage documents always give a structured WorkflowError, never another exception;
whatever loads saves as strict JSON and loads back equal."""
import copy
import json
import struct
import zlib

from hypothesis import HealthCheck, example, given, settings, strategies as st

from flux_core import Executor, RunFailed, load_workflow
from flux_core.graph import limits
from flux_core.pnginfo import WORKFLOW_KEY
from flux_core.graph.workflow import WorkflowError, dumps_document, loads_document, parse_document, read_document

from .conftest import doc

BASE = doc([("x", "Number", {"value": 2}), ("y", "Number", {"value": 3}), ("add", "Add", {}), ("out", "Sink", {}),
            ("t", "Text", {"text": "hi"}), ("f", "Fail", {"fail": 0})],
           [("x", "value", "add", "a"), ("y", "value", "add", "b"), ("add", "sum", "f", "value"),
            ("f", "value", "out", "value")])

def nested(depth, leaf=0):
    for _ in range(depth):
        leaf = [leaf]
    return leaf


# values at and past every limit: huge whole numbers, NaN/inf, lone surrogates, keys that are not text,
# deep nesting (beyond the interpreter's recursion limit too), long texts, Python values JSON cannot hold
# (huge whole numbers are built by a map: hypothesis cannot print them in a strategy's description)
hostile = st.integers(4301, 6000).map(lambda n: 10 ** n) | st.integers(4301, 6000).map(lambda n: -(10 ** n)) \
    | st.sampled_from([limits.MAX_INT, limits.MAX_INT + 1, -limits.MAX_INT - 1,
                           float("nan"), float("inf"), float("-inf"), "\ud800", "a" * (limits.MAX_STRING_CHARS + 1),
                           (1, 2), {1, 2}, b"bytes", ".", "./", ""]) \
    | st.integers(2, 3000).map(nested) \
    | st.builds(lambda k, v: {k: v}, st.none() | st.integers() | st.just((1,)), st.integers())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8)
    | hostile,
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


def assert_saves_and_reloads_equal(workflow):
    text = dumps_document(workflow)
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(f"bare {c} in saved JSON")))
    assert loads_document(text.encode("utf-8")).to_dict() == workflow.to_dict()


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
@example(garbage="\ud800")  # a text the executor reads as a path that no file system can hold
@example(garbage="doc\x00.json")
def test_garbage_documents_give_structured_errors(registry, garbage):
    run_checked(registry, garbage)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_garbage_text_gives_structured_errors(registry, text):
    try:
        load_workflow(text if text.lstrip().startswith("{") else "{" + text, registry=registry)
    except WorkflowError as e:
        assert e.problems


@settings(max_examples=300, deadline=None)
@given(document=mutated())
def test_every_document_that_loads_saves_and_reloads_equal(document):
    try:
        workflow = parse_document(document)
    except WorkflowError:
        return
    assert_saves_and_reloads_equal(workflow)


TOKENS = ["NaN", "Infinity", "-Infinity", "1e999", "7" * 5000, "[" * 3000, "\"\\ud800\"", "null", "{}", "-0",
          "9" * (limits.MAX_INT_DIGITS + 1), str(limits.MAX_INT), "1e308", "\"\\u0000\""]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_json_text_gives_structured_errors_or_reloads_equal(registry, data):
    text = dumps_document(BASE)
    spots = [i + 2 for i in range(len(text)) if text.startswith(": ", i)]
    pos = data.draw(st.sampled_from(spots))
    end = min((text.find(c, pos) for c in ",\n}" if text.find(c, pos) >= 0), default=len(text))
    token = data.draw(st.sampled_from(TOKENS))
    mutant = (text[:pos] + token + text[end:]).encode("utf-8", "surrogatepass")
    try:
        workflow = loads_document(mutant)
    except WorkflowError as e:
        assert e.problems
        return
    assert_saves_and_reloads_equal(workflow)
    run_checked(registry, workflow)


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from([b"iTXt", b"zTXt", b"tEXt"]), cut=st.integers(0, 400), compress=st.booleans(),
       junk=st.binary(max_size=12))
def test_broken_png_text_chunks_give_structured_errors(tmp_path_factory, kind, cut, compress, junk):
    text = dumps_document(BASE).encode()
    payload = zlib.compress(text) if compress else text
    header = {b"iTXt": b"\x01\x00\0\0" if compress else b"\x00\x00\0\0", b"zTXt": b"\x00", b"tEXt": b""}[kind]
    if kind == b"zTXt":
        payload = zlib.compress(text)
    body = (WORKFLOW_KEY.encode() + b"\0" + header + payload)[:cut] + junk
    picture = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) + chunk(kind, body)
               + chunk(b"IEND", b""))
    path = tmp_path_factory.mktemp("png") / "p.png"
    path.write_bytes(picture)
    try:
        workflow = read_document(path)
    except WorkflowError as e:
        assert e.problems and all(p.message for p in e.problems)
        return
    assert_saves_and_reloads_equal(workflow)
