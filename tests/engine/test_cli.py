"""The `fluxwire` command line, run as a user runs it (a subprocess)."""
import json
import subprocess
import sys
import textwrap

import pytest

from .conftest import doc

FAILING_PACK = '''
from flux_core.node import Node, Output, Float, NodeError
class Explode(Node):
    """Always fails."""
    inputs = [Float("v", 1.0)]
    outputs = [Output("v", "FLOAT")]
    def run(self, ctx, v):
        raise NodeError("boom at %s" % v, input="v")
NODES = [Explode]
'''


def fluxwire(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "flux_core.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.fixture
def workflow_file(tmp_path):
    d = doc([("a", "FloatValue", {"value": 2}), ("b", "Math", {"b": 3, "op": "multiply"}), ("show", "ShowValue", {})],
            [("a", "value", "b", "a"), ("b", "result", "show", "value")])
    path = tmp_path / "w.json"
    path.write_text(json.dumps(d))
    return path


def test_help_is_fast_and_imports_no_torch_or_gradio():
    code = textwrap.dedent('''
        import sys, time
        t = time.perf_counter()
        from flux_core.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        print("TIME", time.perf_counter() - t)
        print("HEAVY", [m for m in ("torch", "gradio", "transformers") if m in sys.modules])
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "usage: fluxwire" in out
    assert "HEAVY []" in out


def test_run_prints_json_with_outputs_and_set_overrides(workflow_file, tmp_path):
    res = fluxwire("run", workflow_file, "--json", "--set", "a.value=5", "--output-dir", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert sorted(data["executed"]) == ["a", "b", "show"]
    assert data["outputs"]["show"]["text"] == "15.0"
    assert set(data["timings"]) == {"a", "b", "show"}


def test_validate_lists_every_problem_and_exits_2(workflow_file):
    d = json.loads(workflow_file.read_text())
    d["nodes"][1]["widgets"]["op"] = "power"
    d["nodes"].append({"id": "z", "type": "Nope", "widgets": {}})
    workflow_file.write_text(json.dumps(d))
    res = fluxwire("validate", workflow_file, "--json")
    assert res.returncode == 2
    problems = json.loads(res.stdout)["problems"]
    assert {(p["node"], p["input"]) for p in problems} == {("b", "op"), ("z", None)}
    res = fluxwire("run", workflow_file)
    assert res.returncode == 2 and "'power'" in res.stderr and "Nope" in res.stderr


def test_bad_json_exits_2_with_a_sentence(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = fluxwire("validate", bad)
    assert res.returncode == 2 and "not valid JSON" in res.stderr and "Traceback" not in res.stderr


def test_runtime_failure_exits_1_naming_the_node(tmp_path):
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "explode.py").write_text(FAILING_PACK)
    d = doc([("e", "Explode", {"v": 4}), ("show", "ShowValue", {})], [("e", "v", "show", "value")])
    path = tmp_path / "w.json"
    path.write_text(json.dumps(d))
    res = fluxwire("run", path, "--nodes-dir", packs)
    assert res.returncode == 1
    assert "'e'" in res.stderr and "Explode" in res.stderr and "boom at 4.0" in res.stderr


def test_nodes_json_is_the_catalogue(tmp_path):
    res = fluxwire("nodes", "--json", "--nodes-dir", tmp_path)
    assert res.returncode == 0
    data = json.loads(res.stdout)
    types = {n["type"]: n for n in data["nodes"]}
    assert "Math" in types and "FLOAT" in data["types"]["types"]
    res = fluxwire("nodes", "--nodes-dir", tmp_path)
    assert "Math" in res.stdout and "values:" in res.stdout
