"""Node packs that misbehave, written as real files into a nodes folder: the rest of fluxwire keeps working
and every problem names the pack, the node and what to fix (issue 9, part 5)."""
import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from flux_core.graph import node as node_api
from flux_core.graph.executor import Executor, RunFailed
from flux_core.graph.registry import discover
from flux_core.graph.workflow import WorkflowError

from .conftest import doc

GOOD = '''
from flux_core.graph.node import Node, Output, Float
class GoodNode(Node):
    """Still here when its neighbours break."""
    inputs = [Float("v", 1.0)]
    outputs = [Output("v", "FLOAT")]
    def run(self, ctx, v):
        return v
NODES = [GoodNode]
'''

BROKEN_PACKS = {
    "choices_raise.py": '''
        from flux_core.graph.node import Node, Output, Combo
        def _listing(ctx):
            raise RuntimeError("the plugin's server is down")
        class RaisingChoices(Node):
            """Its choices function raises."""
            inputs = [Combo("pick", _listing, "a")]
            outputs = [Output("text", "STRING")]
            def run(self, ctx, pick):
                return pick
        NODES = [RaisingChoices]
    ''',
    "choices_hang.py": '''
        import threading
        from flux_core.graph.node import Node, Output, Combo
        ASKED = []
        def _never_answers(ctx):
            ASKED.append(ctx)
            threading.Event().wait()
        class HangingChoices(Node):
            """Its choices function never answers."""
            inputs = [Combo("pick", _never_answers, "a")]
            outputs = [Output("text", "STRING")]
            def run(self, ctx, pick):
                return pick
        NODES = [HangingChoices]
    ''',
    "choices_not_text.py": '''
        from flux_core.graph.node import Node, Output, Combo
        class NumberChoices(Node):
            """Its choices are numbers."""
            inputs = [Combo("pick", lambda ctx: [1, 2, 3], "1")]
            outputs = [Output("text", "STRING")]
            def run(self, ctx, pick):
                return pick
        NODES = [NumberChoices]
    ''',
    "choices_static_bad.py": '''
        from flux_core.graph.node import Node, Output, Combo
        class Exploding:
            def __bool__(self):
                return True
            def __iter__(self):
                raise OSError("cannot list the folder")
        class StaticBadChoices(Node):
            """Its fixed list cannot be read."""
            inputs = [Combo("pick", Exploding(), "a")]
            outputs = [Output("text", "STRING")]
            def run(self, ctx, pick):
                return pick
        NODES = [StaticBadChoices]
    ''',
    "syntax_error.py": "from flux_core.graph.node import Node\ndef broken(:\n    pass\n",
    "import_error.py": "import fluxwire_plugin_dependency_that_is_missing\n",
    "exit_on_import.py": "import sys\nsys.exit(0)\n",
    "bad_declarations.py": '''
        from flux_core.graph.node import Node, Output, Float
        class NoList(Node):
            """inputs is not a list."""
            inputs = None
            outputs = [Output("v", "FLOAT")]
            def run(self, ctx):
                return 1.0
        class NumberDoc(Node):
            __doc__ = 42
            outputs = [Output("v", "FLOAT")]
            def run(self, ctx):
                return 1.0
        class NoCategory(Node):
            """category is not text."""
            category = None
            outputs = [Output("v", "FLOAT")]
            def run(self, ctx):
                return 1.0
        class NotSockets(Node):
            """outputs holds strings."""
            outputs = ["v"]
            def run(self, ctx):
                return 1.0
        class NoRun(Node):
            """Forgot run."""
            outputs = [Output("v", "FLOAT")]
        class FineInBadCompany(Node):
            """Declared correctly."""
            outputs = [Output("v", "FLOAT")]
            def run(self, ctx):
                return 2.0
        NODES = [NoList, NumberDoc, NoCategory, NotSockets, NoRun, "not a class", FineInBadCompany]
    ''',
    "nodes_not_a_list.py": "NODES = 5\n",
}

RUN_PACK = '''
import sys
from flux_core.graph.node import Node, Output, Input, Float
class Swallowed(BaseException):
    pass
class WrongFloat(Node):
    """Declares FLOAT, returns text."""
    outputs = [Output("v", "FLOAT")]
    def run(self, ctx):
        return "three"
class WrongImage(Node):
    """Declares IMAGE, returns a list."""
    outputs = [Output("image", "IMAGE")]
    def run(self, ctx):
        return [[0.5]]
class Quitter(Node):
    """Calls sys.exit(0) in run."""
    inputs = [Float("v", 1.0)]
    outputs = [Output("v", "FLOAT")]
    def run(self, ctx, v):
        sys.exit(0)
class BaseRaiser(Node):
    """Raises a BaseException that is not an Exception."""
    inputs = [Float("v", 1.0)]
    outputs = [Output("v", "FLOAT")]
    def run(self, ctx, v):
        raise Swallowed("not an Exception")
NODES = [WrongFloat, WrongImage, Quitter, BaseRaiser]
'''


def fluxwire(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "flux_core.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


@pytest.fixture
def broken_folder(tmp_path):
    folder = tmp_path / "custom_nodes"
    write(folder, "good.py", GOOD)
    for name, text in BROKEN_PACKS.items():
        write(folder, name, text)
    return folder


@pytest.fixture
def quick_choices(monkeypatch):
    monkeypatch.setattr(node_api, "CHOICES_SECONDS", 0.5)


def _problems_of(problems, pack):
    return [p for p in problems if f"'{pack}'" in p]


def test_every_broken_pack_is_reported_by_name_and_the_rest_loads(broken_folder, quick_choices):
    reg = discover(broken_folder, entry_points=False)
    catalogue = {d["type"] for d in reg.describe()}
    assert {"GoodNode", "FineInBadCompany", "Math", "SaveImage"} <= catalogue
    assert not catalogue & {"RaisingChoices", "HangingChoices", "NumberChoices", "StaticBadChoices", "NoList",
                            "NumberDoc", "NoCategory", "NotSockets", "NoRun"}
    problems = reg.problems
    expect = {  # pack -> words its report must contain (the node and what went wrong)
        "choices_raise": ["RaisingChoices", "'pick'", "server is down", "fix"],
        "choices_hang": ["HangingChoices", "'pick'", "did not answer", "fix"],
        "choices_not_text": ["NumberChoices", "'pick'", "must be text"],
        "choices_static_bad": ["StaticBadChoices", "'pick'", "cannot list the folder", "fix"],
        "syntax_error": ["SyntaxError", "syntax_error.py:2", "fix"],
        "import_error": ["fluxwire_plugin_dependency_that_is_missing", "import_error.py:1", "install"],
        "exit_on_import": ["sys.exit(0)", "exit_on_import.py:2"],
        "nodes_not_a_list": ["NODES", "list"],
    }
    for pack, words in expect.items():
        found = _problems_of(problems, pack)
        assert found, f"{pack} is not reported: {problems}"
        assert all(any(w in p for p in found) for w in words), (pack, found)
    decl = " ".join(_problems_of(problems, "bad_declarations"))
    for words in (["'NoList'", "inputs must be a list"], ["'NumberDoc'", "docstring must be text"],
                  ["'NoCategory'", "category must be text"], ["'NotSockets'", "Output declarations"],
                  ["'NoRun'", "no run method"], ["'not a class'", "not a Node subclass"]):
        assert all(w in decl for w in words), (words, decl)
    assert "FineInBadCompany" not in decl and "fix its class declaration" in decl


def test_a_hanging_choices_function_is_asked_once(broken_folder, quick_choices):
    reg = discover(broken_folder, entry_points=False)
    for _ in range(3):
        assert "HangingChoices" not in {d["type"] for d in reg.describe()}
    assert len(sys.modules["fluxwire_custom_nodes.choices_hang"].ASKED) == 1  # no new stuck thread per catalogue
    assert len(_problems_of(reg.problems, "choices_hang")) == 1  # reported once, not once per catalogue


def test_documents_using_a_node_with_broken_choices_are_refused_naming_node_and_input(broken_folder,
                                                                                      quick_choices, tmp_path):
    ex = Executor(discover(broken_folder, entry_points=False), output_dir=tmp_path / "out")
    for node_type in ("RaisingChoices", "HangingChoices", "NumberChoices"):
        with pytest.raises(WorkflowError) as e:
            ex.run(doc([("p", node_type, {"pick": "a"}), ("show", "ShowValue", {})], [("p", "text", "show", "value")]))
        (problem,) = e.value.problems
        assert (problem.node, problem.input) == ("p", "pick") and "choices" in problem.message
    assert ex.run(doc([("g", "GoodNode", {"v": 3}), ("show", "ShowValue", {})],
                      [("g", "v", "show", "value")])).ui["show"]["text"]


def test_nodes_json_survives_broken_packs(broken_folder):
    (broken_folder / "choices_hang.py").unlink()  # costs CHOICES_SECONDS per process; tested in-process above
    res = fluxwire("nodes", "--json", "--nodes-dir", broken_folder)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    types = {n["type"] for n in data["nodes"]}
    assert "GoodNode" in types and "Math" in types and "RaisingChoices" not in types
    assert any("choices_raise" in p and "RaisingChoices" in p for p in data["problems"])
    assert any("syntax_error" in p for p in data["problems"])
    res = fluxwire("nodes", "--nodes-dir", broken_folder)
    assert res.returncode == 0 and "GoodNode" in res.stdout


@pytest.mark.slow
def test_serve_starts_with_broken_packs(broken_folder, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "flux_core.cli", "serve", "--port", str(port), "--nodes-dir",
                               broken_folder, "--output-dir", tmp_path / "out"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, page = time.time() + 120, None
        while time.time() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert server.poll() is None, server.communicate()[1][-2000:]
        assert page is not None and "fluxwire" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as r:
            config = r.read().decode()  # the canvas component's catalogue is part of the page's config
        assert "GoodNode" in config and "RaisingChoices" in config and "left out of the catalogue" in config
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def run_pack(tmp_path):
    folder = tmp_path / "run_nodes"
    write(folder, "misbehaving.py", RUN_PACK)
    return folder


@pytest.mark.parametrize("source,output,sink,sink_input,words", [
    ("WrongFloat", "v", "Math", "a", ["WrongFloat", "misbehaving", "'three'", "FLOAT"]),
    ("WrongImage", "image", "SaveImage", "images", ["WrongImage", "misbehaving", "list", "IMAGE"]),
])
def test_a_wrong_typed_output_is_blamed_on_the_node_that_made_it(run_pack, tmp_path, source, output, sink,
                                                                 sink_input, words):
    ex = Executor(discover(run_pack, entry_points=False), output_dir=tmp_path / "out")
    with pytest.raises(RunFailed) as e:
        ex.run(doc([("bad", source, {}), ("next", sink, {})], [("bad", output, "next", sink_input)]),
               outputs=["next"])
    assert e.value.node_id == "bad" and e.value.node_type == source
    assert all(w in e.value.message for w in words), e.value.message
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_latent_that_is_not_a_latent_is_blamed_on_its_maker(tmp_path):
    write(tmp_path / "packs", "fake_latent.py", '''
        import torch
        from flux_core.graph.node import Node, Output
        class BareTensorLatent(Node):
            """Returns a bare tensor where a LATENT is declared."""
            outputs = [Output("latent", "LATENT")]
            def run(self, ctx):
                return torch.zeros(1, 16, 8, 8)
        NODES = [BareTensorLatent]
    ''')
    ex = Executor(discover(tmp_path / "packs", entry_points=False), output_dir=tmp_path / "out")
    with pytest.raises(RunFailed) as e:
        ex.run(doc([("z", "BareTensorLatent", {}), ("show", "ShowValue", {})], [("z", "latent", "show", "value")]))
    assert e.value.node_id == "z" and "LATENT" in e.value.message and "[1, 16, 8, 8]" in e.value.message


@pytest.mark.parametrize("node_type,words", [("Quitter", ["sys.exit(0)"]), ("BaseRaiser", ["Swallowed"])])
def test_a_node_ending_the_process_is_a_node_failure_with_exit_1(run_pack, tmp_path, node_type, words):
    path = tmp_path / "w.json"
    path.write_text(json.dumps(doc([("q", node_type, {"v": 2}), ("show", "ShowValue", {})],
                                   [("q", "v", "show", "value")])))
    res = fluxwire("run", path, "--nodes-dir", run_pack, "--json")
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    summary = json.loads(res.stdout)
    assert summary["status"] == "error" and summary["error"]["node"] == "q"
    assert all(w in summary["error"]["message"] for w in words) and "'q'" in res.stderr


def test_sys_exit_in_check_or_fingerprint_is_reported_not_obeyed(tmp_path):
    """A plugin's check() calling sys.exit is a validation problem naming the node (exit 2); one in
    fingerprint() only means "never reuse", and run() then decides."""
    write(tmp_path / "packs", "exits.py", '''
        import sys
        from flux_core.graph.node import Node, Output, Float
        class ExitInCheck(Node):
            """Quits while being checked."""
            inputs = [Float("v", 1.0)]
            outputs = [Output("v", "FLOAT")]
            @classmethod
            def check(cls, ctx, **widgets):
                sys.exit(0)
            def run(self, ctx, v):
                return v
        class ExitInFingerprint(Node):
            """Quits while its signature is computed."""
            inputs = [Float("v", 1.0)]
            outputs = [Output("v", "FLOAT")]
            @classmethod
            def fingerprint(cls, env, **widgets):
                sys.exit(0)
            def run(self, ctx, v):
                return v * 2
        NODES = [ExitInCheck, ExitInFingerprint]
    ''')
    checked = tmp_path / "check.json"
    checked.write_text(json.dumps(doc([("q", "ExitInCheck", {"v": 2}), ("show", "ShowValue", {})],
                                      [("q", "v", "show", "value")])))
    res = fluxwire("validate", checked, "--nodes-dir", tmp_path / "packs")
    assert res.returncode == 2 and "'q'" in res.stderr and "SystemExit" in res.stderr, (res.returncode, res.stderr)
    ex = Executor(discover(tmp_path / "packs", entry_points=False), output_dir=tmp_path / "out")
    result = ex.run(doc([("f", "ExitInFingerprint", {"v": 2}), ("show", "ShowValue", {})],
                        [("f", "v", "show", "value")]))
    assert result.outputs["f"]["v"] == 4.0
    again = ex.run(doc([("f", "ExitInFingerprint", {"v": 2}), ("show", "ShowValue", {})],
                       [("f", "v", "show", "value")]))
    assert "f" in again.executed  # a failed fingerprint is never reused
