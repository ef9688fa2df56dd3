"""The flux-mini inpainting demo, no downloads: SetLatentNoiseMask repaints everything but the picture's
top-left quarter with the prompted shape. Scored from pixels: the painted part shows what the prompt asks,
the kept quarter still shows the original shape."""
from pathlib import Path

import numpy as np

from flux_core import load_workflow
from flux_core.mini import data, scorer

ROOT = Path(__file__).resolve().parents[2] / "workflows"
WORKFLOW = ROOT / "flux-mini-inpaint.json"
BLUE = data.COLOURS["blue"]


def run(executor, seed):
    workflow = load_workflow(WORKFLOW, env=executor.env)
    result = executor.run(workflow, overrides={"noise.seed": seed}, outputs=["decode"])
    return (result.outputs["decode"]["image"][0].numpy() * 255).round().astype(np.uint8)


def only(picture, keep_top_left: bool):
    out = picture.copy()
    if keep_top_left:
        out[32:, :] = BLUE
        out[:, 32:] = BLUE
    else:
        out[:32, :32] = BLUE
    return out


def test_mini_inpaint_paints_the_prompt_and_keeps_the_rest(shipped_only_executor):
    prompt = "a large red circle on a blue background, bottom right"
    original = data.parse_caption("a small yellow square on a blue background, top left")
    painted_ok = kept_ok = 0
    for seed in range(4):
        picture = run(shipped_only_executor, seed)
        painted = scorer.read(only(picture, keep_top_left=False))
        kept = scorer.read(only(picture, keep_top_left=True))
        print(seed, painted, kept)
        painted_ok += painted == data.parse_caption(prompt)
        kept_ok += kept["colour"] == original["colour"] and kept["position"] == original["position"]
    assert painted_ok >= 3 and kept_ok == 4
