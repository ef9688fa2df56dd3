"""The REST endpoints (under /api), their request shapes, and live events over SSE and WebSocket.

Thin: every decision lives in `ApiService` (jobs, queue) or the modules it reuses; a route turns an
HTTP request into one call and the answer (or the project's structured problems) into JSON.
"""
from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from flux_core import model_folders
from flux_core.files import UnsafeName, inside
from flux_core.graph.workflow import WorkflowError

from ..limits import MAX_FILE_BYTES
from .security import TokenCheck, client_of
from .service import ENDED, ApiService, QueueFull

EVENT_POLL = 0.05  # seconds between looks at a job's new events (SSE/WebSocket)


class JobRequest(BaseModel):
    workflow: dict[str, Any] = Field(description="a fluxwire document, or a ComfyUI workflow/API prompt")
    overrides: dict[str, Any] = Field(default_factory=dict, description="NODE_ID.INPUT: value, for this job")
    outputs: list[str] | None = Field(default=None, description="output nodes to run (default: all)")


class MoveRequest(BaseModel):
    position: int = Field(ge=0, description="0 = next to run")


def problems_response(e: WorkflowError, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": str(e), "problems": [p.to_dict() for p in e.problems]}, status_code=status)


def make_router(service: ApiService, token: str | None) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(TokenCheck(token))])
    env = service.executor.env

    def live(job_id: str):
        record = service.get(job_id)
        if record is None:
            raise HTTPException(404, f"no job {job_id!r} is queued or running")
        return record

    @router.post("/jobs", status_code=202, tags=["jobs"], summary="Submit a workflow; returns the job id")
    def submit(body: JobRequest, request: Request):
        try:
            record = service.submit(client_of(request), body.workflow, body.overrides, body.outputs)
        except WorkflowError as e:
            return problems_response(e)
        except QueueFull as e:
            raise HTTPException(503, str(e))
        return service.describe(record)

    @router.get("/jobs", tags=["jobs"], summary="The caller's jobs (by its X-Fluxwire-Client id)")
    def my_jobs(request: Request, history: int = 0):
        owner = client_of(request)
        if owner is None:
            raise HTTPException(400, "send an X-Fluxwire-Client header to list your jobs")
        return {"jobs": service.jobs_of(owner), "history": service.history.newest(history, owner) if history else []}

    @router.get("/jobs/{job_id}", tags=["jobs"], summary="Status and result: outputs, image URLs, timings, error")
    def job(job_id: str):
        record = service.record(job_id)
        if record is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return record

    @router.get("/jobs/{job_id}/wait", tags=["jobs"], summary="Wait (up to `timeout` s) for the job to end")
    async def wait(job_id: str, timeout: float = 30.0):
        record = service.get(job_id)
        if record is not None:
            await asyncio.get_running_loop().run_in_executor(None, record.ended.wait, min(max(timeout, 0), 300))
        return job(job_id)

    @router.delete("/jobs/{job_id}", tags=["jobs"], summary="Cancel a job (or a canvas run), waiting or running")
    def cancel(job_id: str):
        if service.get(job_id) is None and service.board.get(job_id) is None:
            live(job_id)  # the 404
        return {"cancelled": service.cancel(job_id)}

    @router.get("/jobs/{job_id}/events", tags=["events"], summary="The job's events as Server-Sent Events")
    async def events_sse(job_id: str):
        record = live(job_id)

        async def stream():
            async for event in _events(service, record):
                yield f"event: {event['type']}\ndata: {json.dumps(event, default=str)}\n\n"
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.websocket("/jobs/{job_id}/ws")
    async def events_ws(websocket: WebSocket, job_id: str):
        record = service.get(job_id)
        await websocket.accept()
        if record is None:
            await websocket.close(code=4404, reason=f"no job {job_id!r} is queued or running")
            return
        try:
            async for event in _events(service, record):
                await websocket.send_text(json.dumps(event, default=str))
            await websocket.close()
        except WebSocketDisconnect:
            pass

    @router.get("/queue", tags=["queue"], summary="The running job and the waiting ones, next first")
    def queue(request: Request):
        return service.queue(client_of(request))

    @router.post("/queue/pause", tags=["queue"], summary="Start no new job (the running one finishes)")
    def pause():
        service.board.set_paused(True)
        return service.queue()

    @router.post("/queue/resume", tags=["queue"])
    def resume():
        service.board.set_paused(False)
        return service.queue()

    @router.post("/queue/clear", tags=["queue"], summary="Cancel every waiting API job (mine=true: only the caller's)")
    def clear(request: Request, mine: bool = False):
        owner = client_of(request) if mine else None
        if mine and owner is None:
            raise HTTPException(400, "mine=true needs an X-Fluxwire-Client header")
        return {"cancelled": service.clear(owner)}

    @router.post("/queue/{job_id}/move", tags=["queue"], summary="Move a waiting job to a position (0 = next)")
    def move(job_id: str, body: MoveRequest):
        if not service.board.move(job_id, body.position):
            raise HTTPException(409, f"job {job_id!r} is not waiting")
        return service.queue()

    @router.get("/history", tags=["history"], summary="Finished jobs, newest first (persisted, bounded)")
    def history(request: Request, limit: int = 100, mine: bool = False):
        return {"jobs": service.history.newest(max(1, min(limit, 1000)), client_of(request) if mine else None)}

    @router.get("/nodes", tags=["catalogue"], summary="Every node type with its inputs, outputs and widgets")
    def nodes():
        from ..canvas import node_catalogue

        return node_catalogue(service.executor)

    @router.get("/models", tags=["catalogue"], summary="Model files per folder kind")
    def models():
        return {kind: model_folders.list_names(kind, env.models_dir) for kind in model_folders.FOLDERS}

    @router.get("/models/{folder}", tags=["catalogue"])
    def models_in(folder: str):
        if folder not in model_folders.FOLDERS:
            raise HTTPException(404, f"unknown model folder {folder!r}; known: {', '.join(model_folders.FOLDERS)}")
        return {"folder": folder, "models": model_folders.list_names(folder, env.models_dir)}

    @router.post("/uploads", tags=["files"], summary="Upload an input picture (checked, saved in the input folder)")
    async def upload(image: UploadFile = File(...)):
        from ..canvas import save_uploaded_image

        raw = await image.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise HTTPException(413, f"{image.filename}: the file is larger than {MAX_FILE_BYTES // 2**20} MB")
        answer = save_uploaded_image({"name": image.filename or "upload.png",
                                      "data": base64.b64encode(raw).decode("ascii")}, service.executor)
        if not answer["ok"]:
            return JSONResponse({"error": answer["message"]}, status_code=400)
        return {"name": answer["name"], "message": answer["message"]}

    @router.get("/view", tags=["files"], summary="A result picture (output folder, or this server's previews)")
    def view(filename: str, subfolder: str = "", type: str = "output"):
        return picture_file(env, filename, subfolder, type)

    return router


def picture_file(env, filename: str, subfolder: str, type: str) -> FileResponse:
    """A file from the output, preview ("temp") or input folder, confined to it: the one rule behind `/api/view`
    and ComfyUI's `/view` (same parameters)."""
    root = {"output": env.output_dir, "temp": env.preview_dir, "input": env.input_dir}.get(type)
    if root is None:
        raise HTTPException(400, "type must be output, temp or input")
    try:
        path = inside(root, f"{subfolder}/{filename}" if subfolder else filename, "file name")
    except UnsafeName as e:
        raise HTTPException(400, str(e))
    if not path.is_file():
        raise HTTPException(404, f"no file {filename!r}")
    return FileResponse(path)


async def _events(service: ApiService, record) -> Any:
    """The job's events from the first on, then new ones as they come, until it ends."""
    index = 0
    while True:
        new, index = service.events_since(record, index)
        for event in new:
            yield event
        if record.status in ENDED and not service.events_since(record, index)[0]:
            return
        await asyncio.sleep(EVENT_POLL)
