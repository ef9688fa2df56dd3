"""The queued run behind the canvas's Run button: executor events in, cumulative run state out.

`CanvasRunner.run` is a plain generator (no Gradio in it) so it can be tested without a server. It
runs the executor in a worker thread, folds the events of *that* run (a per-run listener, so another
browser tab's run never leaks in) into one JSON-able state, and yields it a few times a second. Gradio
sends each yield as a diff against the previous one, so re-yielding the whole state is cheap.

State shape (what the canvas JS reads)::

    {"run_id", "status": running|success|error|interrupted|invalid, "message",
     "nodes": {node_id: {"status": queued|cached|running|done|error, "value", "max",
                         "preview": data-URL, "images": [{"path", "name"}], "text", "error", "input"}},
     "problems": [{node, input, code, message}], "images": [path, ...],
     "memory": None | {"headline", "budgets", "peak_device", "lines": [...], ...}}  (see memory_status)
"""
from __future__ import annotations

import base64
import hashlib
import io
import queue
import struct
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from flux_core.graph import events as ev
from flux_core.graph.executor import Executor, RunFailed, RunInterrupted
from flux_core.pnginfo import WORKFLOW_KEY, text_chunks
from flux_core.graph.workflow import Problem, Workflow, WorkflowError, dumps_document, parse_document

from .jobs import Job, RunBoard, board_for
from .limits import check_document_size
from .memory_status import memory_mark, memory_status

PREVIEW_PIXELS = 256  # longest side of the live preview sent to the browser
YIELD_INTERVAL = 0.15  # seconds between streamed states while events keep coming
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def problems_of(error: WorkflowError) -> list[dict]:
    return [p.to_dict() for p in error.problems]


def preview_data_url(image: Any, pixels: int = PREVIEW_PIXELS) -> str | None:
    """A small JPEG of a PIL image as a data URL (what a node's live preview shows), or None."""
    try:
        thumb = image.convert("RGB")
        thumb.thumbnail((pixels, pixels))
        buf = io.BytesIO()
        thumb.save(buf, format="JPEG", quality=80)
    except Exception:  # a preview must never break a run
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def with_workflow(png: bytes, workflow_text: str) -> bytes:
    """The PNG bytes with the workflow embedded (iTXt, UTF-8) unless it already carries one."""
    if not png.startswith(_PNG_SIGNATURE):
        return png
    try:
        if WORKFLOW_KEY in text_chunks(png):
            return png
    except (ValueError, zlib.error, UnicodeDecodeError, struct.error):
        return png
    iend = png.rfind(b"IEND")
    if iend < 4:
        return png
    body = WORKFLOW_KEY.encode("latin-1") + b"\0\0\0\0\0" + workflow_text.encode("utf-8")
    start = iend - 4  # the IEND chunk's length field
    return png[:start] + _png_chunk(b"iTXt", body) + png[start:]


def image_path(item: Any, output_dir: Path) -> Path | None:
    """Where an image a node reported in its UI data lives (a path, or a dict with path/filename)."""
    if isinstance(item, dict):
        item = item.get("path") or (Path(item.get("subfolder") or "") / item["filename"]
                                    if item.get("filename") else None)
    if not isinstance(item, (str, Path)):
        return None
    path = Path(item)
    if not path.is_absolute() and not path.exists():
        path = output_dir / path
    return path if path.is_file() else None


class ImagePublisher:
    """Copies result images where the web server may serve them, each carrying its workflow."""

    def __init__(self, folder: str | Path | None = None):
        if folder is None:
            from gradio.utils import get_upload_folder

            folder = Path(get_upload_folder()) / "fluxwire"
        self.folder = Path(folder)

    def publish(self, source: Path, workflow_text: str) -> Path:
        data = source.read_bytes()
        if source.suffix.lower() == ".png":
            data = with_workflow(data, workflow_text)
        digest = hashlib.sha256(data).hexdigest()[:20]
        target = self.folder / digest / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        return target


class CanvasRunner:
    """Runs canvas graphs on one shared executor; each run's events go to its own generator only.

    Which client owns which run, and which run has the executor, is kept by the `RunBoard`."""

    def __init__(self, executor: Executor, publisher: ImagePublisher | None = None,
                 yield_interval: float = YIELD_INTERVAL, board: RunBoard | None = None):
        self.executor = executor
        self.publisher = publisher or ImagePublisher()
        self.yield_interval = yield_interval
        self.board = board or board_for(executor)

    # --- stopping -----------------------------------------------------------------------------
    def stop(self, session: str | None) -> bool:
        """Stop this session's runs, waiting or running; never another client's. No session stops nothing."""
        return bool(self.board.stop(session))

    def _listener(self, job: Job, events: queue.Queue) -> Callable[[dict], None]:
        def listen(event: dict) -> None:
            if event.get("type") == ev.RUN_STARTED and job.stopped:  # stopped while the run was starting
                self.executor.interrupt()
            events.put(event)
        return listen

    # --- running ------------------------------------------------------------------------------
    def run(self, graph: Any, targets: list[str] | None = None, session: str | None = None,
            ) -> Iterator[dict]:
        """Yield the cumulative run state until the run ends (the last state has a final status)."""
        job = self.board.submit(session)
        ended = False
        try:
            yield from self._run(job, graph, targets)
            ended = True
        finally:
            if not ended:  # the client went away (Gradio closed the generator): stop the run
                self.board.stop_job(job)
            self.board.finish(job)

    def _run(self, job: Job, graph: Any, targets: list[str] | None) -> Iterator[dict]:
        run_id = job.id
        state: dict[str, Any] = {"run_id": run_id, "status": "running", "message": "validating", "nodes": {},
                                 "problems": [], "images": []}
        try:
            # only a document (never a str, which the executor would read as a server-side path)
            if not isinstance(graph, (Workflow, dict)):
                parse_document(graph)  # raises the structured "a workflow is a JSON object" error
            check_document_size(graph)  # before any work that grows with the document
            # the executor remembers the dict it just checked, so the run below does not check it again
            checked = self.executor.validate(graph)
        except WorkflowError as e:
            state.update(status="invalid", message=str(e), problems=problems_of(e))
            for p in e.problems:
                if p.node:
                    state["nodes"][p.node] = {"status": "error", "error": p.message, "input": p.input}
            yield state
            return
        workflow_text = dumps_document(checked.workflow)

        ahead = None
        while not self.board.wait_turn(job, self.yield_interval):
            if job.stopped:
                state.update(status="interrupted", message="stopped before it started")
                yield state
                return
            now = self.board.ahead_of(job)
            if now != ahead:
                ahead = now
                state["message"] = f"waiting for the executor ({now} run{'s' if now != 1 else ''} ahead)"
                yield state
        if job.stopped:
            state.update(status="interrupted", message="stopped before it started")
            yield state
            return

        events: queue.Queue = queue.Queue()
        outcome: dict[str, Any] = {}

        def work():
            try:
                outcome["result"] = self.executor.run(graph, outputs=targets or None,
                                                      listener=self._listener(job, events), run_id=run_id)
            except BaseException as e:  # reported through the state, never lost in the thread
                outcome["error"] = e
            finally:
                events.put(None)

        worker = threading.Thread(target=work, name=f"fluxwire-run-{run_id}", daemon=True)
        mark = memory_mark(self.executor)  # this run's memory decisions are the ones after it
        state["message"] = "starting"
        worker.start()
        previews: dict[str, Any] = {}
        # the first state waits one interval too: a run that ends by then is shown once, at its end (a page
        # with 500 nodes would otherwise restyle every node to "queued" and back within a blink)
        last, dirty, finished = time.monotonic(), False, False
        while not finished:
            try:
                event = events.get(timeout=self.yield_interval)
            except queue.Empty:
                event = False
            if event is None:
                finished = True
            elif event:
                self._fold(state, event, previews, workflow_text)
                dirty = True
                if time.monotonic() - last < self.yield_interval:
                    continue
            for nid, image in previews.items():  # only the newest preview of each node is encoded
                url = preview_data_url(image)
                if url:
                    state["nodes"].setdefault(nid, {})["preview"] = url
            previews.clear()
            if dirty and not finished:
                dirty = False
                state["memory"] = memory_status(self.executor, mark)
                yield state
                # measured from when Gradio took the state: the time it spends sending one must not count
                # towards the next, or a slow consumer gets one state per event (a 500-node run: ~70)
                last = time.monotonic()
        worker.join()
        self._finish(state, outcome)
        state["memory"] = memory_status(self.executor, mark)
        for node in state["nodes"].values():  # the final state stays in the client's session: keep it small
            node.pop("preview", None)
        yield state

    def _fold(self, state: dict, event: dict, previews: dict, workflow_text: str) -> None:
        kind, nid = event.get("type"), event.get("node")
        node = state["nodes"].setdefault(nid, {}) if nid else None
        if kind == ev.RUN_STARTED:
            for n in event.get("nodes", []):
                state["nodes"][n] = {"status": "queued"}
            state["message"] = "running"
        elif kind == ev.NODE_CACHED:
            node.update(status="cached")
            self._images(state, node, event.get("ui") or {}, workflow_text)
        elif kind == ev.NODE_STARTED:
            node.update(status="running", value=0, max=0)
            state["message"] = f"running {nid} ({event.get('node_type')})"
        elif kind == ev.NODE_PROGRESS:
            node.update(status="running", value=event.get("value", 0), max=event.get("max", 0))
            if event.get("preview") is not None:
                previews[nid] = event["preview"]
        elif kind == ev.NODE_FINISHED:
            node.update(status="done", seconds=round(event.get("seconds", 0.0), 3))
            self._images(state, node, event.get("ui") or {}, workflow_text)
        elif kind == ev.NODE_FAILED:
            node.update(status="error", error=event.get("message"), input=event.get("input"))
        elif kind == ev.RUN_INTERRUPTED and node is not None and node.get("status") == "running":
            node.update(status="queued")

    def _images(self, state: dict, node: dict, ui: dict, workflow_text: str) -> None:
        if "text" in ui:
            node["text"] = str(ui["text"])
        shown = []
        for item in ui.get("images") or []:
            path = image_path(item, self.executor.env.output_dir)
            if path is None:
                continue
            try:
                published = self.publisher.publish(path, workflow_text)
            except OSError:
                continue
            shown.append({"path": str(published), "name": path.name})
            state["images"].append(str(published))
        if shown:
            node["images"] = shown

    @staticmethod
    def _finish(state: dict, outcome: dict) -> None:
        error = outcome.get("error")
        if error is None:
            state.update(status="success", message="done")
        elif isinstance(error, RunInterrupted):
            state.update(status="interrupted", message="stopped")
            for node in state["nodes"].values():
                if node.get("status") in ("queued", "running"):
                    node["status"] = "idle"
        elif isinstance(error, RunFailed):
            state.update(status="error", message=str(error),
                         problems=[Problem(error.message, node=error.node_id, input=error.input,
                                           code="node_failed").to_dict()])
            for node in state["nodes"].values():
                if node.get("status") == "queued":
                    node["status"] = "idle"
        elif isinstance(error, WorkflowError):
            state.update(status="invalid", message=str(error), problems=problems_of(error))
        else:
            state.update(status="error", message=f"{type(error).__name__}: {error}")


def gallery_images(state: dict) -> list[str] | None:
    """What the gallery shows for a run state: the pictures of a run that succeeded or ended with some, else
    None (a run still going, or failed without pictures, leaves the gallery as it is)."""
    if state.get("status") == "success" or (state.get("status") != "running" and state.get("images")):
        return [str(p) for p in state.get("images", [])]
    return None


def targets_from_event(data: Any) -> list[str] | None:
    """The `outputs` list a browser sent with Run (None: every output node); only strings are kept."""
    if not isinstance(data, dict):
        return None
    outputs = data.get("outputs")
    if not isinstance(outputs, list):
        return None
    kept = [o for o in outputs if isinstance(o, str) and o]
    return kept or None

