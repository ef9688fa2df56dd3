"""The node API: one class per node, declaring its sockets and widgets, with one method that computes.

A node class is the single source of truth: the executor validates and runs it, the CLI's
``fluxwire nodes --json`` and the canvas both read `Node.describe()`. Example::

    class EmptyLatent(Node):
        \"\"\"A batch of all-zero latents of the given pixel size.\"\"\"
        category = "latent"
        inputs = [Int("width", 1024, min=16, max=8192, step=16),
                  Int("height", 1024, min=16, max=8192, step=16),
                  Int("batch_size", 1, min=1, max=64)]
        outputs = [Output("latent", "LATENT")]

        def run(self, ctx, width, height, batch_size):
            return {"latent": ...}

Every input is either a socket (`Input`, fed by a link) or a widget (`Int`, `Float`, `String`,
`Boolean`, `Combo`, `ModelFile`) that holds a value in the document; a widget may also be fed by a
link of its type, as in ComfyUI's "convert widget to input".
"""
from __future__ import annotations

import math
import numbers
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

from .limits import MAX_INT, SURROGATE
from .types import ANY, is_known

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Input:
    """A socket fed by a link from another node's output."""

    name: str
    type: str
    optional: bool = False
    description: str = ""
    label: str | None = None

    is_widget: ClassVar[bool] = False

    def describe(self) -> dict:
        d = {"name": self.name, "type": self.type, "optional": self.optional, "widget": None,
             "description": self.description, "label": self.label or self.name.replace("_", " ")}
        return d


@dataclass
class Widget(Input):
    """An input whose value normally lives in the document; a link of its type may replace it."""

    default: Any = None
    is_widget: ClassVar[bool] = True
    widget_kind: ClassVar[str] = "widget"

    def coerce(self, value: Any, ctx: Any = None) -> Any:
        """Return the value checked against this widget's rules, or raise ValueError with a sentence."""
        raise NotImplementedError

    def parse_text(self, text: str) -> Any:
        """Turn command-line text (``--set id.input=TEXT``) into a value of this widget's type."""
        return text

    def widget_description(self, ctx: Any = None) -> dict:
        return {"kind": self.widget_kind, "default": self.default}

    def describe(self, ctx: Any = None) -> dict:
        d = super().describe()
        d["widget"] = self.widget_description(ctx)
        return d


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"between {lo} and {hi}"
    if lo is not None:
        return f"at least {lo}"
    return f"at most {hi}"


class Int(Widget):
    widget_kind: ClassVar[str] = "int"

    def __init__(self, name, default=0, *, min=None, max=None, step=1, seed=False, display="number",
                 optional=False, description="", label=None):
        super().__init__(name=name, type="INT", optional=optional, description=description, label=label,
                         default=default)
        self.min, self.max, self.step, self.seed, self.display = min, max, step, seed, display

    def coerce(self, value, ctx=None):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expects a whole number, got {_show(value)}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"expects a whole number, got {_show(value)}")
            value = int(value)
        if not -MAX_INT <= value <= MAX_INT:
            raise ValueError(f"is {_show(value)}, but whole numbers are limited to {MAX_INT:,} in size")
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise ValueError(f"is {value}, but must be {_range_text(self.min, self.max)}")
        if self.step > 1 and (value - (self.min or 0)) % self.step:
            raise ValueError(f"is {value}, but must be a multiple of {self.step}")
        return value

    def parse_text(self, text):
        if len(text) > 80:  # room for 0b and 64 binary digits; longer text is refused before int() reads it
            raise ValueError(f"is a whole number of {len(text):,} characters; whole numbers are limited to "
                             f"{MAX_INT:,} in size")
        try:
            return int(text, 0)
        except ValueError:
            raise ValueError(f"expects a whole number, got {_show(text)}") from None

    def widget_description(self, ctx=None):
        return {"kind": "int", "default": self.default, "min": self.min, "max": self.max, "step": self.step,
                "seed": self.seed, "display": self.display}


class Float(Widget):
    widget_kind: ClassVar[str] = "float"

    def __init__(self, name, default=0.0, *, min=None, max=None, step=0.01, display="number",
                 optional=False, description="", label=None):
        super().__init__(name=name, type="FLOAT", optional=optional, description=description, label=label,
                         default=float(default))
        self.min, self.max, self.step, self.display = min, max, step, display

    def coerce(self, value, ctx=None):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expects a number, got {_show(value)}")
        if isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:  # a document could not hold it
            raise ValueError(f"is {_show(value)}, too large: whole numbers are limited to {MAX_INT:,} in size")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"expects a finite number, got {value}")
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise ValueError(f"is {value}, but must be {_range_text(self.min, self.max)}")
        return value

    def parse_text(self, text):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expects a number, got {_show(text)}") from None

    def widget_description(self, ctx=None):
        return {"kind": "float", "default": self.default, "min": self.min, "max": self.max, "step": self.step,
                "display": self.display}


class String(Widget):
    widget_kind: ClassVar[str] = "string"

    def __init__(self, name, default="", *, multiline=False, placeholder="", max_length=100_000,
                 optional=False, description="", label=None):
        super().__init__(name=name, type="STRING", optional=optional, description=description, label=label,
                         default=default)
        self.multiline, self.placeholder, self.max_length = multiline, placeholder, max_length

    def coerce(self, value, ctx=None):
        if not isinstance(value, str):
            raise ValueError(f"expects text, got {_show(value)}")
        if len(value) > self.max_length:
            raise ValueError(f"is {len(value)} characters long, at most {self.max_length} are allowed")
        if SURROGATE.search(value):
            raise ValueError("contains an unpaired UTF-16 surrogate, which cannot be saved as UTF-8 text")
        return value

    def widget_description(self, ctx=None):
        return {"kind": "string", "default": self.default, "multiline": self.multiline,
                "placeholder": self.placeholder}


class Boolean(Widget):
    widget_kind: ClassVar[str] = "boolean"

    def __init__(self, name, default=False, *, optional=False, description="", label=None):
        super().__init__(name=name, type="BOOLEAN", optional=optional, description=description, label=label,
                         default=bool(default))

    def coerce(self, value, ctx=None):
        if not isinstance(value, bool):
            raise ValueError(f"expects true or false, got {_show(value)}")
        return value

    def parse_text(self, text):
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expects true or false, got {_show(text)}")

    def widget_description(self, ctx=None):
        return {"kind": "boolean", "default": self.default}


class Combo(Widget):
    """A choice among strings; `choices` is a list or a callable ``(ctx) -> list`` evaluated when needed."""

    widget_kind: ClassVar[str] = "combo"

    def __init__(self, name, choices: Sequence[str] | Callable[[Any], Sequence[str]], default=None, *,
                 upload: str | None = None, optional=False, description="", label=None):
        if default is None and not callable(choices) and choices:
            default = choices[0]
        super().__init__(name=name, type="STRING", optional=optional, description=description, label=label,
                         default=default)
        self.choices = choices
        self.upload = upload  # "image": the canvas offers to upload a picture into the input folder

    def options(self, ctx=None) -> list[str]:
        """The current choices. A choices function that raises, returns something other than text, or does
        not answer within CHOICES_SECONDS is reported as a ChoicesError (a ValueError naming the widget), so
        one broken node pack cannot stop validation, the catalogue or the server."""
        if not callable(self.choices):
            return _checked_choices(self.name, lambda: self.choices)
        if getattr(self, "_hung", None):
            raise ChoicesError(self._hung)
        box: dict[str, Any] = {}

        def ask():
            try:
                box["value"] = _checked_choices(self.name, lambda: self.choices(ctx))
            except BaseException as e:  # a plugin's sys.exit() in a thread must not vanish silently
                box["error"] = e

        worker = threading.Thread(target=ask, name=f"choices of {self.name}", daemon=True)
        worker.start()
        worker.join(CHOICES_SECONDS)
        if worker.is_alive():  # the thread cannot be stopped; never start another one for this widget
            self._hung = (f"the choices function of widget {self.name!r} did not answer within {CHOICES_SECONDS:g} s "
                          "and is not asked again; fix it to return a list of names quickly")
            raise ChoicesError(self._hung)
        if "error" in box:
            error = box["error"]
            if isinstance(error, ChoicesError):
                raise error
            raise ChoicesError(f"the choices function of widget {self.name!r} raised "
                               f"{type(error).__name__}: {error}; fix it to return a list of names") from None
        return box["value"]

    def coerce(self, value, ctx=None):
        if not isinstance(value, str):
            raise ValueError(f"expects one of the listed choices, got {_show(value)}")
        opts = self.options(ctx)
        if value not in opts:
            shown = ", ".join(repr(o) for o in opts[:20]) + (" ..." if len(opts) > 20 else "")
            raise ValueError(f"is {_show(value)}, which is not one of the choices ({shown or 'none available'})")
        return value

    def widget_description(self, ctx=None):
        return {"kind": "combo", "default": self.default, "choices": self.options(ctx), "upload": self.upload}


CHOICES_SECONDS = 5.0  # how long a choices function may take before its widget is reported as broken


class ChoicesError(ValueError):
    """A Combo whose choices cannot be listed (a bug in the node's pack, not in the document)."""


def _checked_choices(widget: str, produce: Callable[[], Any]) -> list[str]:
    try:
        values = list(produce())
    except ChoicesError:
        raise
    except Exception as e:
        raise ChoicesError(f"the choices of widget {widget!r} cannot be listed ({type(e).__name__}: {e}); "
                           "fix them to be a list of names") from None
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise ChoicesError(f"the choices of widget {widget!r} must be text, got {_show(bad[0])}")
    return values


class MissingModelError(ValueError):
    """A model file widget whose file is not there (validation adds where to download it, if known)."""

    def __init__(self, message: str, folder: str, name: str):
        super().__init__(message)
        self.folder, self.name = folder, name


class ModelFile(Combo):
    """A file chosen from a models folder kind (see `flux_core.model_folders`); never a free path."""

    def __init__(self, name, folder: str, default=None, *, optional=False, description="", label=None):
        from ..model_folders import FOLDERS

        if folder not in FOLDERS:
            raise ValueError(f"unknown model folder kind {folder!r}")
        super().__init__(name, self._names, default, optional=optional, description=description, label=label)
        self.folder = folder

    def _names(self, env):
        from ..model_folders import list_names

        return list_names(self.folder, getattr(env, "models_dir", None))

    def coerce(self, value, ctx=None):
        from ..files import UnsafeName, check_name
        from ..model_folders import ModelNameError, resolve

        if not isinstance(value, str):
            raise ValueError(f"expects a model file name, got {_show(value)}")
        try:  # the one name rule for files fluxwire reads and writes (ComfyUI's '\\' separators allowed)
            check_name(value.replace("\\", "/"), "model name")
        except UnsafeName as e:
            raise ValueError(f"is {_show(value)}, which is not a model file name (a name inside the {self.folder} "
                             f"folder such as model.safetensors): {e}") from None
        try:
            found = resolve(self.folder, value, getattr(ctx, "models_dir", None))
        except ModelNameError as e:
            raise MissingModelError(str(e), self.folder, value) from None
        # a diffusers pipeline and a depth model (save_pretrained) are folders; every other kind a file
        want_folder = self.folder in ("diffusers", "depth")
        if found.is_dir() != want_folder:
            what = "a model folder" if want_folder else "a file"
            raise ValueError(f"is {_show(value)}, which is not {what} in the {self.folder} folder")
        return value

    def widget_description(self, ctx=None):
        d = super().widget_description(ctx)
        d["folder"] = self.folder
        return d


@dataclass
class Output:
    name: str
    type: str
    description: str = ""
    optional: bool = False  # may hold None: a pass-through of an optional input that was left unconnected

    def describe(self) -> dict:
        return {"name": self.name, "type": self.type, "description": self.description}


class NodeError(Exception):
    """An error a node raises on purpose: a user-facing sentence, optionally naming the input at fault."""

    def __init__(self, message: str, input: str | None = None):
        super().__init__(message)
        self.input = input


class Node:
    """Base class of every node. Subclasses declare the class attributes below and implement `run`."""

    type_name: ClassVar[str] = ""  # defaults to the class name
    display_name: ClassVar[str] = ""
    category: ClassVar[str] = "misc"
    version: ClassVar[int] = 1
    inputs: ClassVar[list[Input]] = []
    outputs: ClassVar[list[Output]] = []
    output_node: ClassVar[bool] = False  # a sink: run by default, e.g. SaveImage
    pack: ClassVar[str] = ""  # set by the registry

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "type_name" not in cls.__dict__ or not cls.__dict__["type_name"]:
            cls.type_name = cls.__name__
        if ("display_name" not in cls.__dict__ or not cls.__dict__["display_name"]) and isinstance(cls.type_name, str):
            cls.display_name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", cls.type_name)  # a bad name is reported later

    # --- what a node class implements -------------------------------------------------------
    def run(self, ctx, **inputs):  # pragma: no cover - abstract
        """Compute the outputs: return a dict {output name: value}, a tuple in declared order,
        or a single value when the node has one output."""
        raise NotImplementedError

    @classmethod
    def fingerprint(cls, ctx, **widgets) -> Any:
        """Something that changes when the node must re-run although its inputs did not
        (e.g. the modification time and size of a file it reads). Folded into the cache key.
        None (the default) means: the result depends on the inputs only."""
        return None

    @classmethod
    def migrate(cls, from_version: int, widgets: dict) -> dict:
        """Turn widget values saved by an older version of this node into current ones."""
        return widgets

    @classmethod
    def check(cls, ctx, **widgets) -> list[str] | None:
        """Extra validation of widget values before any node runs; return sentences for problems (or
        (input name, sentence) pairs, so the problem names the input)."""
        return None

    # --- derived from the declaration --------------------------------------------------------
    @classmethod
    def input(cls, name: str) -> Input | None:
        for i in cls.inputs:
            if i.name == name:
                return i
        return None

    @classmethod
    def output(cls, name: str) -> Output | None:
        for o in cls.outputs:
            if o.name == name:
                return o
        return None

    @classmethod
    def widgets(cls) -> list[Widget]:
        return [i for i in cls.inputs if i.is_widget]

    @classmethod
    def declaration_problems(cls) -> list[str]:
        """Mistakes in the class declaration itself (checked when a pack registers it)."""
        problems = []
        if not isinstance(cls.type_name, str) or not _NAME.match(cls.type_name):
            problems.append(f"type name {cls.type_name!r} is not an identifier")
        for attr in ("display_name", "category"):
            if not isinstance(getattr(cls, attr), str):
                problems.append(f"{attr} must be text, not {_show(getattr(cls, attr))}")
        if cls.__doc__ is not None and not isinstance(cls.__doc__, str):
            problems.append(f"the docstring must be text, not {type(cls.__doc__).__name__}")
        for attr, kind in (("inputs", Input), ("outputs", Output)):
            declared = getattr(cls, attr)
            if not isinstance(declared, (list, tuple)):
                problems.append(f"{attr} must be a list, not {_show(declared)}")
            elif not all(isinstance(s, kind) for s in declared):
                wrong = next(s for s in declared if not isinstance(s, kind))
                problems.append(f"{attr} must hold {kind.__name__} declarations, found {_show(wrong)}")
        if problems:
            return problems  # the checks below read the declarations
        seen = set()
        for sock in list(cls.inputs) + list(cls.outputs):
            kind = "output" if isinstance(sock, Output) else "input"
            if not isinstance(sock.name, str) or not _NAME.match(sock.name):
                problems.append(f"{kind} name {sock.name!r} is not an identifier")
            if (kind, sock.name) in seen:
                problems.append(f"{kind} {sock.name!r} is declared twice")
            seen.add((kind, sock.name))
            if not isinstance(sock.type, str) or not is_known(sock.type):
                problems.append(f"{kind} {sock.name!r} has unknown socket type {sock.type!r}")
        for w in cls.widgets():
            if w.default is not None and not callable(getattr(w, "choices", None)):
                try:
                    w.coerce(w.default)
                except ValueError as e:
                    problems.append(f"default of widget {w.name!r} {e}")
        if not isinstance(cls.version, int) or cls.version < 1:
            problems.append("version must be a positive integer")
        if not cls.outputs and not cls.output_node:
            problems.append("a node without outputs must be an output node")
        if not callable(getattr(cls, "run", None)) or cls.run is Node.run:
            problems.append("it has no run method")
        return problems

    @classmethod
    def describe(cls, ctx: Any = None) -> dict:
        """The declaration as JSON-able data: what `fluxwire nodes --json` prints and the canvas reads."""
        return {
            "type": cls.type_name,
            "display_name": cls.display_name,
            "category": cls.category,
            "description": (cls.__doc__ or "").strip(),
            "version": cls.version,
            "pack": cls.pack,
            "output_node": cls.output_node,
            "inputs": [i.describe(ctx) if i.is_widget else i.describe() for i in cls.inputs],
            "outputs": [o.describe() for o in cls.outputs],
        }

    @classmethod
    def normalise_result(cls, result: Any) -> dict:
        """Turn what `run` returned into {output name: value}, or raise TypeError saying what is wrong."""
        names = [o.name for o in cls.outputs]
        if isinstance(result, dict):
            missing = [n for n in names if n not in result]
            extra = [k for k in result if k not in names]
            if missing or extra:
                raise TypeError(f"{cls.type_name}.run returned outputs {sorted(result)}, expected {names}")
            return result
        if result is None and not names:
            return {}
        if isinstance(result, tuple) and len(names) != 1:
            if len(result) != len(names):
                raise TypeError(f"{cls.type_name}.run returned {len(result)} values, expected {len(names)}")
            return dict(zip(names, result))
        if len(names) == 1:
            return {names[0]: result}
        raise TypeError(f"{cls.type_name}.run returned {type(result).__name__}, expected a dict of {names}")

    @classmethod
    def check_result(cls, values: dict) -> dict:
        """Raise TypeError when an output holds a value its declared socket type does not accept, so a wrong
        value is blamed on the node that made it, not on the next node that trips over it."""
        for out in cls.outputs:
            expected = OUTPUT_CHECKS.get(out.type)
            if expected is None or out.name not in values or (out.optional and values[out.name] is None):
                continue
            accepts, what = expected
            value = values[out.name]
            if not accepts(value):
                pack = f" (node pack {cls.pack!r})" if cls.pack else ""
                raise TypeError(f"{cls.type_name}{pack} returned {_describe_value(value)} for output {out.name!r}, "
                                f"which is declared {out.type} ({what}); fix the node's run method")
        return values


class NodeCrashed(Exception):
    """A node's run tried to end the process (sys.exit) or raised a BaseException that is not an Exception."""


def run_node(cls: type[Node], ctx: Any, inputs: dict) -> dict:
    """Run one node and return its checked outputs. What escapes `run` other than an Exception (SystemExit
    from sys.exit, GeneratorExit, a home-made BaseException) becomes a NodeCrashed failure of this node,
    so a plugin cannot end the CLI with exit code 0 or skip the error report; a real Ctrl-C (KeyboardInterrupt)
    still stops everything."""
    try:
        result = cls().run(ctx, **inputs)
    except (Exception, KeyboardInterrupt):
        raise
    except BaseException as e:
        detail = f"sys.exit({e.code!r})" if isinstance(e, SystemExit) else f"{type(e).__name__}: {e}"
        raise NodeCrashed(f"{cls.type_name}.run ended with {detail}; a node must raise an exception "
                          "(e.g. NodeError) instead of ending the process") from None
    return cls.check_result(cls.normalise_result(result))


# socket type -> (does a value fit, what such a value is); packs add their own with `register_output_check`
OUTPUT_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {}


def register_output_check(type_name: str, accepts: Callable[[Any], bool], what: str) -> None:
    """Declare what values an output of `type_name` may hold (checked after every run of every node)."""
    OUTPUT_CHECKS[type_name] = (accepts, what)


def _is_image(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor) and value.dim() == 4 \
        and value.shape[-1] in (1, 3, 4) and value.is_floating_point()


def _describe_value(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {list(shape)}"
    return f"{_show(value)} ({type(value).__name__})"


register_output_check("INT", lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool), "a whole number")
register_output_check("FLOAT", lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool), "a number")
register_output_check("STRING", lambda v: isinstance(v, str), "text")
register_output_check("BOOLEAN", lambda v: isinstance(v, bool), "true or false")
register_output_check("IMAGE", _is_image, "a float tensor [batch, height, width, channels] with 1, 3 or 4 channels")


def _show(value: Any) -> str:
    """A short, safe rendering of any value for a message (never fails, never floods)."""
    if type(value) is int and value.bit_length() > 200:
        return f"a whole number of about {int(value.bit_length() * 0.30103)} digits"
    try:
        text = repr(value)
    except Exception:  # e.g. a value whose repr raises
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."



__all__ = ["Input", "Widget", "Int", "Float", "String", "Boolean", "Combo", "ModelFile", "Output", "Node", "NodeError",
           "ChoicesError", "NodeCrashed", "run_node", "register_output_check", "ANY"]
