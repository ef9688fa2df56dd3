"""Fill is told from img_in's width; Kontext (dev's shapes) from the file's metadata or its name."""
from flux_core.loading.detect import model_type

DEV = {"in_channels": 64, "out_channels": 64, "guidance_embed": True}
SCHNELL = {"in_channels": 64, "out_channels": 64, "guidance_embed": False}


def test_model_types():
    assert model_type({**DEV, "in_channels": 384}) == "fill"
    assert model_type({**DEV, "in_channels": 128}) == "dev"  # a control LoRA's widened img_in is not Fill
    assert model_type(DEV) == "dev" and model_type(SCHNELL) == "schnell"
    assert model_type(DEV, {"fluxwire.model_type": "kontext"}) == "kontext"
    assert model_type(DEV, {"modelspec.title": "FLUX.1 Kontext [dev]"}) == "kontext"
    assert model_type(DEV, {}, "flux1-kontext-dev-Q8.safetensors") == "kontext"
    assert model_type(SCHNELL, {}, "kontext-schnell.safetensors") == "schnell"  # Kontext needs guidance_in
