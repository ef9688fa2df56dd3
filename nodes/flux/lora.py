"""LoRA nodes: apply LoRA files to a FLUX model (and its text encoders) without touching the loaded base.

``LoadLoRA`` is ComfyUI's ``LoraLoader`` / ``LoraLoaderModelOnly`` (chain them to stack); ``LoRAStack``
applies several files in one node. Each returns a patched *copy* that shares every base weight, so
changing a strength re-runs this node and what follows it, never the loader of the base model, and two
workflows with different LoRAs on one cached base model do not interfere. The ``summary`` output (also
logged) says what was patched and lists every key that matched nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flux_core.graph.node import Combo, Float, Input, ModelFile, Node, NodeError, Output

from .folders import file_stamp, model_path
from .values import FluxModel, TextEncoders

log = logging.getLogger("fluxwire.lora")

NO_LORA = "None"
STACK_SLOTS = 4


def _strength(name: str, description: str) -> Float:
    return Float(name, 1.0, min=-10.0, max=10.0, step=0.01, description=description)


def _lora_bytes(loras) -> int:
    """Only the LoRA tensors: the base weights are shared with (and counted for) the base model's handle."""
    total = 0
    for lora in loras:
        for part in lora.updates.values():
            for updates in part.values():
                for u in updates:
                    total += sum(t.numel() * t.element_size() for t in (u.up, u.down, u.dense, u.bias)
                                 if t is not None)
        total += sum(t.numel() * t.element_size() for t in lora.replacements.values())
    return total


@dataclass(eq=False)
class PatchedFluxModel(FluxModel):
    """MODEL with LoRAs applied at run time; the cache counts only what the LoRAs add."""

    lora_bytes: int = 0

    def cache_bytes(self) -> int:
        return self.lora_bytes


@dataclass(eq=False)
class PatchedTextEncoders(TextEncoders):
    lora_bytes: int = 0

    def cache_bytes(self) -> int:
        return self.lora_bytes


def apply_loras(model: FluxModel, text: TextEncoders | None, entries, env) -> tuple:
    """entries: [(input name, file name, strength_model, strength_clip)] -> (model, text, summary text)."""
    from flux_core.lora import LoRAError, apply_to_model, apply_to_text_encoders, load_lora

    loaded = []
    for input_name, name, s_model, s_clip in entries:
        path = model_path("loras", name, env, input_name)
        conditioner = text.conditioner if text is not None else None
        try:
            lora = load_lora(path, model.model, getattr(conditioner, "clip", None), getattr(conditioner, "t5", None))
        except LoRAError as e:
            raise NodeError(str(e), input=input_name) from None
        loaded.append((lora, s_model, s_clip))
    summaries = []
    for lora, s_model, s_clip in loaded:
        text_part = f", text encoders x{s_clip:g}" if text is not None else ""
        summaries.append(f"{lora.summary()}\n  strength: model x{s_model:g}{text_part}")
        log.info("%s", summaries[-1])
    try:
        patched = apply_to_model(model.model, [(lora, s) for lora, s, _ in loaded])
    except (RuntimeError, ValueError) as e:
        raise NodeError(f"cannot apply the LoRA to {model.name}: {e}", input=entries[0][0]) from None
    names = " + ".join(f"{name}@{s:g}" for _, name, s, _ in entries)
    new_model = PatchedFluxModel(patched, f"{model.name} + {names}", lora_bytes=_lora_bytes(l for l, _, _ in loaded),
                                 shift=model.shift, differential=model.differential, kontext=model.kontext)
    new_text = text
    if text is not None:
        conditioner = apply_to_text_encoders(text.conditioner, [(lora, s) for lora, _, s in loaded])
        if conditioner is not text.conditioner:
            new_text = PatchedTextEncoders(conditioner, f"{text.name} + {names}",
                                           lora_bytes=_lora_bytes(l for l, _, _ in loaded))
    return new_model, new_text, "\n".join(summaries)


class LoadLoRA(Node):
    """Apply a LoRA from loras/ to the model (and the text encoders, when connected). Chain to stack."""

    category = "loaders"
    inputs = [Input("model", "MODEL"),
              Input("text_encoders", "TEXT_ENCODER", optional=True,
                    description="connect to apply the LoRA's T5/CLIP parts too"),
              ModelFile("lora_name", "loras", "lora.safetensors"),
              _strength("strength_model", "how strongly the LoRA changes the diffusion model; 0 = off, <0 inverts"),
              _strength("strength_clip", "how strongly the LoRA changes the text encoders")]
    outputs = [Output("model", "MODEL"), Output("text_encoders", "TEXT_ENCODER", optional=True),
               Output("summary", "STRING", "what was patched, and every key that matched nothing")]

    @classmethod
    def fingerprint(cls, env, lora_name, strength_model, strength_clip):
        return file_stamp(model_path("loras", lora_name, env, "lora_name"))

    def run(self, ctx, model, lora_name, strength_model, strength_clip, text_encoders=None):
        new_model, new_text, summary = apply_loras(
            model, text_encoders, [("lora_name", lora_name, strength_model, strength_clip)], ctx.env)
        ctx.show(text=summary)
        return {"model": new_model, "text_encoders": new_text, "summary": summary}


def _lora_choices(env):
    from flux_core.model_folders import list_names

    return [NO_LORA, *list_names("loras", getattr(env, "models_dir", None))]


def _stack_inputs():
    out = []
    for i in range(1, STACK_SLOTS + 1):
        out += [Combo(f"lora_{i}", _lora_choices, NO_LORA, description=f"LoRA file {i} from loras/ (None: empty slot)"),
                _strength(f"strength_model_{i}", f"model strength of LoRA {i}"),
                _strength(f"strength_clip_{i}", f"text-encoder strength of LoRA {i}")]
    return out


class LoRAStack(Node):
    """Apply up to four LoRAs from loras/ in one node, each with its own strengths (empty slots: None)."""

    category = "loaders"
    inputs = [Input("model", "MODEL"), Input("text_encoders", "TEXT_ENCODER", optional=True), *_stack_inputs()]
    outputs = LoadLoRA.outputs

    @staticmethod
    def _entries(widgets) -> list[tuple]:
        return [(f"lora_{i}", widgets[f"lora_{i}"], widgets[f"strength_model_{i}"], widgets[f"strength_clip_{i}"])
                for i in range(1, STACK_SLOTS + 1) if widgets.get(f"lora_{i}", NO_LORA) != NO_LORA]

    @classmethod
    def fingerprint(cls, env, **widgets):
        return tuple(file_stamp(model_path("loras", name, env, slot)) for slot, name, _, _ in cls._entries(widgets))

    def run(self, ctx, model, text_encoders=None, **widgets):
        entries = self._entries(widgets)
        if not entries:
            summary = "no LoRA selected: model and text encoders passed through unchanged"
            ctx.show(text=summary)
            return {"model": model, "text_encoders": text_encoders, "summary": summary}
        new_model, new_text, summary = apply_loras(model, text_encoders, entries, ctx.env)
        ctx.show(text=summary)
        return {"model": new_model, "text_encoders": new_text, "summary": summary}


NODES = [LoadLoRA, LoRAStack]
