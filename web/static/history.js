// fluxwire canvas, the history of runs: every finished run (pictures, status, when, how long its nodes computed,
// the seeds it used, the workflow it ran) is
// kept in the browser (localStorage, per page address, the last HISTORY_KEEP runs: the list under HISTORY_KEY,
// each run's workflow under a key of its own, so recording a run reads and writes a small list and one
// document, not every kept run's document) and listed in a side
// panel ([data-role="history"], toolbar button data-action="history") that survives reloads; "Load" puts
// that run's workflow back on the canvas as one undo step. Built on the streamed run state only (no server
// API of its own).

const HISTORY_KEY = "fluxwire:history:" + location.pathname;
const HISTORY_KEEP = 20;
const historyPanel = el("div", "fw-history");
historyPanel.dataset.role = "history";
historyPanel.hidden = true;
stage.appendChild(historyPanel);
const runDocs = new Map();  // run id -> the document as sent when the run was first reported
const recordedRuns = new Set();
let lastKeptDoc = null;  // {workflow: the document object the last recorded run ran, doc: the run id whose key holds it}

function readHistory() {
  try {
    const h = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(h) ? h.filter((x) => x && typeof x.run_id === "string") : [];
  } catch (err) {
    return [];
  }
}
function runDocKey(runId) { return HISTORY_KEY + ":run:" + runId; }
function docKeyOf(h) {
  // a run that ran the same document as an earlier kept run names that run's key (`doc`) instead of a copy
  return runDocKey(typeof h.doc === "string" ? h.doc : h.run_id);
}
function runWorkflow(h) {
  // the workflow a kept run ran: under its own key or a shared one (older entries carry it inline)
  if (h.workflow) return h.workflow;
  try { return JSON.parse(localStorage.getItem(docKeyOf(h)) || "null"); } catch (err) { return null; }
}
function writeHistory(list) {
  // the list, then the workflows of the runs no longer in it are dropped; when storage is full, fewer runs
  for (let keep = list.length; keep >= 0; keep = keep ? Math.floor(keep / 2) : -1) {
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, keep))); list = list.slice(0, keep); break; } catch (err) { /* full: keep fewer */ }
  }
  const kept = new Set(list.map(docKeyOf));
  const prefix = runDocKey("");
  for (let i = localStorage.length - 1; i >= 0; i--) {
    const key = localStorage.key(i);
    if (key && key.startsWith(prefix) && !kept.has(key)) localStorage.removeItem(key);
  }
}
function keepRunWorkflow(runId, workflow, list) {
  // the run's workflow under its own key; when storage is full, the oldest runs' workflows make room
  if (!workflow) return false;
  const text = JSON.stringify(workflow);
  for (let drop = list.length - 1; drop >= 0; drop--) {
    try { localStorage.setItem(runDocKey(runId), text); return true; } catch (err) { localStorage.removeItem(runDocKey(list[drop].run_id)); }
  }
  try { localStorage.setItem(runDocKey(runId), text); return true; } catch (err) { return false; }
}
function recordRun(state) {
  if (!state || !state.run_id) return;
  if (!runDocs.has(state.run_id)) runDocs.set(state.run_id, lastSent);
  const final = ["success", "error", "interrupted"].includes(state.status);
  if (!final || recordedRuns.has(state.run_id)) return;
  recordedRuns.add(state.run_id);
  const list = readHistory().filter((h) => h.run_id !== state.run_id).slice(0, HISTORY_KEEP - 1);
  const workflow = runDocs.get(state.run_id) || null;
  // the same document as the last recorded run (nothing edited since: the very object that was sent) shares
  // that run's stored copy while it is listed: a run of an unchanged 500-node graph then writes no document
  const shared = workflow && lastKeptDoc && lastKeptDoc.workflow === workflow &&
    list.some((h) => docKeyOf(h) === runDocKey(lastKeptDoc.doc)) && runDocKey(lastKeptDoc.doc) in localStorage;
  const kept = shared || keepRunWorkflow(state.run_id, workflow, list);
  const entry = { run_id: state.run_id, status: state.status, at: Date.now(), message: state.message || "",
    images: (state.images || []).map(String).slice(0, 8), has_workflow: kept,
    seconds: computeSeconds(state), seeds: seedsOf(workflow) };
  if (shared) entry.doc = lastKeptDoc.doc;
  if (kept) lastKeptDoc = { workflow, doc: shared ? lastKeptDoc.doc : state.run_id };
  list.unshift(entry);
  writeHistory(list);
  if (!historyPanel.hidden) fillHistory();
}
function computeSeconds(state) {
  // the time the run's nodes computed (the executor's own timings; cached nodes count nothing)
  let total = 0;
  for (const n of Object.values(state.nodes || {})) if (n && Number.isFinite(n.seconds)) total += n.seconds;
  return Math.round(total * 1000) / 1000;
}
function seedsOf(doc) {
  // the seed widgets' values in the document the run used (a seed fed by a link is not a value of its own)
  const seeds = [];
  for (const n of (doc && Array.isArray(doc.nodes) ? doc.nodes : [])) {
    const d = defs[n.type];
    for (const inp of (d && d.inputs) || []) {
      if (!inp.widget || !inp.widget.seed) continue;
      if ((doc.links || []).some((l) => l.to === n.id && l.input === inp.name)) continue;
      const has = n.widgets && Object.prototype.hasOwnProperty.call(n.widgets, inp.name);
      seeds.push(has ? n.widgets[inp.name] : inp.widget.default);
    }
  }
  return seeds.slice(0, 8);
}
function fillHistory() {
  historyPanel.textContent = "";
  const head = el("div", "fw-history-head", "Runs");
  const close = el("button", "fw-btn", "\u00d7");
  close.type = "button";
  close.dataset.action = "history-close";
  close.addEventListener("click", () => { historyPanel.hidden = true; });
  head.appendChild(close);
  historyPanel.appendChild(head);
  const list = readHistory();
  if (!list.length) historyPanel.appendChild(el("div", "fw-palette-empty", "no runs yet"));
  for (const h of list) {
    const row = el("div", "fw-history-run");
    row.dataset.run = h.run_id;
    row.dataset.status = h.status;
    row.appendChild(el("div", "fw-history-when", new Date(h.at).toLocaleTimeString() + " \u00b7 " + h.status +
      (Number.isFinite(h.seconds) ? " \u00b7 " + h.seconds.toFixed(2) + " s" : "")));
    if (Array.isArray(h.seeds) && h.seeds.length) {
      const seeds = el("div", "fw-history-seed", (h.seeds.length > 1 ? "seeds " : "seed ") + h.seeds.join(", "));
      seeds.dataset.seeds = h.seeds.join(" ");
      row.appendChild(seeds);
    }
    const pics = el("div", "fw-history-pics");
    for (const path of h.images || []) {
      const img = el("img", "fw-history-pic");
      img.src = fileUrl(path);
      img.alt = "result";
      img.addEventListener("error", () => img.remove());  // files of an earlier server run may be gone
      pics.appendChild(img);
    }
    row.appendChild(pics);
    const load = el("button", "fw-btn", "Load workflow");
    load.type = "button";
    load.dataset.action = "load-run";
    load.disabled = !(h.workflow || h.has_workflow);
    load.addEventListener("click", () => {
      const workflow = runWorkflow(h);
      if (!workflow) { setStatus("the workflow of that run is no longer kept in this browser"); return; }
      loadGraph(workflow, { undoable: true });
      setStatus("loaded the workflow of the run at " + new Date(h.at).toLocaleTimeString() + " (Undo goes back)");
    });
    row.appendChild(load);
    historyPanel.appendChild(row);
  }
}
onRunState(recordRun);  // run_feed.js
root.querySelector(".fw-toolbar").addEventListener("click", (e) => {
  const b = e.target.closest('button[data-action="history"]');
  if (!b) return;
  historyPanel.hidden = !historyPanel.hidden;
  if (!historyPanel.hidden) fillHistory();
});
