// fluxwire canvas, part 5 of 5: Run/Stop, the run state streamed from Python, the toolbar, start-up.

// ------------------------------------------------------------------ run state from Python
function setStatus(text) { if (statusEl.textContent !== text) statusEl.textContent = text; }
function showBanner(kind, text) { banner.hidden = false; banner.dataset.kind = kind; bannerText.textContent = text; }
function hideBanner() { banner.hidden = true; bannerText.textContent = ""; }
banner.querySelector('[data-action="dismiss"]').addEventListener("click", hideBanner);
function reportError(err) { showBanner("error", String(err && err.message ? err.message : err)); }
function markProblems(problems) {
  statusById = {};
  for (const p of problems) {
    const id = p.node && viewNodeId(p.node);  // a path id inside a subgraph shows on its instance
    if (id) statusById[id] = { status: "error", error: p.node === id ? p.message : p.node + ": " + p.message, input: p.input };
  }
  for (const id of Object.keys(statusById)) rerenderNode(id);
  drawWires();
}
function refreshToolbar() {
  root.querySelector('[data-action="run-selected"]').disabled = selected.size === 0;
  root.querySelector('[data-action="undo"]').disabled = undoStack.length === 0;
  root.querySelector('[data-action="redo"]').disabled = redoStack.length === 0;
  root.dataset.running = currentRun && !finishedRuns.has(currentRun) ? "1" : "0";
}
const FINAL_STATUSES = ["success", "error", "interrupted", "invalid"];
function applyRunState(state) {
  if (!state || typeof state !== "object" || !state.run_id) return;
  if (!runShownHere(state)) return;  // a run of another tab (tabs.js)
  if (state.run_id !== currentRun && currentRun && !finishedRuns.has(currentRun) &&
      !Object.keys(state.nodes || {}).length) {
    // another run of this tab still waiting for the executor (or stopped before it started): the running
    // run keeps the canvas; only the count of waiting runs changes
    if (FINAL_STATUSES.includes(state.status) && !finishedRuns.has(state.run_id)) {
      finishedRuns.add(state.run_id);
      pendingRuns = Math.max(0, pendingRuns - 1);
    }
    refreshToolbar();
    return;
  }
  const fresh = state.run_id !== currentRun;
  if (fresh) {
    currentRun = state.run_id;
    forgetDetachedLooks();
    for (const id of Object.keys(statusById)) {
      const s = statusById[id];
      statusById[id] = s.images ? { images: s.images } : {};
    }
    hideBanner();
  }
  const nodes = viewRunState(state.nodes || {});  // inner nodes of subgraphs summed up on their instance
  const toShow = [];
  for (const n of graph.nodes) {
    const s = nodes[n.id];
    const prev = statusById[n.id] || {};
    const next = s ? Object.assign({}, s, { images: s.images || prev.images }) : (fresh ? { images: prev.images } : prev);
    statusById[n.id] = next;
    const e = nodeEls.get(n.id);
    if (!e) continue;
    // only nodes whose state differs from what their element shows are touched (a 500-node graph's
    // run updates then cost what changed, not the whole graph)
    const shown = JSON.stringify(next);
    if (shownStates.get(e) === shown) continue;
    shownStates.set(e, shown);
    toShow.push([n.id, e, next, s]);
  }
  // Only the parts that change size (error box, preview, pictures, text) can move wires. The status colour,
  // badge and bar never change a node's size (fixed-width node, one-line title, bar drawn by transform), so a
  // run in which 500 nodes go idle -> done leaves the wires alone.
  let resizing = false;
  for (const [, e, next, s] of toShow) if (mayResize(e, next, s)) resizing = true;
  for (const [, e, next, s] of toShow) showNodeState(e, next, s);
  const final = FINAL_STATUSES.includes(state.status);
  if (final && !finishedRuns.has(state.run_id)) {
    finishedRuns.add(state.run_id);
    pendingRuns = Math.max(0, pendingRuns - 1);
  }
  if (state.status === "error" || state.status === "invalid") {
    const lines = (state.problems || []).map((p) => (p.node ? "node " + p.node + (p.input ? ", input " + p.input : "") + ": " : "") + p.message);
    showBanner("error", lines.length ? lines.join("\n") : state.message || "the run failed");
  }
  const queued = pendingRuns > 1 ? " (" + (pendingRuns - 1) + " more queued)" : "";
  const count = Object.values(nodes).filter((s) => s.status === "done" || s.status === "cached").length;
  const label = { running: "running " + count + "/" + Object.keys(nodes).length, success: "done", error: "failed",
    interrupted: "stopped", invalid: "not run: the workflow has problems" }[state.status] || state.status;
  setStatus(label + queued);
  root.dataset.runStatus = state.status;
  refreshToolbar();
  propertiesChanged();
  if (resizing) wiresAfterResize();
}
let resizeCheck = 0;
function wiresAfterResize() {
  // at the next frame, one drawing pass for the states of this frame: it reads every node's box (routing.js
  // routeObstacles) and re-routes the wires whose area a box that changed overlaps, those of resized nodes
  // included. Nothing is read here: a size read between two states forced a layout of the first one's writes
  if (!resizeCheck) resizeCheck = requestAnimationFrame(() => { resizeCheck = 0; drawWires(new Set()); });
}
const shownStates = new WeakMap();  // node element -> the run state it shows (JSON), see applyRunState
const shownContent = new WeakMap();  // node element -> the size-changing part of that state (JSON), see mayResize
function contentOf(next, s) {
  return JSON.stringify([next.error ? (next.input ? next.input + ": " : "") + next.error : "",
    next.status === "running" ? next.preview || "" : "", s && s.images ? s.images : null, next.text]);
}
function mayResize(e, next, s) {
  const content = contentOf(next, s);
  if (shownContent.get(e) === content) return false;
  shownContent.set(e, content);
  return true;
}
function badgeText(next) {
  if (next.status === "running" && next.max) return next.value + "/" + next.max;
  if (next.status === "cached") return "cached";
  if (next.status === "done" && next.seconds !== undefined) return next.seconds < 0.01 ? "<0.01 s" : next.seconds.toFixed(2) + " s";
  return "";
}
function setText(element, text) { if (element.textContent !== text) element.textContent = text; }
function setHidden(element, hidden) { if (element.hidden !== hidden) element.hidden = hidden; }
// A node's badge and bar are decoration: on a node far from the view they wait until it comes near (pan, zoom,
// fit, a moved node, a resized page: an IntersectionObserver notices, no layout is read), so a run that marks
// 500 nodes done restyles their borders (data-status stays exact at once, like the error box, preview,
// pictures and text every hook reads) but lays out and paints badges only for the nodes in view.
const nearView = new WeakSet();  // node elements in or near the stage's view
const deferredLooks = new WeakMap();  // node element -> the state whose badge and bar wait for the view
const watchedForView = new Set();  // a Set, not weak: forgetDetachedLooks lets go of the elements gone from the page
const viewWatch = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const e = entry.target;
    const waiting = deferredLooks.get(e);
    if (!e.isConnected) {
      // replaced, or kept detached with an inactive tab (tab_pages.js): written now (a detached element costs
      // no restyle), so it comes back right; no longer watched, so the observer keeps no element alive
      viewWatch.unobserve(e); watchedForView.delete(e); nearView.delete(e);
      if (waiting) { deferredLooks.delete(e); showLooks(e, waiting); }
      continue;
    }
    if (!entry.isIntersecting) { nearView.delete(e); continue; }
    nearView.add(e);
    if (waiting) { deferredLooks.delete(e); showLooks(e, waiting); }
  }
}, { root: stage, rootMargin: "200px" });
function forgetDetachedLooks() {
  // at each new run: elements no longer in the page (replaced, or kept with an inactive tab) get their looks
  // written (a detached element costs no restyle) and are no longer watched, so no old element is kept alive
  for (const e of watchedForView) {
    if (e.isConnected) continue;
    const waiting = deferredLooks.get(e);
    if (waiting) { deferredLooks.delete(e); showLooks(e, waiting); }
    viewWatch.unobserve(e); watchedForView.delete(e); nearView.delete(e);
  }
}
function lookLater(e, next) {
  deferredLooks.set(e, next);
  watchNearView(e);  // when not watched yet (e.g. back with a kept tab): its first report comes at the next frame
}
const stateParts = new WeakMap();  // node element -> its parts a run state writes (found once, not per state)
function partsOf(e) {
  let p = stateParts.get(e);
  if (!p) {
    p = { bar: e.querySelector(".fw-progress-bar"), badge: e.querySelector(".fw-badge"), err: e.querySelector(".fw-error"),
      pv: e.querySelector(".fw-preview"), images: e.querySelector(".fw-images"), txt: e.querySelector(".fw-text") };
    stateParts.set(e, p);
  }
  return p;
}
function showLooks(e, next) {
  const { bar, badge } = partsOf(e);
  const status = next.status || "idle";
  const fraction = status === "running" && next.max ? Math.round(100 * next.value / next.max) / 100 : (status === "done" ? 1 : 0);
  // a transform: no layout, unlike a width; none when empty (hidden) or full (canvas.css)
  const transform = fraction > 0 && fraction < 1 ? "scaleX(" + fraction + ")" : "";
  if (bar.style.transform !== transform) bar.style.transform = transform;
  // an empty bar is invisible, not removed: showing or hiding it then needs no layout, only paint
  const visibility = fraction === 0 ? "hidden" : "";
  if (bar.style.visibility !== visibility) bar.style.visibility = visibility;
  // the bar glides only while its node runs; a class on the bar itself, so a node's status change restyles
  // the node alone (a rule on the node's status reaching into it makes Chrome search every node's subtree)
  if (bar.classList.contains("fw-gliding") !== (status === "running")) bar.classList.toggle("fw-gliding");
  setText(badge, badgeText(next));
}
function watchNearView(e) {
  // from when a node is drawn: the first run then finds which nodes are near the view already known, and
  // draws their badges in the same frame as their status (not one frame later, which lays out and paints twice)
  if (!watchedForView.has(e)) { watchedForView.add(e); viewWatch.observe(e); }
}
function showNodeState(e, next, s) {
  // every write only where the value differs: an attribute or text set to what it already is still
  // invalidates the element's style (and a text node is replaced), which Chrome then recomputes
  const status = next.status || "idle";
  if (e.dataset.status !== status) e.dataset.status = status;
  if (nearView.has(e)) { deferredLooks.delete(e); showLooks(e, next); } else lookLater(e, next);
  const { err, pv, images, txt } = partsOf(e);
  const message = next.error ? (next.input ? next.input + ": " : "") + next.error : "";
  setText(err, message);
  if (err.title !== message) err.title = message;
  setHidden(err, !next.error);
  if (next.preview && String(next.preview).startsWith("data:image/") && status === "running") {
    if (pv.getAttribute("src") !== next.preview) pv.src = next.preview;
    setHidden(pv, false);
  } else if (status !== "running") setHidden(pv, true);
  if (s && s.images) showImages(images, s.images);
  if (next.text !== undefined) { setText(txt, next.text); setHidden(txt, !next.text); }
}
function sendIfChanged() {
  // the value already holds the document unless something changed since it was sent: a send costs Gradio's
  // compare of the whole document and an autosave (~100 ms with 500 nodes), which Run need not pay
  graph.extra = Object.assign({}, graph.extra || {}, { view: { x: view.x, y: view.y, zoom: view.zoom } });
  // (the view is not compared: where the canvas looks does not change the run; persist.js comparableText)
  if (lastSent === null || props.value !== lastSent || comparableText(documentToSend()) !== comparableText(lastSent)) send();
}
function runGraph(targets) {
  closePalette();
  reseed();
  pendingRuns += 1;
  noteRunTab();  // the run belongs to the active tab (tabs.js)
  // the nodes of the run show "queued" with the run's first state (not all 500 restyled here at the click)
  setStatus(pendingRuns > 1 ? "queued: " + (pendingRuns - 1) + " run(s) waiting" : "starting");
  const outputs = targets && targets.length ? targets : null;
  const feed = runFeedKeyForRun();
  // With the page's run feed open, the document goes with the event and the states come on the feed: the
  // canvas is neither input nor output of the run, so Gradio copies nothing of it (web/canvas.py wire()).
  // Edits have already sent the document as the value; only the view may have moved since, and it does
  // not change a run. As text: Gradio keeps an event's data in its own (proxied) state, which must neither
  // hold nor walk the live document. Without the feed, the run takes the value and streams the run_state prop.
  if (feed) trigger("run_page", { outputs, feed, workflow: JSON.stringify(documentToSend()) });
  else {
    sendIfChanged();
    trigger("run_graph", { outputs });
  }
}
function stopRun() {
  trigger("stop_run");
  setStatus("stopping");
}

// ------------------------------------------------------------------ toolbar
root.querySelector(".fw-toolbar").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-action]");
  if (!b) return;
  const a = b.dataset.action;
  if (a === "run") runGraph(null);
  else if (a === "run-selected") runGraph([...selected].filter((id) => !BOUNDARY_IDS.includes(id)).map(pathOf));
  else if (a === "stop") stopRun();
  else if (a === "palette") { if (palette.hidden) openPalette(); else closePalette(); }
  else if (a === "undo") undo();
  else if (a === "redo") redo();
  else if (a === "fit") fitView();
  else if (a === "refresh") server.refresh_catalogue(null).then((cat) => {
    setCatalogue(cat);
    renderAll();
    setStatus("node list and model files re-read");
  }).catch(reportError);
  else if (a === "save") saveJson();
  else if (a === "open") fileInput.click();
  else if (a === "export-comfyui") exportComfy().catch(reportError);
  else if (a === "export-comfyui-ui") exportComfy("ui").catch(reportError);
});

// ------------------------------------------------------------------ start
setCatalogue(props.catalogue);
if (catalogue.problems && catalogue.problems.length) {
  showBanner("warning", catalogue.problems.join("\n"));
} else if (props.notice) {
  showBanner("info", String(props.notice));
}
graph = normalise(props.value);
lastSent = props.value;
renderAll();
const savedView = graph.extra && graph.extra.view;
if (savedView && isFinite(savedView.zoom) && savedView.zoom > 0) { view = Object.assign({}, savedView); applyView(); }
else requestAnimationFrame(fitView);
watch("value", () => acceptOutsideValue(props.value));  // undoable, never a silent loss (persist.js)
// Prop names are built, not written as quoted literals: gr.HTML treats every quoted word in this code
// as a custom event name, and Gradio then sends that event's Python handle (not JSON) with each update
// of the prop, which breaks the plain HTTP API (/gradio_api/call/run_graph).
onRunState(applyRunState);  // from the prop or the page's run feed (run_feed.js)
watch(["cata", "logue"].join(""), () => { setCatalogue(props.catalogue); renderAll(); });
new ResizeObserver(() => drawWires()).observe(stage);
setStatus(graph.nodes.length ? "ready" : "empty canvas: add nodes with + Add node or double-click");
if (graph.nodes.length) {
  // say at once what would stop the opening workflow from running (e.g. a model file not installed)
  const asked = snapshot();
  server.validate_graph(props.value).then((res) => {
    if (asked !== snapshot() || currentRun || !res || !res.problems || !res.problems.length) return;
    markProblems(res.problems);
    const packs = (catalogue.problems || []).join("\n");
    showBanner("warning", (packs ? packs + "\n" : "") + (res.message || "the workflow has problems"));
    if (!savedView) requestAnimationFrame(fitView);  // the banner took room from the stage
  }).catch(reportError);
}
// the catalogue in the page config was made when the app started: re-read model lists once per page load
server.refresh_catalogue(null).then((cat) => {
  const shown = typeof props.catalogue === "string" ? propCatalogue(props.catalogue) : props.catalogue;
  if (cat && JSON.stringify(cat) !== JSON.stringify(shown)) { setCatalogue(cat); renderAll(); }
}).catch(reportError);
root.dataset.ready = "1";
