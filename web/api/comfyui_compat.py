"""The subset of ComfyUI's HTTP API that existing ComfyUI API clients use (behind `--comfyui-compat`).

`POST /prompt`, `GET /history/{id}`, `GET /history`, `GET /view` and `/ws?clientId=` answer in
ComfyUI's shapes, on top of the same `ApiService` queue as fluxwire's own API: a prompt is an API-format
document (parse_document converts it; node ids are kept), the job's owner is the prompt's `client_id`,
and the WebSocket sends that client's jobs' events as ComfyUI's messages (execution_start, executing,
progress, executed, execution_cached, execution_error, execution_success, and `executing` with node
None when a prompt is over, which is what ComfyUI's examples wait for).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from flux_core.graph import events as ev
from flux_core.graph.workflow import WorkflowError

from .routes import picture_file
from .security import TokenCheck
from .service import ENDED, JOB_FINISHED, JOB_STARTED, ApiService

EVENT_POLL = 0.05


def owner_of_client(client_id: Any) -> str | None:
    return f"comfyui:{str(client_id)[:100]}" if client_id else None


def node_errors(e: WorkflowError, prompt: dict) -> dict:
    """ComfyUI's per-node error shape from fluxwire's problems."""
    out: dict[str, Any] = {}
    for p in e.problems:
        if not p.node:
            continue
        entry = out.setdefault(p.node, {"errors": [], "dependent_outputs": [],
                                        "class_type": (prompt.get(p.node) or {}).get("class_type")})
        entry["errors"].append({"type": p.code or "invalid", "message": p.message, "details": p.message,
                                "extra_info": {"input_name": p.input} if p.input else {}})
    return out


def comfy_messages(event: dict, service: ApiService) -> list[dict]:
    """One fluxwire job event as ComfyUI WebSocket messages (possibly none)."""
    kind, pid = event.get("type"), event.get("run_id")
    nid = event.get("node")
    if kind == JOB_STARTED:
        return [{"type": "execution_start", "data": {"prompt_id": pid, "timestamp": int(time.time() * 1000)}}]
    if kind == ev.NODE_CACHED:
        return [{"type": "execution_cached", "data": {"nodes": [nid], "prompt_id": pid}}]
    if kind == ev.NODE_STARTED:
        return [{"type": "executing", "data": {"node": nid, "display_node": nid, "prompt_id": pid}}]
    if kind == ev.NODE_PROGRESS:
        return [{"type": "progress", "data": {"value": event.get("value", 0), "max": event.get("max", 0),
                                              "prompt_id": pid, "node": nid}}]
    if kind == ev.NODE_FINISHED and event.get("ui"):
        output = service._outputs({nid: event["ui"]}).get(nid, {})
        return [{"type": "executed", "data": {"node": nid, "display_node": nid, "output": output,
                                              "prompt_id": pid}}]
    if kind == ev.NODE_FAILED:
        return [{"type": "execution_error", "data": {
            "prompt_id": pid, "node_id": nid, "node_type": event.get("node_type"),
            "exception_message": event.get("message"), "exception_type": event.get("error_type"),
            "traceback": event.get("traceback") or [], "current_inputs": {}, "current_outputs": {}}}]
    if kind == ev.RUN_INTERRUPTED:
        return [{"type": "execution_interrupted", "data": {"prompt_id": pid, "node_id": nid, "executed":
                                                           event.get("executed", [])}}]
    if kind == JOB_FINISHED:
        done = [{"type": "executing", "data": {"node": None, "prompt_id": pid}}]
        if event.get("status") == "success":
            done.insert(0, {"type": "execution_success", "data": {"prompt_id": pid,
                                                                  "timestamp": int(time.time() * 1000)}})
        return done
    return []


def history_entry(record: dict, prompt: Any = None) -> dict:
    status = record.get("status")
    messages = [["execution_error", {"prompt_id": record["id"], **(record.get("error") or {})}]] \
        if status == "error" else []
    return {"prompt": [0, record["id"], prompt or {}, {}, list((record.get("outputs") or {}).keys())],
            "outputs": record.get("outputs") or {},
            "status": {"status_str": "success" if status == "success" else "error", "completed": status == "success",
                       "messages": messages},
            "meta": {nid: {"node_id": nid, "display_node": nid} for nid in (record.get("outputs") or {})}}


def make_compat_router(service: ApiService, token: str | None) -> APIRouter:
    router = APIRouter(dependencies=[Depends(TokenCheck(token))], tags=["comfyui-compat"])
    numbers = itertools.count()
    prompts: dict[str, Any] = {}  # the prompt as sent, for /history (the newest few hundred)
    env = service.executor.env

    @router.post("/prompt", summary="ComfyUI: queue an API-format prompt ({prompt, client_id})")
    async def prompt(request: Request):
        # ComfyUI's clients post JSON without a JSON content type (urllib's default form type): read the body
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(graph, dict):
            return JSONResponse({"error": {"type": "invalid_prompt", "message": "no prompt given", "details": "",
                                           "extra_info": {}}, "node_errors": {}}, status_code=400)
        try:
            record = await run_in_threadpool(service.submit, owner_of_client(body.get("client_id")), graph)
        except WorkflowError as e:
            return JSONResponse({"error": {"type": "prompt_outputs_failed_validation", "message": str(e),
                                           "details": "", "extra_info": {}},
                                 "node_errors": node_errors(e, graph)}, status_code=400)
        prompts[record.id] = graph
        while len(prompts) > 500:
            prompts.pop(next(iter(prompts)))
        return {"prompt_id": record.id, "number": next(numbers), "node_errors": {}}

    @router.get("/history/{prompt_id}", summary="ComfyUI: one finished prompt (empty while it runs)")
    def history_one(prompt_id: str):
        record = service.record(prompt_id)
        if record is None or record.get("status") not in ENDED:
            return {}
        return {prompt_id: history_entry(record, prompts.get(prompt_id))}

    @router.get("/history", summary="ComfyUI: the newest finished prompts")
    def history_all(max_items: int = 100):
        return {r["id"]: history_entry(r, prompts.get(r["id"]))
                for r in service.history.newest(max(1, min(max_items, 1000)))}

    @router.get("/view", summary="ComfyUI: a picture by filename, subfolder and type")
    def view(filename: str, subfolder: str = "", type: str = "output"):
        return picture_file(env, filename, subfolder, type)

    @router.websocket("/ws")
    async def ws(websocket: WebSocket, clientId: str = ""):
        await websocket.accept()
        owner = owner_of_client(clientId)
        sent: dict[str, int] = {}  # job id -> events already forwarded (-1: all, the job is over)
        for old in service.jobs_of(owner) if owner else []:  # a reconnecting client is not sent old jobs
            if old["status"] in ENDED:
                sent[old["id"]] = -1
        try:
            queued = len(service.board.waiting())
            await websocket.send_text(json.dumps({"type": "status", "data": {
                "status": {"exec_info": {"queue_remaining": queued}}, "sid": clientId}}))
            while owner is not None:
                for job_id in [j["id"] for j in service.jobs_of(owner)]:
                    record = service.get(job_id)
                    if record is None or sent.get(job_id) == -1:
                        continue
                    new, sent[job_id] = service.events_since(record, sent.get(job_id, 0))
                    for event in new:
                        for message in comfy_messages(event, service):
                            await websocket.send_text(json.dumps(message, default=str))
                        if event["type"] == JOB_FINISHED:
                            sent[job_id] = -1
                            await websocket.send_text(json.dumps({"type": "status", "data": {"status": {
                                "exec_info": {"queue_remaining": len(service.board.waiting())}}}}))
                await asyncio.sleep(EVENT_POLL)
            await websocket.receive_text()  # no client id: only the status, then wait for the client to go
        except WebSocketDisconnect:
            pass

    return router
