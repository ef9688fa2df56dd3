"""kill -9 at random moments around every write (issue 9, part 3): a subprocess writes pictures, documents
or uploads in a loop and is killed by SIGKILL; afterwards every file under its final name is whole, and the
temp files the killed writer left are recognised and removed by the next writer."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from flux_core.files import clean_stale_temps, is_temp_name, write_new
from flux_core.graph.workflow import read_document

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("kill_writer.py")


def kill_while_writing(mode: str, folder: Path, kills: int, seed: int) -> list[int]:
    """Run the writer `kills` times, each killed at a random moment after its first finished write; returns
    how many temp files each kill left behind."""
    rng = random.Random(seed)
    left = []
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, str(WRITER), mode, str(folder)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            line = proc.stdout.readline()  # one write finished: the loop is running
            assert line, proc.stderr.read()[-2000:]
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        left.append(sum(is_temp_name(n) for _, _, names in os.walk(folder) for n in names))
    return left


def temp_files(folder: Path) -> list[str]:
    return [n for _, _, names in os.walk(folder) for n in names if is_temp_name(n)]


def test_pictures_are_whole_or_absent_after_kill_9(tmp_path):
    left = kill_while_writing("png", tmp_path, kills=3, seed=9)
    pictures = sorted((tmp_path / "killed").glob("*.png"))
    assert len(pictures) >= 3
    for path in pictures:  # every picture under its final name decodes fully and carries its workflow
        with Image.open(path) as im:
            im.load()
            assert im.size == (640, 640)
        assert len(read_document(path).nodes) == 4000
    assert max(left) >= 1  # at least one kill landed mid-write (else the test proved nothing)
    # the next picture written there removes what the dead writers left
    from nodes.flux.image import _write_png

    _write_png(Image.new("RGB", (8, 8)), tmp_path, "killed/fluxwire", None, "")
    assert temp_files(tmp_path) == []


def test_documents_are_whole_after_kill_9(tmp_path):
    kill_while_writing("document", tmp_path, kills=4, seed=10)
    saved = tmp_path / "saved.json"
    doc = json.loads(saved.read_text())  # parses: never half-written
    assert len(doc["nodes"]) == 4000
    assert len(read_document(saved).nodes) == 4000
    clean_stale_temps(tmp_path)
    assert temp_files(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["saved.json"]


@pytest.mark.slow
def test_uploads_are_whole_after_kill_9(tmp_path):
    kill_while_writing("upload", tmp_path, kills=3, seed=11)
    uploads = sorted(tmp_path.glob("upload-*.png"))
    assert uploads
    for path in uploads:
        with Image.open(path) as im:
            im.load()
            assert im.size == (512, 512)
    write_new(tmp_path, "after.png", b"x")  # any later write in the folder cleans up
    assert temp_files(tmp_path) == []


def test_temp_files_of_live_writers_are_kept(tmp_path):
    """A writer that is still running (another process) keeps its temp file; a dead one's is removed."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        from flux_core.files import _HOST

        live = tmp_path / f".a.png.{_HOST}.{sleeper.pid}.0000{'.fluxwire-tmp'}"
        live.write_bytes(b"in progress")
        dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                  text=True).stdout.strip()
        dead = tmp_path / f".b.png.{_HOST}.{dead_pid}.0000.fluxwire-tmp"
        dead.write_bytes(b"abandoned")
        foreign = tmp_path / ".c.png.ffffffff.1.0000.fluxwire-tmp"  # another host: kept until it is old
        foreign.write_bytes(b"other machine")
        assert clean_stale_temps(tmp_path) == 1
        assert live.exists() and foreign.exists() and not dead.exists()
        old = time.time() - 2 * 24 * 3600
        os.utime(foreign, (old, old))
        assert clean_stale_temps(tmp_path) == 1 and not foreign.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_running_a_cut_off_picture_is_a_document_error_with_exit_2(tmp_path):
    """What a writer killed before this fix left under the final name: the workflow chunk complete, the
    pixels or the end missing. Cut at every chunk boundary and inside the last chunks."""
    import struct

    from nodes.flux.image import _write_png

    doc = json.loads((ROOT / "workflows" / "flux-schnell.json").read_text())
    whole = _write_png(Image.effect_noise((64, 64), 30).convert("RGB"), tmp_path, "w", json.dumps(doc), "")
    data = whole.read_bytes()
    cuts, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        pos += 12 + length
        cuts.append(pos)
    cuts = sorted(set(cuts[1:-1]) | {len(data) - 1, len(data) - 4, len(data) - 10})
    from flux_core.graph.workflow import WorkflowError

    for cut in cuts:
        (tmp_path / "cut.png").write_bytes(data[:cut])
        with pytest.raises(WorkflowError) as e:
            read_document(tmp_path / "cut.png")
        assert e.value.problems[0].code == "bad_png" and "truncated" in str(e.value), cut
    (tmp_path / "cut.png").write_bytes(data[:cuts[0]])  # pixels missing, workflow complete
    for command in ("run", "validate"):
        res = subprocess.run([sys.executable, "-m", "flux_core.cli", command, str(tmp_path / "cut.png")],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert res.returncode == 2, (command, res.stdout, res.stderr)
        assert "truncated" in res.stderr and "Traceback" not in res.stderr
    assert read_document(whole).nodes.keys() == {n["id"] for n in doc["nodes"]}
