"""`NodeCanvas`: the node editor as a Gradio component (a `gr.HTML` subclass), embeddable in any Blocks.

The component's value is the workflow document (a dict in fluxwire's format). Its props carry the node
catalogue (from the same `Node.describe()` the executor validates against, plus the socket type table)
and the streamed run state. Plain JS (files sharing one scope, JS_PARTS) and CSS from `web/static/` do the
drawing; they are read from the package, inlined into the component config, and never fetched from anywhere.

Small request/response calls (validate, open a file, pick a shipped workflow, refresh model lists) are
Gradio *server functions*: every one re-checks in Python whatever the browser sent.
"""
from __future__ import annotations

import base64
import json
import binascii
import threading
import time
import weakref
from pathlib import Path
from importlib import resources
from typing import Any, Callable

import gradio as gr

from flux_core.graph.executor import Executor
from flux_core.graph.library import Library
from flux_core.graph.subgraph_catalogue import library_catalogue
from flux_core.graph.types import catalogue_types
from flux_core.graph.workflow import FORMAT, VERSION, Problem, WorkflowError, loads_document, parse_document

from .limits import MAX_FILE_BYTES, answers_cleanly, check_document_size
from .run_feed import FEED_PATH, feed_key_from_event, feeds_for
from .runner import CanvasRunner, gallery_images, targets_from_event
from .user_workflows import WorkflowFolder, default_workflows_dir, handle_request

# runs admitted to the runner's queue at once (the executor still runs one at a time); more wait in Gradio's
MAX_WAITING_RUNS = 16
MAX_UPLOAD_BYTES = MAX_FILE_BYTES  # a workflow JSON or a PNG carrying one; larger files are refused
UPLOAD_KINDS = (".json", ".png")

_STATIC = resources.files(__package__) / "static"
JS_PARTS = ("styles.js", "state.js", "search.js", "nodes.js", "editing.js", "arrange.js", "modes.js", "menus.js",
            "reroutes.js", "routing.js", "minimap.js", "results.js", "files.js", "subgraphs.js", "subgraph_edits.js",
            "mask_editor.js", "node_tools.js", "properties.js", "run_feed.js", "run.js", "persist.js", "documents.js",
            "history.js", "queue.js", "memory.js", "tab_pages.js", "tabs.js")  # joined in this order; tabs.js last (it wraps the others)
CSS_PARTS = ("canvas.css", "subgraphs.css", "documents.css", "mask_editor.css", "workspace.css", "queue.css",
             "reroutes.css", "memory.css", "results.css")
_ASSET_CACHE: dict[str, str] = {}

TEMPLATE = """
<div class="fw-root" data-ready="0" tabindex="0">
  <div class="fw-toolbar">
   <div class="fw-toolbar-row">
    <button type="button" class="fw-btn fw-primary" data-action="run" title="Run the whole workflow (Ctrl+Enter)">&#9654; Run</button>
    <button type="button" class="fw-btn" data-action="run-selected" title="Run only what the selected nodes need">Run selected</button>
    <button type="button" class="fw-btn fw-danger" data-action="stop" title="Stop the running workflow">&#9632; Stop</button>
    <span class="fw-sep"></span>
    <button type="button" class="fw-btn" data-action="palette" title="Add a node (double-click the canvas)">+ Add node</button>
    <button type="button" class="fw-btn" data-action="make-subgraph" title="Put the selected nodes into a subgraph (one node)">Make subgraph</button>
    <button type="button" class="fw-btn" data-action="undo" title="Undo (Ctrl+Z)">Undo</button>
    <button type="button" class="fw-btn" data-action="redo" title="Redo (Ctrl+Y)">Redo</button>
    <button type="button" class="fw-btn" data-action="fit" title="Fit the workflow in view">Fit</button>
    <button type="button" class="fw-btn" data-action="properties" title="Show the selected node's properties">Properties</button>
    <button type="button" class="fw-btn" data-action="refresh" title="Re-read the node list and the model files">&#8635;</button>
    <span class="fw-status" data-role="status"></span>
   </div>
   <div class="fw-toolbar-row">
    <span class="fw-doc-name" data-role="doc-name" data-dirty="0" title="The open workflow (&#8226; = unsaved changes)">untitled</span>
    <button type="button" class="fw-btn" data-action="new" title="A new empty workflow (the old one stays in Undo)">New</button>
    <button type="button" class="fw-btn" data-action="save-server" title="Save in your workflows folder (Ctrl+S)">Save</button>
    <button type="button" class="fw-btn" data-action="save-as" title="Save under a new name in your workflows folder">Save as</button>
    <button type="button" class="fw-btn" data-action="workflows" title="Open, rename or delete your saved workflows (Ctrl+O)">My workflows</button>
    <button type="button" class="fw-btn" data-action="save" title="Download the workflow as JSON">&#11015; JSON</button>
    <button type="button" class="fw-btn" data-action="open" title="Open a workflow JSON or a fluxwire PNG from your computer">Upload</button>
    <button type="button" class="fw-btn" data-action="history" title="The runs of this browser, with their pictures and workflows">Runs</button>
    <button type="button" class="fw-btn" data-action="export-comfyui" title="Download the workflow as a ComfyUI API prompt">Export ComfyUI</button>
    <button type="button" class="fw-btn" data-action="export-comfyui-ui" title="Download the workflow as a ComfyUI UI workflow (opens in ComfyUI's canvas with its layout)">Export ComfyUI UI</button>
    <input type="file" class="fw-file" accept=".json,.png,application/json,image/png" hidden>
    <select class="fw-shipped" data-action="shipped" title="Shipped workflows"><option value="">Workflows&#8230;</option></select>
   </div>
  </div>
  <div class="fw-breadcrumb" data-role="breadcrumb" hidden></div>
  <div class="fw-banner" data-role="banner" hidden><button type="button" class="fw-banner-close" data-action="dismiss" title="Dismiss">&#215;</button><span data-role="banner-text"></span></div>
  <div class="fw-stage" data-role="stage">
    <div class="fw-world" data-role="world">
      <svg class="fw-wires" data-role="wires" width="1" height="1"></svg>
      <div class="fw-nodes" data-role="nodes"></div>
    </div>
    <div class="fw-zoom" data-role="zoom">
      <button type="button" class="fw-btn" data-action="zoom-out" title="Zoom out">&#8722;</button>
      <button type="button" class="fw-btn" data-action="zoom-reset" data-role="zoom-level" title="Back to 100 %">100 %</button>
      <button type="button" class="fw-btn" data-action="zoom-in" title="Zoom in">+</button>
    </div>
    <div class="fw-find" data-role="find" hidden><input type="search" class="fw-find-input" data-field="find" placeholder="Find a node (Enter: next)" aria-label="Find a node"><span class="fw-find-count" data-role="find-count"></span></div>
    <div class="fw-rubber" data-role="rubber" hidden></div>
    <div class="fw-toast" data-role="toast" hidden></div>
    <div class="fw-palette" data-role="palette" hidden>
      <input type="search" class="fw-palette-search" placeholder="Search nodes" aria-label="Search nodes">
      <div class="fw-palette-list"></div>
    </div>
    <div class="fw-dialog" data-role="dialog" hidden></div>
    <div class="fw-drop-hint">Drop a workflow .json or a fluxwire .png to open it</div>
  </div>
</div>
"""


def _asset(name: str) -> str:
    """A file from web/static, read once per process (Gradio re-creates the component on prop updates)."""
    if name not in _ASSET_CACHE:
        _ASSET_CACHE[name] = (_STATIC / name).read_text(encoding="utf-8")
    return _ASSET_CACHE[name]


def canvas_script() -> str:
    """The component's js_on_load: the CSS as a string constant (installed by styles.js), then the JS parts."""
    if "<script>" not in _ASSET_CACHE:
        css = "".join(_asset(name) for name in CSS_PARTS)
        _ASSET_CACHE["<script>"] = ("const CANVAS_CSS = " + json.dumps(css) + ";\n"
                                    + "\n".join(_asset(name) for name in JS_PARTS))
    return _ASSET_CACHE["<script>"]


# ----------------------------------------------------------------------------- documents

def empty_document(title: str = "untitled") -> dict:
    return {"format": FORMAT, "version": VERSION, "metadata": {"title": title}, "nodes": [], "links": []}


def shipped_workflows() -> dict[str, Any]:
    """The workflow files shipped in the `workflows` package: name (file stem) -> resource."""
    try:
        folder = resources.files("workflows")
    except ModuleNotFoundError:
        return {}
    return {f.name[:-5]: f for f in sorted(folder.iterdir(), key=lambda f: f.name) if f.name.endswith(".json")}


DEFAULT_WORKFLOWS = ("flux-mini", "flux-schnell")


def default_document() -> tuple[dict, str | None]:
    """The workflow the canvas opens with, and a notice when there is none to show."""
    shipped = shipped_workflows()
    for name in DEFAULT_WORKFLOWS:
        if name in shipped:
            try:
                return loads_document(shipped[name].read_text(encoding="utf-8"), name).to_dict(), None
            except WorkflowError as e:
                return empty_document(), f"the shipped workflow {name!r} cannot be read: {e}"
    return empty_document(), ("no default workflow is shipped yet (workflows/flux-mini.json); "
                              "add nodes from the palette or open a workflow file")


def _document_or_problems(parse: Callable[[], Any], executor: Executor) -> dict:
    """{"ok", "workflow", "problems", "message"}: a structurally valid document is always returned so
    the user can fix it on the canvas; validation problems come with it. Anything unreadable (a broken
    PNG chunk, bad compressed text) is a refusal with a reason, never an exception."""
    try:
        wf = parse()
    except WorkflowError as e:
        return {"ok": False, "workflow": None, "problems": [p.to_dict() for p in e.problems], "message": str(e)}
    except (Exception, RecursionError) as e:  # noqa: BLE001 - e.g. a malformed PNG text chunk
        problem = Problem(f"the file cannot be read: {type(e).__name__}: {str(e)[:200]}", code="unreadable")
        return {"ok": False, "workflow": None, "problems": [problem.to_dict()], "message": problem.message}
    try:
        executor.validate(wf)
        problems, message = [], ""
    except WorkflowError as e:
        problems, message = [p.to_dict() for p in e.problems], str(e)
    return {"ok": True, "workflow": wf.to_dict(), "problems": problems, "message": message}


# ----------------------------------------------------------------------------- catalogue

_catalogue_cache: "weakref.WeakKeyDictionary[Executor, tuple[float, dict]]" = weakref.WeakKeyDictionary()
_catalogue_lock = threading.Lock()
CATALOGUE_TTL = 5.0


def node_catalogue(executor: Executor, fresh: bool = False) -> dict:
    """What the palette and the connection rule need: node declarations, socket types, pack problems,
    shipped workflow names. Cached briefly because Gradio rebuilds the component on every prop update."""
    with _catalogue_lock:
        hit = _catalogue_cache.get(executor)
        if hit and not fresh and time.monotonic() - hit[0] < CATALOGUE_TTL:
            return hit[1]
    library_nodes, library_problems = library_catalogue(Library(executor.env.library_dir), executor.registry,
                                                        executor.env)
    nodes = with_comfy_classes(executor.registry.describe(executor.env) + library_nodes)
    catalogue = {"nodes": nodes, "types": catalogue_types(),
                 "problems": list(executor.registry.problems) + library_problems,
                 "shipped": list(shipped_workflows()),
                 "model_sizes": model_sizes(nodes, executor)}
    with _catalogue_lock:
        _catalogue_cache[executor] = (time.monotonic(), catalogue)
    return catalogue


def model_sizes(nodes: list[dict], executor: Executor) -> dict[str, dict]:
    """"<folder>/<file>" -> the native picture size of each transformer file a loader offers (read from
    the file's header; flux_core/native_size.py), so new size widgets follow the model in the graph."""
    from flux_core.native_size import native_sizes

    offered: dict[str, list[str]] = {}
    for d in nodes:
        for inp in d.get("inputs") or []:
            w = inp.get("widget") or {}
            if w.get("folder") and isinstance(w.get("choices"), list):
                offered.setdefault(w["folder"], [])
                offered[w["folder"]] += [c for c in w["choices"] if c not in offered[w["folder"]]]
    return native_sizes(offered, executor.env.models_dir)


def with_comfy_classes(nodes: list[dict]) -> list[dict]:
    """Each declaration plus `comfy_classes`: the ComfyUI classes the importer maps onto it (from the one
    table), so the palette finds "KSampler" or "CLIPTextEncode" the way a ComfyUI user types them."""
    from flux_core.interop.comfyui.table import TWINS

    by_node: dict[str, list[str]] = {}
    for t in TWINS:
        by_node.setdefault(t.node, []).append(t.comfy)
    return [dict(d, comfy_classes=by_node.get(d.get("type"), [])) if not (d.get("subgraph") or {}).get("library")
            else d for d in nodes]


_default_executor: Executor | None = None


def default_executor() -> Executor:
    global _default_executor
    if _default_executor is None:
        _default_executor = Executor()
    return _default_executor


# ----------------------------------------------------------------------------- the component

def keep_one_copy_per_session(component: gr.components.Component, stands_in_for: int | None) -> None:
    """Make Gradio keep one copy of `component` per session instead of one per run.

    Gradio answers a prop update (`gr.update(...)`, `gr.skip()`) by re-creating the component with a fresh
    id; the next event then stores that copy in the session under its own id, so a session kept one
    canvas per run, forever (a server grew by gigabytes). A copy made for an update takes over the id of
    the component it stands in for, and records it for the copies made from it."""
    if stands_in_for is not None:
        component._id = stands_in_for
    component.constructor_args["stands_in_for"] = component._id



class NodeCanvas(gr.HTML):
    """The node editor. Value: a workflow document (dict). Call `wire()` inside the Blocks to add Run/Stop.

    Every prop Gradio may update is a named keyword here (Gradio re-creates the component with
    ``cls(**constructor_args, **update)``), and the constructor stays cheap for the same reason.
    """

    def __init__(self, value: dict | str | None = None, *, executor: Executor | None = None,
                 catalogue: dict | None = None, run_state: dict | None = None, notice: str = "",
                 workflows_dir: str | Path | None = None,
                 elem_id: str | None = None, elem_classes: list[str] | str | None = None,
                 stands_in_for: int | None = None, **kwargs):
        self.executor = executor or default_executor()
        if catalogue is None:
            catalogue = node_catalogue(self.executor)
        if value is None:
            value, default_notice = default_document()
            notice = notice or default_notice or ""
        ex = self.executor
        self.workflows_dir = workflows_dir
        folder = WorkflowFolder(workflows_dir if workflows_dir is not None else default_workflows_dir())

        @answers_cleanly
        def validate_graph(graph):
            """Structured problems of a graph, exactly as the CLI reports them (size limits first)."""
            def parse():
                check_document_size(graph)
                return parse_document(graph)
            return _document_or_problems(parse, ex)

        @answers_cleanly
        def read_workflow_file(upload):
            """A dropped or opened file ({name, data: base64}) -> its workflow; JSON or fluxwire PNG only."""
            return read_uploaded_workflow(upload, ex)

        @answers_cleanly
        def shipped_workflow(name):
            files = shipped_workflows()
            if not isinstance(name, str) or name not in files:
                return {"ok": False, "workflow": None, "problems": [],
                        "message": f"there is no shipped workflow named {str(name)[:80]!r}"}
            return _document_or_problems(lambda: loads_document(files[name].read_text(encoding="utf-8"), name),
                                         ex)

        @answers_cleanly
        def upload_image(upload):
            """A picture for LoadImage ({name, data: base64}) saved into the input folder -> {ok, name}."""
            return save_uploaded_image(upload, ex)

        @answers_cleanly
        def input_picture(name):
            """An input picture's colours and mask (base64 PNGs) for the mask editor."""
            from .mask_editor import read_input_picture

            return read_input_picture(name, ex)

        @answers_cleanly
        def save_mask(request):
            """The mask editor's painting ({name, mask}) saved with the picture as "<name>-mask.png"."""
            from .mask_editor import save_masked_picture

            return save_masked_picture(request, ex)

        @answers_cleanly
        def save_to_library(request):
            """Write a subgraph ({name, definition, definitions}) into the user's library folder."""
            from .library_save import save_library_entry

            result = save_library_entry(request, ex)
            if result.get("ok"):
                node_catalogue(ex, fresh=True)
            return result

        @answers_cleanly
        def export_comfyui(graph):
            """The graph as a ComfyUI API prompt (text), or the nodes that have no ComfyUI twin."""
            from flux_core.interop.comfyui.export import export_for_canvas

            return export_for_canvas(graph, ex.registry)

        @answers_cleanly
        def export_comfyui_ui(graph):
            """The graph as a ComfyUI UI workflow (text), or what cannot be written."""
            from flux_core.interop.comfyui.export import export_for_canvas

            return export_for_canvas(graph, ex.registry, "ui")

        @answers_cleanly
        def user_workflows(request):
            """The user's workflows folder: {op: list|load|save|rename|delete, name, ...} (web/user_workflows.py)."""
            return handle_request(folder, request)

        shared: dict[str, Any] = {}  # the canvas's RunFeeds once known (below); never `self`, see run_feed_path

        def run_feed_path(_=None):
            """Where the page can follow its runs (web/run_feed.py), or None: then they come as the prop.

            Holds no reference to the component: Gradio keeps every copy's server functions, and a copy
            is made per prop update (a function holding `self` kept one canvas per run alive)."""
            feeds = shared.get("feeds")
            return FEED_PATH if feeds is not None and feeds.mounted else None

        def refresh_catalogue(_=None):
            """Re-read node declarations (e.g. model files added to the models folder)."""
            return node_catalogue(ex, fresh=True)

        super().__init__(
            value=self._as_document(value),
            html_template=TEMPLATE,
            css_template="",  # the CSS is installed once by styles.js: Gradio rewrites css_template on every update
            js_on_load=canvas_script(),
            apply_default_css=False,
            server_functions=[validate_graph, read_workflow_file, shipped_workflow, refresh_catalogue, upload_image,
                              save_to_library, export_comfyui, export_comfyui_ui, user_workflows, input_picture, save_mask,
                              run_feed_path],
            elem_id=elem_id,
            elem_classes=elem_classes,
            # as JSON text: Gradio's Svelte state copies a dict prop leaf by leaf on every update of any prop
            # (each streamed run state), ~100 KB of catalogue each time; a string is copied in one step
            catalogue=catalogue if isinstance(catalogue, str) else json.dumps(catalogue, separators=(",", ":")),
            run_state=run_state or {},
            notice=notice,
            **kwargs,
        )
        keep_one_copy_per_session(self, stands_in_for)
        self.run_feeds = shared["feeds"] = feeds_for(self._id)  # the pages' run streams (web/run_feed.py)

    @staticmethod
    def _as_document(value: Any) -> Any:
        if isinstance(value, str):
            return loads_document(value).to_dict()
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return value

    # Gradio hooks: the value is JSON data, not HTML text.
    def preprocess(self, payload: Any) -> Any:
        return payload

    def postprocess(self, value: Any) -> Any:
        return self._as_document(value)

    def api_info(self) -> dict[str, Any]:
        return {"type": "object", "description": "a fluxwire workflow document"}

    def example_payload(self) -> Any:
        return empty_document()

    def example_value(self) -> Any:
        return empty_document()

    # --- events -------------------------------------------------------------------------------
    def wire(self, gallery: gr.Gallery | None = None, *, runner: CanvasRunner | None = None,
             api_name: str = "run_graph"):
        """Bind the canvas's Run and Stop buttons to a queued run on this canvas's executor.

        Must be called inside the same `gr.Blocks` context. Returns the runner. Runs from every tab wait
        in the runner's `RunBoard` (one run on the executor at a time, first come first served), where
        Stop finds them: Stop stops the runs of the session that sends it, waiting or running, and only
        those; a request without a session stops nothing.

        Two events run graphs. `run_graph` (the API name) takes the document as the canvas's value and
        streams the cumulative state as the `run_state` prop: what API clients and a page without a run
        feed use. `run_page` is the page's own: the document comes in the event data, the states go
        through the page's run feed (web/run_feed.py), and it has no inputs and no outputs -- Gradio's page
        copies a component's whole data for each input, output update and loading status of an event
        (~20-40 ms each with 500 nodes), and an output's progress timer re-lays out the whole page ~10 times
        a second. When the feed says a run has ended, the page asks `show_results` for the gallery."""
        runner = runner or CanvasRunner(self.executor)
        outputs: list[Any] = [self] + ([gallery] if gallery is not None else [])
        feeds = self.run_feeds

        def run_graph(graph, evt: gr.EventData, request: gr.Request):
            session = getattr(request, "session_hash", None)
            targets = targets_from_event(getattr(evt, "_data", None))
            for state in runner.run(graph, targets=targets, session=session):
                update = gr.update(run_state=state)
                if gallery is None:
                    yield update
                else:
                    images = gallery_images(state)
                    yield update, gr.skip() if images is None else images

        def run_page(evt: gr.EventData, request: gr.Request):
            session = getattr(request, "session_hash", None)
            data = getattr(evt, "_data", None)
            follower = feeds.follower(feed_key_from_event(data), session)
            if follower is None:
                raise gr.Error("this run carried no run feed of this page (reload the page)")
            try:  # the document as JSON text (run.js); anything else is refused by the runner, as a state
                graph = json.loads(data["workflow"]) if isinstance(data.get("workflow"), str) else None
            except (ValueError, RecursionError):
                graph = None
            for state in runner.run(graph, targets=targets_from_event(data), session=session):
                if not follower.send(state):
                    # no stream open (broken or reopening; it starts with the last state when it is back):
                    # a message to Gradio lets it notice a page that went away, which stops the run
                    yield None

        def show_results(evt: gr.EventData, request: gr.Request):
            """The gallery: the images of a run of this page that has ended (asked by the page when its
            feed says so; the run event itself has no outputs, so Gradio's page shows no progress for it)."""
            data = getattr(evt, "_data", None)
            images = feeds.results(feed_key_from_event(data), getattr(request, "session_hash", None),
                                   data.get("run_id") if isinstance(data, dict) else None)
            return gr.skip() if images is None else images

        def stop_run(request: gr.Request):
            runner.stop(getattr(request, "session_hash", None) or None)

        self.run_graph(run_graph, inputs=[self], outputs=outputs, api_name=api_name,
                       concurrency_limit=MAX_WAITING_RUNS, concurrency_id="fluxwire-runs", trigger_mode="multiple",
                       show_progress="hidden")
        self.run_page(run_page, inputs=None, outputs=None, api_visibility="private",
                      concurrency_limit=MAX_WAITING_RUNS, concurrency_id="fluxwire-runs", trigger_mode="multiple",
                      show_progress="hidden")
        if gallery is not None:
            self.show_results(show_results, inputs=None, outputs=[gallery], api_visibility="private", queue=False,
                              show_progress="hidden")
        self.stop_run(stop_run, inputs=None, outputs=None, api_name="stop_run", queue=False,
                      show_progress="hidden")
        return runner


def read_uploaded_workflow(upload: Any, executor: Executor) -> dict:
    """Check an upload sent by the browser ({name, data}) and return its workflow or the problems."""
    def refuse(message: str, code: str = "bad_upload") -> dict:
        return {"ok": False, "workflow": None, "message": message,
                "problems": [Problem(message, code=code).to_dict()]}

    if not isinstance(upload, dict) or not isinstance(upload.get("data"), str):
        return refuse("the upload must be {name, data} with base64 data")
    name = str(upload.get("name") or "upload")[:200]
    if not name.lower().endswith(UPLOAD_KINDS):
        return refuse(f"{name}: only .json workflows and .png images carrying a workflow can be opened",
                      "bad_file_type")
    encoded = upload["data"]
    if len(encoded) > (MAX_UPLOAD_BYTES * 4) // 3 + 8:
        return refuse(f"{name}: the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", "too_large")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return refuse(f"{name}: the upload is not valid base64")
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        from flux_core.pnginfo import workflow_text_from_png

        return _document_or_problems(lambda: loads_document(workflow_text_from_png(raw, name), name), executor)
    if name.lower().endswith(".png"):
        return refuse(f"{name}: this is not a PNG file", "bad_file_type")
    return _document_or_problems(lambda: loads_document(raw, name), executor)


IMAGE_UPLOAD_KINDS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
# Pictures are checked by the size in their header, before any pixel is decoded. 16.8 megapixels is far
# above what FLUX makes or edits (about 1-2 MP) and keeps one decoded picture (and LoadImage's float copy
# of it) within a few hundred MB; larger pictures are refused with a request to scale them down.
MAX_UPLOAD_SIDE = 4096
MAX_UPLOAD_PIXELS = MAX_UPLOAD_SIDE * MAX_UPLOAD_SIDE


def too_many_pixels(name: str, width: int, height: int) -> str:
    return (f"{name}: {width}x{height} is {width * height / 1e6:.1f} megapixels; fluxwire accepts pictures up to "
            f"{MAX_UPLOAD_PIXELS / 1e6:.1f} megapixels ({MAX_UPLOAD_SIDE}x{MAX_UPLOAD_SIDE}); scale it down first")


def save_uploaded_image(upload: Any, executor: Executor) -> dict:
    """Check a picture sent by the browser and save it into the executor's input folder.

    Only common image types, at most MAX_UPLOAD_BYTES, that Pillow can actually decode; the stored name is
    the upload's base name made safe, with a number added rather than overwriting a different file."""
    import hashlib
    import io
    import re
    import struct
    import warnings

    from PIL import Image, UnidentifiedImageError

    from flux_core.files import UnsafeName, write_new

    def refuse(message: str) -> dict:
        return {"ok": False, "name": None, "message": message}

    if not isinstance(upload, dict) or not isinstance(upload.get("data"), str):
        return refuse("the upload must be {name, data} with base64 data")
    original = str(upload.get("name") or "upload.png")[:200]
    stem, dot, ext = Path(original).name.rpartition(".")
    ext = "." + ext.lower() if dot else ""
    if ext not in IMAGE_UPLOAD_KINDS:
        return refuse(f"{original}: only pictures can be uploaded ({', '.join(IMAGE_UPLOAD_KINDS)})")
    if len(upload["data"]) > (MAX_UPLOAD_BYTES * 4) // 3 + 8:
        return refuse(f"{original}: the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    try:
        raw = base64.b64decode(upload["data"], validate=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as im:  # reads the header only
                if im.width * im.height > MAX_UPLOAD_PIXELS:
                    return refuse(too_many_pixels(original, im.width, im.height))
                im.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        size = re.search(r"\((\d+) pixels\)", str(e))
        return refuse(f"{original}: {int(size.group(1)):,} pixels is more than fluxwire accepts "
                      f"({MAX_UPLOAD_SIDE}x{MAX_UPLOAD_SIDE}); scale the picture down first" if size else
                      f"{original}: the picture is larger than fluxwire accepts; scale it down first")
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError, SyntaxError, EOFError, IndexError,
            struct.error) as e:
        return refuse(f"{original}: not a picture fluxwire can read ({type(e).__name__}: {str(e)[:200]})")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:80] or "upload"
    folder = Path(executor.env.input_dir)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(raw).hexdigest()
    for i in range(10_000):
        name = f"{safe}{'' if i == 0 else f'-{i}'}{ext}"
        target = folder / name
        if target.is_symlink():
            continue  # never read or write through a link lying in the input folder
        if target.exists():
            if hashlib.sha256(target.read_bytes()).hexdigest() == digest:
                return {"ok": True, "name": name, "message": f"{name} is already in the input folder"}
            continue
        try:
            write_new(folder, name, raw, what="upload name")  # whole or not at all, never through a link
        except FileExistsError:
            continue
        except UnsafeName as e:
            return refuse(f"{original}: {e}")
        return {"ok": True, "name": name, "message": f"uploaded {name}"}
    return refuse(f"{original}: too many files with that name in the input folder")


__all__ = ["NodeCanvas", "node_catalogue", "default_document", "shipped_workflows", "read_uploaded_workflow",
           "save_uploaded_image",
           "MAX_UPLOAD_BYTES"]
