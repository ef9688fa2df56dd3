// fluxwire canvas, the queue panel: the server's one queue (canvas runs and HTTP API jobs of every client)
// in a side panel ([data-role="queue"], toolbar button data-action="queue" added here). It reads
// GET /api/queue about once a second while open; each row can be cancelled (DELETE /api/jobs/ID), "Clear
// mine" cancels this tab's waiting jobs and "Clear all" every waiting job. This tab's own jobs are marked:
// its canvas runs (their run ids come with the run state) and API jobs sent with this tab's client id.
// A server bound off 127.0.0.1 demands its API token: the panel asks for it and keeps it for the tab only.

const QUEUE_POLL_MS = 1000;
const QUEUE_TOKEN_KEY = "fluxwire:api-token";
const QUEUE_CLIENT_KEY = "fluxwire:api-client";
const queuePanel = el("div", "fw-history fw-queue");
queuePanel.dataset.role = "queue";
queuePanel.hidden = true;
stage.appendChild(queuePanel);
const queueButton = el("button", "fw-btn", "Queue");
queueButton.type = "button";
queueButton.dataset.action = "queue";
queueButton.title = "The server's queue: every client's waiting jobs, yours marked";
const runsButton = root.querySelector('.fw-toolbar [data-action="history"]');
if (runsButton) runsButton.after(queueButton); else root.querySelector(".fw-toolbar").appendChild(queueButton);
const myRunIds = new Set();  // canvas runs this tab started
let queueTimer = null;

function queueClientId() {
  let id = sessionStorage.getItem(QUEUE_CLIENT_KEY);
  if (!id) {
    id = "canvas-" + Math.random().toString(36).slice(2, 12);
    sessionStorage.setItem(QUEUE_CLIENT_KEY, id);
  }
  return id;
}
function apiUrl(path) {
  const cfg = window.gradio_config || {};
  return (cfg.root ? String(cfg.root).replace(/\/+$/, "") : ".") + "/api" + path;
}
async function apiCall(method, path) {
  const headers = { "X-Fluxwire-Client": queueClientId() };
  const token = sessionStorage.getItem(QUEUE_TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(apiUrl(path), { method, headers });
  if (res.status === 401) throw Object.assign(new Error("this server needs its API token"), { needsToken: true });
  if (!res.ok) throw new Error("the queue answered " + res.status);
  return res.json();
}
function queueHead() {
  const head = el("div", "fw-history-head", "Queue");
  const close = el("button", "fw-btn", "\u00d7");
  close.type = "button";
  close.dataset.action = "queue-close";
  close.addEventListener("click", closeQueue);
  head.appendChild(close);
  return head;
}
function askToken(message) {
  queuePanel.textContent = "";
  queuePanel.appendChild(queueHead());
  queuePanel.appendChild(el("div", "fw-palette-empty", message));
  const input = el("input", "fw-queue-token");
  input.type = "password";
  input.placeholder = "API token (printed when the server started)";
  input.dataset.field = "queue-token";
  const use = el("button", "fw-btn", "Use token");
  use.type = "button";
  use.dataset.action = "queue-token";
  use.addEventListener("click", () => {
    sessionStorage.setItem(QUEUE_TOKEN_KEY, input.value.trim());
    refreshQueue();
  });
  queuePanel.append(input, use);
}
function isMine(job) { return job.mine || myRunIds.has(job.id); }
function queueRow(job, status) {
  const row = el("div", "fw-history-run fw-queue-job");
  row.dataset.job = job.id;
  row.dataset.status = status;
  row.dataset.mine = isMine(job) ? "1" : "0";
  const what = (job.api ? "API job " : "canvas run ") + job.id.slice(0, 8);
  const where = status === "running" ? "running" : "#" + (job.position + 1) + " waiting";
  row.appendChild(el("div", "fw-history-when", where + " \u00b7 " + what + (isMine(job) ? " \u00b7 yours" : "")));
  const cancel = el("button", "fw-btn", "Cancel");
  cancel.type = "button";
  cancel.dataset.action = "queue-cancel";
  cancel.addEventListener("click", () => cancelJobs([job.id]));
  row.appendChild(cancel);
  return row;
}
function fillQueue(q) {
  queuePanel.textContent = "";
  queuePanel.appendChild(queueHead());
  const bar = el("div", "fw-queue-bar");
  for (const [action, label, pick] of [["queue-clear-mine", "Clear mine", isMine], ["queue-clear-all", "Clear all", () => true]]) {
    const b = el("button", "fw-btn", label);
    b.type = "button";
    b.dataset.action = action;
    b.addEventListener("click", () => cancelJobs(q.waiting.filter(pick).map((j) => j.id)));
    bar.appendChild(b);
  }
  queuePanel.appendChild(bar);
  if (q.paused) queuePanel.appendChild(el("div", "fw-palette-empty", "paused: no new job starts"));
  const running = q.running_all || (q.running ? [q.running] : []);
  for (const job of running) queuePanel.appendChild(queueRow(job, "running"));
  for (const job of q.waiting) queuePanel.appendChild(queueRow(job, "waiting"));
  if (!running.length && !q.waiting.length) queuePanel.appendChild(el("div", "fw-palette-empty", "the queue is empty"));
}
async function refreshQueue() {
  if (queuePanel.hidden) return;
  try {
    fillQueue(await apiCall("GET", "/queue"));
  } catch (err) {
    if (err.needsToken) askToken(sessionStorage.getItem(QUEUE_TOKEN_KEY) ? "that token was refused" : err.message);
    else { queuePanel.textContent = ""; queuePanel.append(queueHead(), el("div", "fw-palette-empty", String(err.message))); }
  }
}
async function cancelJobs(ids) {
  try {
    for (const id of ids) await apiCall("DELETE", "/jobs/" + encodeURIComponent(id));
    setStatus(ids.length === 1 ? "cancelled job " + ids[0].slice(0, 8) : "cancelled " + ids.length + " jobs");
  } catch (err) {
    reportError(err);
  }
  refreshQueue();
}
function closeQueue() {
  queuePanel.hidden = true;
  clearInterval(queueTimer);
  queueTimer = null;
}
onRunState((st) => {  // run_feed.js
  if (st && st.run_id) myRunIds.add(st.run_id);
});
queueButton.addEventListener("click", () => {
  if (!queuePanel.hidden) { closeQueue(); return; }
  queuePanel.hidden = false;
  refreshQueue();
  queueTimer = setInterval(refreshQueue, QUEUE_POLL_MS);
});
