"""The flux-mini training script on a toy configuration: a run interrupted and resumed ends with exactly the
weights of an uninterrupted run, and its export loads through the public loaders."""
import json

import pytest
import torch

from flux_core.mini import train

TINY = dict(ae_ch=8, ae_ch_mult=[1, 2, 2, 2], ae_steps=3, ae_batch=2, hidden=32, heads=2, axes_dim=[4, 6, 6],
            double_blocks=1, single_blocks=1, text_width=16, dit_steps=3, dit_batch=4, warmup=1,
            dataset_size=16, checkpoint_every=1)


def run(work, *args):
    work.mkdir(exist_ok=True)
    if not (work / "config.json").exists():
        (work / "config.json").write_text(json.dumps({**train.TrainConfig().__dict__, **TINY}))
    assert train.main(["--work", str(work), "--threads", "1", *args]) == 0


class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch, stage, step):
    """Make the script stop right after it checkpointed ``step`` of ``stage``, as a killed run would."""
    original = train.log

    def log(work, record):
        original(work, record)
        if record.get("stage") == stage and record.get("step") == step:
            raise Interrupted

    monkeypatch.setattr(train, "log", log)


@pytest.mark.slow
def test_resumed_training_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run(straight)
    for stage in ("ae", "dit"):
        with monkeypatch.context() as patch:
            interrupt_after(patch, stage, 2)
            try:
                run(resumed)
            except Interrupted:
                pass
            else:
                raise AssertionError(f"the {stage} stage was not interrupted")
    run(resumed)
    for name, key in (("ae.pt", "model"), ("dit.pt", "model"), ("dit.pt", "ema_model"), ("dit.pt", "ema_text")):
        a = torch.load(straight / name, weights_only=True)
        b = torch.load(resumed / name, weights_only=True)
        assert a["step"] == b["step"] == 3
        for tensor in a[key]:
            assert torch.equal(a[key][tensor], b[key][tensor]), (name, key, tensor)
    steps = [(r["stage"], r["step"]) for r in map(json.loads, (resumed / "log.jsonl").read_text().splitlines())
             if "step" in r]
    assert steps == [("ae", 1), ("ae", 2), ("ae", 3), ("dit", 1), ("dit", 2), ("dit", 3)]  # nothing redone


@pytest.mark.slow
def test_export_loads_through_the_public_loaders(tmp_path):
    from flux_core import load_diffusion_model, load_text_encoders, load_vae

    work, models = tmp_path / "work", tmp_path / "models"
    run(work, "--export", str(models))
    model = load_diffusion_model(models / "diffusion_models" / "flux-mini.safetensors", device="cpu")
    vae = load_vae(models / "vae" / "flux-mini-ae.safetensors", device="cpu")
    text = load_text_encoders(models / "text_encoders" / "flux-mini-t5.safetensors",
                              models / "text_encoders" / "flux-mini-clip.safetensors", device="cpu", models_dir=models)
    assert model.params.hidden_size == 32 and model.params.depth == 1
    assert vae.params.ch == 8 and vae.params.norm_groups == 4
    saved = torch.load(work / "dit.pt", weights_only=True)["ema_model"]
    for key, value in model.state_dict().items():  # fp16 storage of the EMA weights
        torch.testing.assert_close(value.float(), saved[key].half().float())
    txt, vec = text.encode(["a small red star on a white background, top left"], no_grad=True)
    assert txt.shape == (1, 16, 16) and vec.shape == (1, 16)
