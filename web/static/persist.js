// fluxwire canvas, never lose work: the open document and its undo history are kept in the browser
// (localStorage, per page address) after every change and restored on reload; leaving the page with
// changes not saved anywhere asks first; a document pushed in from outside (Python setting the value) replaces
// the canvas only as an undoable step.
// Runs after run.js (JS_PARTS): the canvas is already drawn from props.value when this part starts.

const AUTOSAVE_KEY = "fluxwire:autosave:" + location.pathname;
const AUTOSAVE_UNDO = [60, 15, 0];  // undo entries kept; fewer when the browser's storage is full
let docName = null;     // the name in the user's workflows folder (documents.js); null: never saved there
let savedState = null;  // comparableText() of the document when last saved or opened; null: never saved
var autosaveTimer = null;  // var: send() may call noteChange() before this part has run
const docNameEl = part("doc-name");
const mountedAt = Date.now();
let startupText = null;  // the page's initial value, when the autosave replaced it at start

function comparableText(doc) {
  // the document as it matters for "unsaved changes": the view (pan, zoom) is not a change
  return JSON.stringify(doc, (k, v) => (k === "view" ? undefined : v));
}
function isDirty() {
  return savedState === null ? theDocument().nodes.length > 0 : comparableText(theDocument()) !== savedState;
}
function markSaved(name) {
  if (name !== undefined) docName = name;
  savedState = comparableText(theDocument());
  showDocName();
  noteChange();
}
function showDocName() {
  const dirty = isDirty();
  docNameEl.textContent = docName || "untitled";
  docNameEl.dataset.dirty = dirty ? "1" : "0";
  root.dataset.dirty = dirty ? "1" : "0";
}
function noteChange() {
  // called by send() after every change: autosave soon (a burst of changes is written once)
  clearTimeout(autosaveTimer);
  autosaveTimer = setTimeout(persistNow, 250);
}
function persistNow() {
  clearTimeout(autosaveTimer);
  autosaveTimer = null;
  if (!root.isConnected) return false;  // a canvas Gradio has unmounted must not overwrite the live one
  const dirty = isDirty();
  showDocName();
  const atRoot = !navStack.length;  // inside a subgraph the undo history belongs to that level
  for (const keep of AUTOSAVE_UNDO) {
    const entry = { doc: theDocument(), name: docName, dirty, saved: Date.now(),
      undo: atRoot && keep ? undoStack.slice(-keep) : [], redo: atRoot && keep ? redoStack.slice(-keep) : [] };
    try {
      localStorage.setItem(AUTOSAVE_KEY, JSON.stringify(entry));
      root.dataset.autosaved = String(entry.saved);
      return true;
    } catch (err) {
      if (!keep) setStatus("autosave failed: the browser's storage is full (" + (err && err.name) + ")");
    }
  }
  return false;
}
function readAutosave() {
  try {
    const saved = JSON.parse(localStorage.getItem(AUTOSAVE_KEY) || "null");
    return saved && saved.doc && Array.isArray(saved.doc.nodes) ? saved : null;
  } catch (err) {
    return null;
  }
}
function restoreAutosave() {
  const saved = readAutosave();
  if (!saved) return false;
  startupText = comparableText(props.value);
  leaveSubgraphs();
  graph = normalise(saved.doc);
  const strings = (a) => (Array.isArray(a) ? a.filter((s) => typeof s === "string") : []);
  undoStack = strings(saved.undo);
  redoStack = strings(saved.redo);
  selected.clear();
  statusById = {};
  docName = typeof saved.name === "string" ? saved.name : null;
  savedState = saved.dirty ? null : comparableText(graph);
  const v = graph.extra && graph.extra.view;
  if (v && isFinite(v.x) && isFinite(v.y) && isFinite(v.zoom) && v.zoom > 0) view = { x: v.x, y: v.y, zoom: v.zoom };
  renderAll();
  if (!(v && isFinite(v.zoom))) requestAnimationFrame(fitView);
  send();
  root.dataset.restored = "1";
  setStatus("restored your last session" + (docName ? " (" + docName + ")" : ""));
  const asked = snapshot();
  server.validate_graph(lastSent).then((res) => {
    if (asked !== snapshot() || currentRun || !res || !res.problems || !res.problems.length) { if (res && res.ok) hideBanner(); return; }
    markProblems(res.problems);
    showBanner("warning", res.message || "the workflow has problems");
  }).catch(reportError);
  return true;
}
function acceptOutsideValue(value) {
  // a document from Python (an embedder's button, a Gradio event): never a silent loss of the graph.
  // (Gradio's footer "Runs → Load run" reloads the page instead: the autosave brings the graph back.)
  if (value === lastSent) return;
  if (startupText !== null && Date.now() - mountedAt < 15000 && comparableText(value) === startupText) {
    // Gradio re-sends the page's initial value just after start; the restored autosave replaced that one
    startupText = null;
    send();
    return;
  }
  if (!value || typeof value !== "object" || !Array.isArray(value.nodes)) {
    lastSent = value;
    showBanner("warning", "ignored a canvas value that is not a workflow document; your graph is unchanged");
    send();  // put the real document back as the component's value
    return;
  }
  const hadNodes = theDocument().nodes.length > 0;
  const before = JSON.stringify(documentToSend());
  leaveSubgraphs();
  graph = normalise(value);
  lastSent = value;
  statusById = {};
  selected.clear();
  renderAll();
  fitView();
  if (hadNodes && before !== snapshot()) {
    undoStack.push(before);
    redoStack = [];
    refreshToolbar();
    showBanner("info", "the canvas was replaced from outside (e.g. Gradio's \u201cLoad run\u201d); Undo (Ctrl+Z) brings your graph back");
  }
  persistNow();
}
window.addEventListener("beforeunload", (e) => {
  if (!root.isConnected) return;
  persistNow();
  if (!isDirty()) return;
  e.preventDefault();
  e.returnValue = "";  // the browser shows its own "leave site?" question
});
window.addEventListener("pagehide", () => { if (autosaveTimer) persistNow(); });

// ------------------------------------------------------------------ start (after run.js drew props.value)
if (!restoreAutosave()) { savedState = comparableText(theDocument()); showDocName(); }  // the opening document is not a change
