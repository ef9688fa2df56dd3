import pytest

from flux_core.graph.registry import Registry

from . import testpack


@pytest.fixture
def registry():
    reg = Registry()
    reg.load_builtin()
    reg.add_pack("testpack", testpack.NODES, source="tests/engine/testpack.py")
    return reg


@pytest.fixture(autouse=True)
def _reset_runs():
    testpack.reset()
    yield
    testpack.GATE.set()


def doc(nodes, links=(), **extra):
    """A workflow document from compact tuples: nodes (id, type, widgets), links (from, output, to, input)."""
    return {
        "format": "fluxwire.workflow", "version": 1, "metadata": {},
        "nodes": [{"id": i, "type": t, "widgets": dict(w)} for i, t, w in nodes],
        "links": [{"from": a, "output": o, "to": b, "input": n} for a, o, b, n in links],
        **extra,
    }
