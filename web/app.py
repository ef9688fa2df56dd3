"""The fluxwire web app: a Gradio page whose centre is the node canvas (`fluxwire serve`).

`build_app` makes the Blocks (for tests and for mounting); `serve` launches it on 127.0.0.1 unless told
otherwise. All state that matters lives in the one `Executor` (its cache is shared by every tab).
"""
from __future__ import annotations

import ipaddress
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from flux_core.graph.executor import Executor  # noqa: E402

from starlette.middleware import Middleware  # noqa: E402

from .canvas import MAX_UPLOAD_BYTES, NodeCanvas, keep_one_copy_per_session  # noqa: E402
from .limits import MAX_REQUEST_BYTES, RequestSizeLimit  # noqa: E402
from .run_feed import mount_run_feed  # noqa: E402

# Gradio's gallery widens one image to the full row; keep result thumbnails a sensible size (cosmetic only).
# sessions whose Gradio state the server keeps (oldest dropped first); one-shot API callers each open one
MAX_SESSIONS = 1000
PAGE_CSS = "#fluxwire-gallery .grid-container { --grid-cols: 6 !important; }"


class ResultGallery(gr.Gallery):
    """The gallery of the last run's images; one copy per session (see `keep_one_copy_per_session`)."""

    is_template = True  # the browser draws it as a plain gr.Gallery

    def __init__(self, value=None, *, stands_in_for: int | None = None, **kwargs):
        super().__init__(value, **kwargs)
        keep_one_copy_per_session(self, stands_in_for)

    def get_config(self, cls=None):
        return super().get_config(cls or gr.Gallery)


def build_app(executor: Executor | None = None, *, models_dir=None, output_dir="output", nodes_dir=None,
              title: str = "fluxwire", workflows_dir=None) -> gr.Blocks:
    """The editor page: canvas, then a gallery of the images of the last run."""
    if executor is None:
        executor = Executor(models_dir=models_dir, output_dir=output_dir, nodes_dir=nodes_dir)
    with gr.Blocks(title=title, fill_width=True) as demo:
        canvas = NodeCanvas(executor=executor, elem_id="fluxwire-canvas", workflows_dir=workflows_dir)
        gallery = ResultGallery(label="Results of the last run", elem_id="fluxwire-gallery", format="png",
                             columns=8, height=240, object_fit="contain", preview=False,
                             interactive=False, buttons=["download", "fullscreen"])
        canvas.wire(gallery)
    demo.fluxwire_canvas = canvas  # for tests and embedders that want the component back
    return demo


def is_local_host(host: str) -> bool:
    """True for names that only this machine can reach (the default 127.0.0.1, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    if is_local_host(host):
        return None
    return (f"serving on {host!r} makes the editor reachable from other machines; anyone who can reach it "
            "can run workflows and read results (there is no login)")


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, root_path: str = "", *,
           block: bool = True):
    """Queue and launch a built app with fluxwire's limits; returns Gradio's (app, local_url, share_url).

    Gradio's own run history is off: it kept every run's inputs (the whole document) in localStorage and
    re-read and re-wrote that whole list for every streamed update of a run (~150 ms a state with a
    500-node graph, growing with each run kept); the canvas's Runs panel (history.js) is the history."""
    demo.queue(default_concurrency_limit=1)
    launched = demo.launch(server_name=host, server_port=port, root_path=root_path or None,
                       state_session_capacity=MAX_SESSIONS,
                       app_kwargs={"middleware": [Middleware(RequestSizeLimit, limit=MAX_REQUEST_BYTES)]},
                       max_file_size=MAX_UPLOAD_BYTES, css=PAGE_CSS, prevent_thread_lock=True, show_error=True,
                       quiet=not block, run_history=False)
    canvas = getattr(demo, "fluxwire_canvas", None)
    if canvas is not None:  # the canvas's page follows its runs here (web/run_feed.py)
        mount_run_feed(launched[0], canvas.run_feeds)
    if block:
        demo.block_thread()
    return launched


def serve(host: str = "127.0.0.1", port: int = 7860, models_dir=None, output_dir="output", nodes_dir=None,
          root_path: str = "", *, block: bool = True, executor: Executor | None = None,
          api: bool = True, api_token: str | None = None, comfyui_compat: bool = False, remote=None):
    """Start the editor (`fluxwire serve`). A non-local host is allowed but warned about: there is no login.

    The HTTP API (docs/api.md) is mounted under /api next to the canvas, sharing its executor and queue;
    off 127.0.0.1 it demands a token (`api_token`, or one generated and printed). `remote` (a Ray pool,
    `--ray`) runs the API's jobs on Ray actors; the canvas's own runs stay on this executor."""
    warning = host_warning(host)
    if warning:
        print(f"fluxwire: warning: {warning}", file=sys.stderr)
    if executor is None:
        executor = Executor(models_dir=models_dir, output_dir=output_dir, nodes_dir=nodes_dir)
    demo = build_app(executor)
    launched = launch(demo, host, port, root_path, block=False)
    if api:
        from .api.server import announce_token, mount_api, token_for

        token, generated = token_for(host, api_token)
        announce_token(token, generated, host)
        demo.fluxwire_api = mount_api(launched[0], executor, token=token, comfyui_compat=comfyui_compat,
                                      remote=remote)
    if block:
        demo.block_thread()
    return launched
