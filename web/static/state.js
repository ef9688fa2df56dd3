"use strict";
// fluxwire canvas, part 1 of 5: DOM handles, state, the connection rule, the document and undo.
// The five parts (and subgraphs.js, subgraph_edits.js between parts 4 and 5) are joined in order (web/canvas.py,
// JS_PARTS) into the body of Gradio's js_on_load,
// with `element`, `trigger`, `props`, `server`, `upload` and `watch` in scope; they share one scope.
// Events fired to Python: 'run_graph' and 'stop_run'.
// Props read: value (the workflow document), catalogue, run_state, notice (see run.js on why unquoted).
// Rule: user text reaches the DOM only through textContent / attribute values, never as HTML.

const root = element.querySelector(".fw-root");
const part = (role) => root.querySelector('[data-role="' + role + '"]');
const stage = part("stage"), world = part("world"), wires = part("wires"), nodesLayer = part("nodes");
const banner = part("banner"), bannerText = part("banner-text"), statusEl = part("status"), toast = part("toast"), rubber = part("rubber");
const palette = part("palette");
const paletteSearch = palette.querySelector(".fw-palette-search");
const paletteList = palette.querySelector(".fw-palette-list");
const fileInput = root.querySelector(".fw-file");
const shippedSelect = root.querySelector(".fw-shipped");
const SVGNS = "http://www.w3.org/2000/svg";
const MAX_UPLOAD = 16 * 1024 * 1024;
const NODE_WIDTH = 220;
const FORMAT = "fluxwire.workflow";

let catalogue = { nodes: [], types: { types: {}, any: "*", widenings: [] }, problems: [], shipped: [] };
let defs = {};
let graph = emptyGraph();
let view = { x: 30, y: 30, zoom: 1 };
let selected = new Set();
let undoStack = [], redoStack = [];
let lastSent = null;
let nodeEls = new Map();
let statusById = {};
let currentRun = null;
let finishedRuns = new Set();
let pendingRuns = 0;
let toastTimer = null;
let libraryDefs = {};  // library subgraphs from the catalogue, by library name (subgraphs.js)
let rootDoc = null;    // while inside a subgraph: the whole document; `graph` is then a view of one definition
let navStack = [];     // the instances opened, outermost first: [{instance, defId, title, view}]

// ------------------------------------------------------------------ small helpers
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function emptyGraph() {
  return { format: FORMAT, version: 1, metadata: { title: "untitled" }, nodes: [], links: [] };
}
function clone(x) { return JSON.parse(JSON.stringify(x)); }
function typeColor(t) {
  const info = (catalogue.types.types || {})[t];
  return info ? info.color : "#bdbdbd";
}
function canConnect(outType, inType) {
  const any = catalogue.types.any || "*";
  if (outType === any || inType === any) return true;
  if (outType === inType) return true;
  return (catalogue.types.widenings || []).some((w) => w[0] === outType && w[1] === inType);
}
function whyNot(outType, inType) {
  return canConnect(outType, inType) ? null : "a " + outType + " output cannot feed a " + inType + " input";
}
function nodeById(id) { return graph.nodes.find((n) => n.id === id); }
function linkInto(id, input) { return graph.links.find((l) => l.to === id && l.input === input); }
function fileUrl(path) {
  const cfg = window.gradio_config || {};
  const base = cfg.root ? String(cfg.root).replace(/\/+$/, "") + (cfg.api_prefix || "/gradio_api") : "gradio_api";
  return base + "/file=" + String(path).split("/").map(encodeURIComponent).join("/");
}
function isTyping(target) {
  return target && target.closest && target.closest("input, textarea, select, [contenteditable]");
}

// ------------------------------------------------------------------ catalogue
function propCatalogue(text) {
  try { return JSON.parse(text); } catch (err) { return null; }
}
function setCatalogue(cat) {
  if (typeof cat === "string") cat = propCatalogue(cat);  // the prop is JSON text (web/canvas.py says why)
  if (!cat || typeof cat !== "object") return;
  catalogue = Object.assign({ nodes: [], types: { types: {}, any: "*", widenings: [] }, problems: [], shipped: [] }, cat);
  defs = {};
  libraryDefs = {};
  for (const d of catalogue.nodes || []) {
    if (d.subgraph && d.subgraph.library) libraryDefs[d.subgraph.library] = d;  // all have type "Subgraph"
    else defs[d.type] = d;
  }
  buildPalette();
  shippedSelect.length = 1;
  for (const name of catalogue.shipped || []) {
    const o = el("option", null, name);
    o.value = name;
    shippedSelect.appendChild(o);
  }
}
function declOf(node) {
  const sub = subgraphDecl(node);  // subgraph instances and the boundary of an opened subgraph
  if (sub) return sub;
  const d = defs[node.type];
  if (d) return d;
  // An unknown type: show the sockets its links use, so the user sees what is missing.
  const inputs = [], outputs = [];
  for (const l of graph.links) {
    if (l.to === node.id) inputs.push({ name: l.input, type: "*", widget: null, label: l.input });
    if (l.from === node.id && !outputs.some((o) => o.name === l.output)) outputs.push({ name: l.output, type: "*" });
  }
  return { type: node.type, display_name: node.type, inputs, outputs, unknown: true, output_node: false };
}

// ------------------------------------------------------------------ document in / out
function normalise(doc) {
  const g = doc && typeof doc === "object" && Array.isArray(doc.nodes) ? clone(doc) : emptyGraph();
  g.links = Array.isArray(g.links) ? g.links : [];
  g.metadata = g.metadata && typeof g.metadata === "object" ? g.metadata : {};
  const depth = depths(g);
  const perColumn = {};
  for (const n of g.nodes) {
    n.widgets = n.widgets && typeof n.widgets === "object" ? n.widgets : {};
    n.ui = n.ui && typeof n.ui === "object" ? n.ui : {};
    if (!Array.isArray(n.ui.pos) || n.ui.pos.length < 2) {
      const d = depth[n.id] || 0;
      perColumn[d] = (perColumn[d] || 0) + 1;
      n.ui.pos = [40 + d * (NODE_WIDTH + 70), 40 + (perColumn[d] - 1) * 220];
    }
  }
  return g;
}
function depths(g) {
  const depth = {};
  const into = {};
  for (const l of g.links || []) (into[l.to] = into[l.to] || []).push(l.from);
  const visit = (id, guard) => {
    if (depth[id] !== undefined) return depth[id];
    if (guard.has(id)) return 0;
    guard.add(id);
    const d = Math.max(-1, ...(into[id] || []).map((s) => visit(s, guard))) + 1;
    depth[id] = d;
    return d;
  };
  for (const n of g.nodes || []) visit(n.id, new Set());
  return depth;
}
function snapshot() { return JSON.stringify(graph); }
function send() {
  graph.extra = Object.assign({}, graph.extra || {}, { view: { x: view.x, y: view.y, zoom: view.zoom } });
  pruneReroutes();  // stale reroute entries are dropped on save (reroutes.js)
  lastSent = unwatched(clone(documentToSend()));  // inside a subgraph: the whole document, with this level written back
  props.value = lastSent;
  noteChange();  // autosave in the browser (persist.js)
  propertiesChanged();  // the properties panel, when open (properties.js)
}
const SENT_DOCUMENT = Object.create(EventTarget.prototype);  // see unwatched()
function unwatched(doc) {
  // Gradio keeps the value in Svelte state, which wraps plain objects in deep proxies and compares old and
  // new values with JSON.stringify through them: ~170 ms per edit with 500 nodes. Svelte leaves objects
  // whose prototype is not Object.prototype alone, so the document sent gets one that adds nothing to its
  // data (it still serialises and reads like a plain object). An EventTarget in its prototype chain (no
  // method of it is ever called) also makes Svelte's snapshot -- taken of the component's data by every
  // event the canvas triggers (Run, the gallery) -- keep the document as it is instead of structuredClone-ing
  // all of it (~10-20 ms with 500 nodes); nothing changes a sent document, each send makes a new one
  return doc && typeof doc === "object" && !Array.isArray(doc) ? Object.setPrototypeOf(doc, SENT_DOCUMENT) : doc;
}
function commit(before) {
  if (before !== undefined && before !== snapshot()) {
    undoStack.push(before);
    if (undoStack.length > 200) undoStack.shift();
    redoStack = [];
  }
  send();
}
function loadGraph(doc, opts) {
  const before = snapshot();
  leaveSubgraphs();
  graph = normalise(doc);
  selected.clear();
  statusById = {};
  const v = graph.extra && graph.extra.view;
  if (v && isFinite(v.x) && isFinite(v.y) && isFinite(v.zoom) && v.zoom > 0) view = { x: v.x, y: v.y, zoom: v.zoom };
  renderAll();
  if (!(v && isFinite(v.zoom))) fitView();
  if (opts && opts.undoable) commit(before); else send();
}
function nodeTexts() { return new Map(graph.nodes.map((n) => [n.id, JSON.stringify(n)])); }
function undo() {
  if (!undoStack.length) return;
  redoStack.push(snapshot());
  const shown = nodeTexts();
  graph = normalise(JSON.parse(undoStack.pop()));
  selected.clear();
  renderChanged(shown);
  send();
}
function redo() {
  if (!redoStack.length) return;
  undoStack.push(snapshot());
  const shown = nodeTexts();
  graph = normalise(JSON.parse(redoStack.pop()));
  selected.clear();
  renderChanged(shown);
  send();
}
