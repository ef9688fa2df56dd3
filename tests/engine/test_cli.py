"""The `fluxwire` command line, run as a user runs it (a subprocess)."""
import json
import subprocess
import sys
import textwrap

import pytest

from .conftest import doc

FAILING_PACK = '''
from flux_core.graph.node import Node, Output, Float, NodeError
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


# ------------------------------------------------------------------------------- refusals: exit 2, one message

def _png_with_itxt(body: bytes) -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"iTXt", body) + chunk(b"IEND", b""))


def _bad_documents(tmp_path, workflow_file):
    import zlib

    from flux_core.graph import limits

    text = workflow_file.read_text()
    cases = {
        "huge-int": (text.replace('"value": 2', '"value": ' + "9" * 5000), "digits"),
        "nan": (text.replace('"value": 2', '"value": NaN'), "NaN"),
        "deep": ('{"extra": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
        "surrogate": (text.replace('"op": "multiply"', '"op": "\\ud800"'), "surrogate"),
        "not-utf8": (b"\xff\xfe{}", "not UTF-8"),
        "short-itxt.png": (_png_with_itxt(b"fluxwire.workflow\0"), "too short"),
        "bomb.png": (_png_with_itxt(b"fluxwire.workflow\0\x01\x00\0\0"
                                    + zlib.compress(b" " * (limits.MAX_DOCUMENT_BYTES + 1), 9)), "inflates"),
        "model-dot": (json.dumps(doc([("vae", "LoadVAE", {"vae_name": "."})])), "not a model file name"),
    }
    for name, (content, words) in cases.items():
        path = tmp_path / (name if name.endswith(".png") else name + ".json")
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
        yield name, path, words


def test_every_invalid_document_exits_2_with_a_message_never_a_traceback(tmp_path, workflow_file, capsys):
    from flux_core.cli import main

    for name, path, words in _bad_documents(tmp_path, workflow_file):
        for command in (["validate", str(path)], ["validate", str(path), "--json"],
                        ["run", str(path), "--output-dir", str(tmp_path / "out")]):
            assert main(command) == 2, (name, command)
            out, err = capsys.readouterr()
            assert words in out + err, (name, command, out, err)
            if "--json" in command:
                assert json.loads(out)["problems"]
    assert not (tmp_path / "out").exists()  # nothing ran


def test_a_directory_and_a_missing_file_exit_2(tmp_path):
    res = fluxwire("validate", tmp_path)
    assert res.returncode == 2 and "cannot read the file" in res.stderr and "Traceback" not in res.stderr
    res = fluxwire("run", tmp_path / "missing.json")
    assert res.returncode == 2 and "cannot read the file" in res.stderr and "Traceback" not in res.stderr


def test_bad_settings_exit_2_with_one_sentence_naming_them(tmp_path, workflow_file):
    import os

    env = dict(os.environ, FLUXWIRE_CACHE_BYTES="1e9 bytes please")
    res = subprocess.run([sys.executable, "-m", "flux_core.cli", "run", str(workflow_file)], capture_output=True,
                         text=True, env=env, timeout=120, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]  # one line
    assert "FLUXWIRE_CACHE_BYTES is '1e9 bytes please'" in res.stderr and "512MiB" in res.stderr
    env = dict(os.environ, FLUXWIRE_CACHE_BYTES="1e9")  # accepted: scientific notation, and sizes like 8GB
    res = subprocess.run([sys.executable, "-m", "flux_core.cli", "run", str(workflow_file), "--cache-bytes", "8GB",
                          "--output-dir", str(tmp_path / "out")], capture_output=True, text=True, env=env,
                         timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_bad_number_options_are_refused_by_name(capsys):
    from flux_core.cli import main

    for argv, words in ((["run", "w.json", "--cache-bytes", "-5"], "--cache-bytes"),
                        (["run", "w.json", "--device", "gpu"], "'gpu' is not a device"),
                        (["serve", "--port", "99999"], "not a port number")):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        assert words in capsys.readouterr().err


def test_bad_device_setting_is_refused_before_any_work(monkeypatch, capsys, workflow_file):
    from flux_core.cli import main

    monkeypatch.setenv("FLUXWIRE_DEVICE", "gpu")
    assert main(["validate", str(workflow_file)]) == 2
    assert "FLUXWIRE_DEVICE is 'gpu'" in capsys.readouterr().err
