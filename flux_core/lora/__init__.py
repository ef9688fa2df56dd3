"""LoRA support: read any common FLUX LoRA layout, apply it at run time to a shared base model.

``formats``  LoRA files -> updates of our layers + a report (what matched, what did not)
``keys``     which of our layers (and which output rows) a source layer name means
``patch``    the run-time wrapper and the copy-on-write model copy that never touches the base
``apply``    patched copies of the FLUX model and the text encoders for (LoRA, strength) lists
"""
from .apply import apply_to_model, apply_to_text_encoders, effective_weights
from .formats import LoRA, LoRAError, convert, detect_format, load_lora, read_state_dict
from .keys import CLIP, MODEL, T5
from .patch import LoRALinear, Update

__all__ = ["CLIP", "MODEL", "T5", "LoRA", "LoRAError", "LoRALinear", "Update", "apply_to_model",
           "apply_to_text_encoders", "convert", "detect_format", "effective_weights", "load_lora",
           "read_state_dict"]
