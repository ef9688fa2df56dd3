"""Sweeps on the shipped flux-mini model: models load once across cells, files and grid are written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flux_core.sweep import grid, parse_vary
from flux_core.graph.workflow import WorkflowError

ROOT = Path(__file__).resolve().parents[2]


def test_vary_specs_make_the_expected_grid(tmp_path):
    (tmp_path / "p.txt").write_text("a red circle\n\n a blue square \n")
    axes = [parse_vary("noise.seed=1..3", tmp_path), parse_vary("prompt.text=@p.txt", tmp_path),
            parse_vary("scheduler.steps=10..1..4")]
    assert axes[0].values == [1, 2, 3] and axes[1].values == ["a red circle", "a blue square"]
    assert axes[2].values == [10, 6, 2]
    cells = grid(axes[:2])
    assert [c.overrides for c in cells[:3]] == [{"noise.seed": 1, "prompt.text": "a red circle"},
                                                {"noise.seed": 1, "prompt.text": "a blue square"},
                                                {"noise.seed": 2, "prompt.text": "a red circle"}]
    for bad in ("seed=1..3", "noise.seed", "noise.seed=@missing.txt", "noise.seed="):
        with pytest.raises(WorkflowError):
            parse_vary(bad, tmp_path)


@pytest.mark.slow
def test_flux_mini_sweep_loads_models_once_and_writes_every_cell(tmp_path, monkeypatch, capsys):
    from flux_core.cli import main
    from flux_core.graph.executor import Executor

    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts.txt").write_text("a large red circle on a blue background, center\n"
                                          "a small yellow star on a green background, left\n")
    out = tmp_path / "out"
    code = main(["sweep", str(ROOT / "workflows" / "flux-mini.json"), "--vary", "noise.seed=1..2",
                 "--vary", "prompt.text=@prompts.txt", "--output-dir", str(out), "--json"])
    assert code == 0
    manifest = json.loads(capsys.readouterr().out)
    cells = manifest["cells"]
    assert len(cells) == 4 and {c["status"] for c in cells} == {"success"}
    ran = [n for c in cells for n in c["executed"]]
    for loader in ("model", "text_encoders", "vae"):
        assert ran.count(loader) == 1, ran  # the models loaded once for the whole sweep
    assert ran.count("prompt") == 2  # one text encoding per distinct prompt
    assert ran.count("sampler") == 4
    pictures = [np.asarray(Image.open(c["images"][0]).convert("RGB")) for c in cells]
    assert len({p.tobytes() for p in pictures}) == 4  # every cell its own picture
    # a cell equals the same settings run alone on a fresh executor (sharing the cache changes nothing)
    alone = Executor(output_dir=tmp_path / "alone").run(str(ROOT / "workflows" / "flux-mini.json"),
                                                        overrides=cells[3]["overrides"])
    (path,) = alone.ui["save"]["images"]
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), pictures[3])
    sheet = Image.open(manifest["grid"])
    h, w = pictures[0].shape[:2]
    assert sheet.width >= 2 * w and sheet.height >= 2 * h
    # the grid holds the cells' pictures in row-major order: find cell 3 at the bottom right
    array = np.asarray(sheet.convert("RGB"))
    x, y = sheet.width - 4 - w, sheet.height - 4 - h
    assert np.array_equal(array[y:y + h, x:x + w], pictures[3])


def test_xygrid_node_runs_its_branch_per_cell_and_saves_a_labelled_grid(executor):
    from .conftest import doc

    document = doc([("p", "TestPicture", {"width": 24, "height": 16, "seed": 1, "delay": 0.0}),
                    ("grid", "XYGrid", {"x": "p.seed", "x_values": "10,20,30", "y": "p.width",
                                        "y_values": "24,32", "filename_prefix": "xy", "thumbnail": 64})],
                   [("p", "image", "grid", "image")])
    result = executor.run(document)
    shown = result.ui["grid"]["images"]
    assert len(shown) == 1 + 6
    cells = [np.asarray(Image.open(p).convert("RGB")) for p in shown[1:]]
    assert [c.shape[:2] for c in cells] == [(16, 24)] * 3 + [(16, 32)] * 3
    # each cell is what the branch alone makes with those values
    alone = executor.run(document, {"p.seed": 20, "p.width": 32}, outputs=["p"]).outputs["p"]["image"]
    assert np.array_equal(cells[4], (alone[0].numpy() * 255).round().astype("uint8"))
    assert len({c.tobytes() for c in cells}) == 6
    grid_array = result.outputs["grid"]["grid"][0].numpy()
    sheet = np.asarray(Image.open(shown[0]).convert("RGB"))
    assert np.array_equal((grid_array * 255).round().astype("uint8"), sheet)
    assert sheet.shape[1] >= 3 * 32 and sheet.shape[0] >= 2 * 16
    assert (sheet[:20] < 100).any()  # the column labels are drawn in black on white

    bad = doc([("p", "TestPicture", {"delay": 0.0}),
               ("grid", "XYGrid", {"x": "p.nope", "x_values": "1,2"})], [("p", "image", "grid", "image")])
    from flux_core.graph.executor import RunFailed

    with pytest.raises(RunFailed) as failed:
        executor.run(bad)
    assert failed.value.node_id == "grid" and failed.value.input == "x" and "nope" in failed.value.message
