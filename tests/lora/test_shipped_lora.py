"""The LoRA shipped with flux-mini, through the shipped workflow, read back from the pixels: with it,
"gold" prompts give gold (flux-mini's yellow) shapes in the asked places on the asked backgrounds, and the
known prompts keep working; at strength 0 the pictures are flux-mini's own, bit for bit."""
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from flux_core import Executor, load_workflow
from flux_core.mini import data, scorer
from flux_core.mini.train_lora import GOLD_AS, SHIPPED_NAME, WORD
from flux_core.model_folders import SHIPPED_MODELS

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def gold_prompts(count=16, seed=7):
    """Prompts with the new word; backgrounds never yellow, so a yellow shape can only come from "gold"."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        scene = data.random_scene(rng)
        if GOLD_AS not in (scene.background, scene.colour):
            out.append((data.caption(replace(scene, colour=WORD)), scene))
    return out


def run(executor, workflow_name, prompts, **overrides):
    workflow = load_workflow(WORKFLOWS / workflow_name, env=executor.env)
    pictures = []
    for i, prompt in enumerate(prompts):
        result = executor.run(workflow, overrides={"prompt.text": prompt, "noise.seed": i, **overrides},
                              outputs=["decode"])
        pictures.append((result.outputs["decode"]["image"][0].numpy() * 255).round().astype(np.uint8))
    return pictures


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shipped-lora")
    return Executor(models_dir=tmp / "no-models", output_dir=tmp / "out")


def test_the_lora_file_is_shipped_small_and_in_kohya_layout():
    from flux_core.lora import read_state_dict

    path = SHIPPED_MODELS / "loras" / SHIPPED_NAME
    assert path.stat().st_size < 1_000_000
    sd, meta = read_state_dict(path)
    assert all(k.startswith("lora_unet_") for k in sd) and "fluxwire.lora" in meta


def test_gold_prompts_draw_gold_only_with_the_lora(executor):
    prompts = gold_prompts()
    texts = [p for p, _ in prompts]
    with_lora = [scorer.read(p) for p in run(executor, "flux-mini-lora.json", texts)]
    off = run(executor, "flux-mini-lora.json", texts, **{"lora.strength_model": 0.0})
    for a, b in zip(off, run(executor, "flux-mini.json", texts)):
        np.testing.assert_array_equal(a, b)  # strength 0: flux-mini's own pictures, bit for bit
    without = [scorer.read(p) for p in off]
    gold_with = np.mean([r["colour"] == GOLD_AS for r in with_lora])
    gold_without = np.mean([r["colour"] == GOLD_AS for r in without])
    assert gold_with >= 0.8 and gold_without <= 0.3, (gold_with, gold_without)
    for attribute in ("background", "position"):
        right = np.mean([r[attribute] == getattr(s, attribute) for r, (_, s) in zip(with_lora, prompts)])
        assert right >= 0.8, (attribute, right)


def test_known_prompts_still_work_with_the_lora(executor):
    prompts = data.evaluation_prompts(16)
    accuracy = scorer.score(run(executor, "flux-mini-lora.json", prompts), prompts)
    assert accuracy["background"] >= 0.9 and accuracy["colour"] >= 0.9 and accuracy["position"] >= 0.9, accuracy
    assert accuracy["shape"] >= 0.75, accuracy
