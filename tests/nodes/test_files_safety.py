"""Path attacks on every node that reads or writes a file (issue 9, part 2): hostile names, links lying in
the folders and pointing out, Windows paths, NUL bytes, over-long names. Each attack is either refused with
the project's error naming the input, or lands inside its folder; nothing outside a folder is created,
changed or read. The tests count escapes and require zero."""
import base64
import gc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from flux_core import Executor, RunFailed, WorkflowError
from flux_core.graph.context import Environment
from flux_core.files import UnsafeName, check_name, replace_file, write_new, write_numbered
from flux_core.model_folders import FOLDERS, ModelNameError, resolve
from flux_core.graph.workflow import save_document

EXAMPLE = Path(__file__).resolve().parents[2] / "workflows" / "input" / "example.png"
HOSTILE = [  # names that must be refused wherever a name is expected
    "../escape", "../../escape", "sub/../../escape", "..", ".", "", "a//b", "./x", "x/./y", "sub/..",
    "..\\escape", "sub\\..\\..\\escape", "C:\\escape", "C:escape", "c:/escape", "\\\\server\\share\\x",
    "x\0y", "\0", "x\ny", "x\ty", "x\x7f", "con", "CON.png", "sub/aux", "nul.txt", "com1", "LPT9.png",
    "x ", " x", "x.", "sub./x", ".hidden", "sub/.x", "a" * 300, "/".join(["d"] * 20), "é" * 200,
    "/".join(["abcdefghij" * 10] * 11),
]
ALLOWED = ["sub/name", "%2e%2e/x", "~/x", "$HOME/x", "ünïcode/名前", "a..b", "x...y", "x-y_z.1"]


def absolute_attacks(outside: Path) -> list[str]:
    return [str(outside / "escape"), str(outside) + "/", "/etc/passwd", "//double/escape"]


def snapshot(root: Path, *inside: Path) -> dict:
    """Every entry under `root` outside the given folders: path -> (kind, size, mtime)."""
    skip = {str(p) for p in inside}
    out = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        if any(folder == s or folder.startswith(s + os.sep) for s in skip):
            continue
        for name in dirs + files:
            path = os.path.join(folder, name)
            if path in skip:
                continue
            st = os.lstat(path)
            out[path] = (st.st_mode >> 12, st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def sandbox(tmp_path):
    """out/, in/, models/ and an outside/ folder with a secret the attacks try to reach."""
    for sub in ("out", "in", "outside", "outside/dir"):
        (tmp_path / sub).mkdir()
    Image.new("RGB", (32, 16), (1, 2, 3)).save(tmp_path / "outside" / "secret.png")
    (tmp_path / "outside" / "secret.safetensors").write_bytes(b"not weights")
    models = tmp_path / "models"
    for subs in FOLDERS.values():
        for sub in subs:
            (models / sub).mkdir(parents=True, exist_ok=True)
    (models / "vae" / "ae.safetensors").write_bytes(b"placeholder")
    return tmp_path


def save_doc(prefix, node="SaveImage"):
    widgets = {"filename_prefix": prefix} if node == "SaveImage" else {}
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {},
            "nodes": [{"id": "load", "type": "LoadImage", "widgets": {"image": "example.png", "fit": "none"}},
                      {"id": "save", "type": node, "widgets": widgets}],
            "links": [{"from": "load", "output": "image", "to": "save", "input": "images"}]}


def executor(sandbox):
    return Executor(models_dir=sandbox / "models", output_dir=sandbox / "out", input_dir=sandbox / "in",
                    cache_bytes=0)


# ----------------------------------------------------------------------------- SaveImage

def test_save_image_prefixes_are_names_not_paths(sandbox):
    ex, outside = executor(sandbox), sandbox / "outside"
    before = snapshot(sandbox, sandbox / "out")
    refused, escaped = 0, []
    for prefix in HOSTILE + absolute_attacks(outside):
        try:
            result = ex.run(save_doc(prefix))
        except RunFailed as e:
            assert e.input == "filename_prefix" and e.node_id == "save", e
            refused += 1
            continue
        escaped.append((prefix, result.ui["save"]["images"]))
    for prefix in ALLOWED:
        (path,) = ex.run(save_doc(prefix)).ui["save"]["images"]
        real = Path(path).resolve()
        assert (sandbox / "out").resolve() in real.parents and real.name.startswith(prefix.rsplit("/", 1)[-1])
        with Image.open(real) as im, Image.open(EXAMPLE) as original:
            assert im.size == original.size
    assert escaped == [] and refused == len(HOSTILE) + 4
    assert snapshot(sandbox, sandbox / "out") == before
    assert not Path("/etc/passwd_00001.png").exists()


@pytest.fixture(params=["dir_fd", "paths"])
def folder_mode(request, monkeypatch):
    """Both ways flux_core.files works: relative to open folders (POSIX) and by checked paths (Windows)."""
    from flux_core import files

    if request.param == "paths":
        monkeypatch.setattr(files, "_DIR_FDS", False)
    return request.param


def test_save_image_never_writes_through_links_lying_in_the_output_folder(sandbox, folder_mode):
    ex, out, outside = executor(sandbox), sandbox / "out", sandbox / "outside"
    secret = outside / "secret.png"
    original = secret.read_bytes()
    (out / "fluxwire_00001.png").symlink_to(secret)              # a link under the next name
    (out / "fluxwire_00002.png").symlink_to(outside / "made.png")  # a dangling link under the one after
    (out / "linked").symlink_to(outside / "dir", target_is_directory=True)  # a sub-folder that leaves
    (out / "real").mkdir()
    (out / "real" / "deeper").symlink_to(outside, target_is_directory=True)
    (path,) = ex.run(save_doc("fluxwire")).ui["save"]["images"]
    assert Path(path).name == "fluxwire_00003.png" and not Path(path).is_symlink()
    refused = 0
    for prefix in ("linked/x", "real/deeper/x", "fluxwire_00001.png/x"):
        with pytest.raises(RunFailed) as e:
            ex.run(save_doc(prefix))
        assert e.value.input == "filename_prefix" and ("link" in e.value.message or "folder" in e.value.message)
        refused += 1
    assert refused == 3
    assert secret.read_bytes() == original and not (outside / "made.png").exists()
    assert sorted(p.name for p in (outside / "dir").iterdir()) == []
    assert sorted(p.name for p in outside.iterdir()) == ["dir", "secret.png", "secret.safetensors"]


def test_the_output_folder_itself_may_be_a_link_the_user_chose(sandbox):
    real = sandbox / "big-disk"
    real.mkdir()
    (sandbox / "out-link").symlink_to(real, target_is_directory=True)
    ex = Executor(models_dir=sandbox / "models", output_dir=sandbox / "out-link", input_dir=sandbox / "in")
    (path,) = ex.run(save_doc("portraits/fox")).ui["save"]["images"]
    assert (real / "portraits" / "fox_00001.png").is_file() and path.endswith("fox_00001.png")


# ----------------------------------------------------------------------------- PreviewImage

def test_previews_live_in_a_private_folder_that_is_removed(sandbox):
    env_a, env_b = Environment(temp_dir=sandbox / "tmp"), Environment(temp_dir=sandbox / "tmp")
    a, b = env_a.preview_dir, env_b.preview_dir
    assert a != b and a.parent == b.parent == sandbox / "tmp"
    assert (a.stat().st_mode & 0o777) == 0o700
    del env_a
    gc.collect()
    assert not a.exists() and b.exists()


def test_preview_image_writes_only_into_its_own_folder(sandbox):
    ex = executor(sandbox)
    ex.env.temp_dir = sandbox / "tmp"
    before = snapshot(sandbox, sandbox / "tmp")
    folder = ex.env.preview_dir
    (folder / "preview_save_00001.png").symlink_to(sandbox / "outside" / "secret.png")
    (path,) = ex.run(save_doc(None, node="PreviewImage")).ui["save"]["images"]
    assert Path(path).parent == folder and Path(path).name == "preview_save_00002.png"
    assert snapshot(sandbox, sandbox / "tmp") == before


def test_hostile_node_ids_do_not_steer_preview_names(sandbox):
    ex = executor(sandbox)
    ex.env.temp_dir = sandbox / "tmp"
    doc = save_doc(None, node="PreviewImage")
    doc["nodes"][1]["id"] = doc["links"][0]["to"] = "../../outside/pwned"
    (path,) = ex.run(doc).ui["../../outside/pwned"]["images"]
    assert Path(path).parent == ex.env.preview_dir and not list((sandbox / "outside").glob("*pwned*"))


def test_previews_of_a_killed_server_are_removed_at_the_next_start(sandbox):
    code = ("import os, sys; from flux_core.graph.context import Environment; "
            "e = Environment(temp_dir=sys.argv[1]); print(e.preview_dir, flush=True); os.kill(os.getpid(), 9)")
    res = subprocess.run([sys.executable, "-c", code, str(sandbox / "tmp")], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    stale = Path(res.stdout.strip())
    assert res.returncode == -9 and stale.is_dir()
    (stale / "preview_x_00001.png").write_bytes(b"left behind")
    env = Environment(temp_dir=sandbox / "tmp")
    assert env.preview_dir.is_dir() and not stale.exists()


# ----------------------------------------------------------------------------- LoadImage

def test_load_image_names_never_read_outside_the_input_folder(sandbox):
    from flux_core.graph.node import NodeError
    from nodes.flux.folders import input_image_path

    env = Environment(input_dir=sandbox / "in")
    (sandbox / "in" / "leak.png").symlink_to(sandbox / "outside" / "secret.png")
    (sandbox / "in" / "dirlink").symlink_to(sandbox / "outside", target_is_directory=True)
    Image.new("RGB", (16, 16)).save(sandbox / "in" / "fine.png")
    names = HOSTILE + absolute_attacks(sandbox / "outside") + [
        "leak.png", "dirlink/secret.png", "../outside/secret.png", str(sandbox / "outside" / "secret.png")]
    refused, escaped = 0, []
    for name in names:
        try:
            escaped.append((name, input_image_path(env, name)))
        except NodeError as e:
            assert e.input == "image"
            refused += 1
    assert escaped == [] and refused == len(names)
    assert input_image_path(env, "fine.png") == (sandbox / "in" / "fine.png").resolve()

    ex = executor(sandbox)  # through a run: validation or the node refuses, naming the input
    for name in ("leak.png", "dirlink/secret.png", "../outside/secret.png", "x\0y"):
        doc = save_doc("ok")
        doc["nodes"][0]["widgets"]["image"] = name
        with pytest.raises((WorkflowError, RunFailed)) as e:
            ex.run(doc)
        where = (e.value.problems[0].node, e.value.problems[0].input) if isinstance(e.value, WorkflowError) \
            else (e.value.node_id, e.value.input)
        assert where == ("load", "image")
    assert list((sandbox / "out").iterdir()) == []


def test_load_image_reports_a_truncated_picture(sandbox):
    buf = io.BytesIO()
    Image.effect_noise((128, 128), 50).convert("RGB").save(buf, "PNG")
    (sandbox / "in" / "cut.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(RunFailed) as e:
        executor(sandbox).run(dict(save_doc("x"), nodes=[
            {"id": "load", "type": "LoadImage", "widgets": {"image": "cut.png", "fit": "none"}},
            {"id": "save", "type": "SaveImage", "widgets": {"filename_prefix": "x"}}]))
    assert e.value.input == "image" and "cut.png" in e.value.message and "truncated" in e.value.message


# ----------------------------------------------------------------------------- model loaders

def test_model_names_never_resolve_outside_their_folder(sandbox):
    models, outside = sandbox / "models", sandbox / "outside"
    for kind, subs in FOLDERS.items():
        (models / subs[0] / "leak.safetensors").symlink_to(outside / "secret.safetensors")
        (models / subs[0] / "leakdir").symlink_to(outside, target_is_directory=True)
    names = HOSTILE + absolute_attacks(outside) + ["leak.safetensors", "leakdir/secret.safetensors",
                                                   "../../outside/secret.safetensors"]
    refused, escaped = 0, []
    for kind in FOLDERS:
        for name in names:
            try:
                escaped.append((kind, name, resolve(kind, name, models)))
            except ModelNameError:
                refused += 1
    assert escaped == [] and refused == len(FOLDERS) * len(names)
    assert resolve("vae", "ae.safetensors", models) == (models / "vae" / "ae.safetensors").resolve()


@pytest.mark.parametrize("node_type,widget", [
    ("LoadDiffusionModel", "model_name"), ("LoadTextEncoders", "t5_name"), ("LoadTextEncoders", "clip_name"),
    ("LoadVAE", "vae_name"), ("LoadCheckpoint", "ckpt_name"), ("LoadDiffusersFolder", "folder_name")])
def test_every_loader_refuses_hostile_names_before_running(sandbox, node_type, widget):
    (sandbox / "models" / FOLDERS[{"model_name": "diffusion_models", "t5_name": "text_encoders",
                                    "clip_name": "text_encoders", "vae_name": "vae", "ckpt_name": "checkpoints",
                                    "folder_name": "diffusers"}[widget]][0] / "leak").symlink_to(sandbox / "outside")
    ex = executor(sandbox)
    for name in ("../outside/secret.safetensors", str(sandbox / "outside" / "secret.safetensors"),
                 "leak/secret.safetensors", "..\\x", "x\0y", "a" * 300):
        doc = {"format": "fluxwire.workflow", "version": 1, "metadata": {},
               "nodes": [{"id": "loader", "type": node_type, "widgets": {widget: name}}], "links": []}
        with pytest.raises(WorkflowError) as e:
            ex.validate(doc)
        assert any((p.node, p.input) == ("loader", widget) for p in e.value.problems), e.value


# ----------------------------------------------------------------------------- uploads and documents

def _upload(name, color=(9, 8, 7)):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return {"name": name, "data": base64.b64encode(buf.getvalue()).decode()}


def test_uploads_land_inside_the_input_folder_whatever_their_name(sandbox):
    from web.canvas import save_uploaded_image

    ex = executor(sandbox)
    inputs, outside = sandbox / "in", sandbox / "outside"
    (inputs / "victim.png").symlink_to(outside / "secret.png")
    (inputs / "ghost.png").symlink_to(outside / "ghost.png")  # dangling
    before = snapshot(sandbox, inputs)
    names = [n + ".png" for n in HOSTILE] + [n + ".png" for n in absolute_attacks(outside)] + \
        ["victim.png", "ghost.png", "con.png", "..png", "x/../../../escape.png", "C:\\x.png"]
    escaped = []
    for i, name in enumerate(names):
        answer = save_uploaded_image(_upload(name, (i % 256, 1, 2)), ex)
        if answer["ok"]:
            stored = inputs / answer["name"]
            if stored.is_symlink() or inputs.resolve() not in stored.resolve().parents:
                escaped.append((name, answer))
    assert escaped == []
    assert snapshot(sandbox, inputs) == before
    assert not (outside / "ghost.png").exists()
    assert all(not n.endswith(".fluxwire-tmp") for n in os.listdir(inputs))


def test_saving_a_document_replaces_a_link_instead_of_writing_through_it(sandbox):
    secret = sandbox / "outside" / "secret.json"
    secret.write_text("keep")
    target = sandbox / "docs" / "w.json"
    target.parent.mkdir()
    target.symlink_to(secret)
    save_document(json.loads(json.dumps(save_doc("x"))), target)
    assert secret.read_text() == "keep" and not target.is_symlink()
    assert json.loads(target.read_text())["nodes"][1]["type"] == "SaveImage"


# ----------------------------------------------------------------------------- the helpers themselves

def test_check_name_refuses_every_hostile_name_and_keeps_the_allowed_ones():
    for name in HOSTILE:
        with pytest.raises(UnsafeName):
            check_name(name)
    assert [check_name(n) for n in ALLOWED][0] == ["sub", "name"]


def test_write_new_never_overwrites_and_write_numbered_takes_the_next_free_number(tmp_path, folder_mode):
    write_new(tmp_path, "a.bin", b"first")
    with pytest.raises(FileExistsError):
        write_new(tmp_path, "a.bin", b"second")
    assert (tmp_path / "a.bin").read_bytes() == b"first"
    (tmp_path / "p_00002.x").write_bytes(b"keep")
    assert write_numbered(tmp_path, "p", ".x", b"n").name == "p_00003.x"
    assert replace_file(tmp_path / "a.bin", b"again").read_bytes() == b"again"
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "p_00002.x", "p_00003.x"]
    (tmp_path / "link").symlink_to(tmp_path.parent, target_is_directory=True)
    with pytest.raises(UnsafeName):
        write_new(tmp_path, "link/escape.bin", b"no")
    assert not (tmp_path.parent / "escape.bin").exists()


def test_a_folder_swapped_for_a_link_while_writing_does_not_redirect_the_write(tmp_path):
    """The check-then-write race: the write goes to the folder that was checked, wherever it is now."""
    from flux_core import files

    if not files._DIR_FDS:
        pytest.skip("needs directory descriptors (POSIX)")
    root, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    with files._Folder(root, "file name prefix") as here:
        here.enter(["sub"])
        os.rename(root / "sub", root / "moved")
        (root / "sub").symlink_to(outside, target_is_directory=True)
        here.claim(here.write_temp("a.png", lambda f: f.write(b"data")), "a.png")
    assert (root / "moved" / "a.png").read_bytes() == b"data" and list(outside.iterdir()) == []
