"""FLUX text conditioning: T5 hidden states (``txt``) and the CLIP pooled vector (``vec``).

Wraps transformers' own ``T5EncoderModel`` / ``CLIPTextModel`` and their tokenizers; the encoders
are called the way BFL's reference does it: prompts padded to the maximum length, truncated, and
encoded without an attention mask (flux-spec §1.5, §7.5).
"""
from __future__ import annotations

import contextlib
import threading

import torch
from torch import Tensor

CLIP_MAX_LENGTH = 77
_tokenizer_lock = threading.Lock()  # loaders share one tokenizer object per folder; fast tokenizers are not re-entrant


def _device_of(module) -> torch.device:
    return next(module.parameters()).device


class TextConditioner:
    """Turns prompts into (txt [B, t5_max_length, d_t5], vec [B, d_clip]) for the FLUX transformer."""

    def __init__(self, t5, t5_tokenizer, clip, clip_tokenizer, t5_max_length: int = 256):
        if t5_max_length < 1:
            raise ValueError(f"t5_max_length must be positive, got {t5_max_length}")
        self.t5 = t5
        self.t5_tokenizer = t5_tokenizer
        self.clip = clip
        self.clip_tokenizer = clip_tokenizer
        self.t5_max_length = t5_max_length
        # "bfl": pad/truncate to t5_max_length; "comfyui": ComfyUI's tokenization (models/comfy_text.py),
        # T5 padded to at least t5_max_length and never truncated
        self.tokenization = "bfl"

    def t5_input_ids(self, prompts: list[str]) -> Tensor:
        """T5 token ids [B, t5_max_length]: padded to max length, truncated."""
        return self._tokenize(self.t5_tokenizer, prompts, self.t5_max_length)

    def clip_input_ids(self, prompts: list[str]) -> Tensor:
        """CLIP token ids [B, 77]: padded to max length, truncated."""
        return self._tokenize(self.clip_tokenizer, prompts, CLIP_MAX_LENGTH)

    @staticmethod
    def _tokenize(tokenizer, prompts: list[str], max_length: int) -> Tensor:
        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of strings, not a single string")
        with _tokenizer_lock:
            batch = tokenizer(
                list(prompts),
                truncation=True,
                max_length=max_length,
                padding="max_length",
                return_length=False,
                return_overflowing_tokens=False,
                return_tensors="pt",
            )
        return batch["input_ids"]

    def encode(
        self, prompts: list[str], clip_prompts: list[str] | None = None, *, no_grad: bool = False
    ) -> tuple[Tensor, Tensor]:
        """Encode T5 ``prompts`` and CLIP ``clip_prompts`` (default: the same texts).

        Returns txt = T5 last_hidden_state and vec = CLIP pooler_output. Pass ``no_grad=True`` for
        inference; gradients flow by default so the encoders can be trained through this method.
        """
        clip_prompts = list(prompts) if clip_prompts is None else list(clip_prompts)
        if len(clip_prompts) != len(prompts):
            raise ValueError(f"got {len(prompts)} T5 prompts but {len(clip_prompts)} CLIP prompts")
        if self.tokenization == "comfyui":
            from .comfy_text import encode

            with torch.no_grad() if no_grad else contextlib.nullcontext():
                return encode(self, list(prompts), clip_prompts, self.t5_max_length)
        t5_ids = self.t5_input_ids(prompts).to(_device_of(self.t5))
        clip_ids = self.clip_input_ids(clip_prompts).to(_device_of(self.clip))
        ctx = torch.no_grad() if no_grad else contextlib.nullcontext()
        with ctx:
            txt = self.t5(input_ids=t5_ids, attention_mask=None, output_hidden_states=False).last_hidden_state
            vec = self.clip(input_ids=clip_ids, attention_mask=None, output_hidden_states=False).pooler_output
        return txt, vec
