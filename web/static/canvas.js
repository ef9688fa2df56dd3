"use strict";
// fluxwire node canvas. Runs as the body of Gradio's js_on_load, with `element`, `trigger`, `props`,
// `server`, `upload` and `watch` in scope. Events fired to Python: 'run_graph' and 'stop_run'.
// Props read: 'value' (the workflow document), 'catalogue', 'run_state', 'notice'.
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
function setCatalogue(cat) {
  if (!cat || typeof cat !== "object") return;
  catalogue = Object.assign({ nodes: [], types: { types: {}, any: "*", widenings: [] }, problems: [], shipped: [] }, cat);
  defs = {};
  for (const d of catalogue.nodes || []) defs[d.type] = d;
  buildPalette();
  shippedSelect.length = 1;
  for (const name of catalogue.shipped || []) {
    const o = el("option", null, name);
    o.value = name;
    shippedSelect.appendChild(o);
  }
}
function declOf(node) {
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
  let placed = 0;
  const depth = depths(g);
  const perColumn = {};
  for (const n of g.nodes) {
    n.widgets = n.widgets && typeof n.widgets === "object" ? n.widgets : {};
    n.ui = n.ui && typeof n.ui === "object" ? n.ui : {};
    if (!Array.isArray(n.ui.pos) || n.ui.pos.length < 2) {
      const d = depth[n.id] || 0;
      perColumn[d] = (perColumn[d] || 0) + 1;
      n.ui.pos = [40 + d * (NODE_WIDTH + 70), 40 + (perColumn[d] - 1) * 220];
      placed++;
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
  lastSent = clone(graph);
  props.value = lastSent;
}
function commit(before) {
  if (before !== undefined && before !== snapshot()) {
    undoStack.push(before);
    if (undoStack.length > 200) undoStack.shift();
    redoStack = [];
  }
  send();
}
let generation = 0;  // counts documents loaded, so a late answer about an older one is ignored
function loadGraph(doc, opts) {
  generation += 1;
  const before = snapshot();
  graph = normalise(doc);
  selected.clear();
  statusById = {};
  const v = graph.extra && graph.extra.view;
  if (v && isFinite(v.x) && isFinite(v.y) && isFinite(v.zoom) && v.zoom > 0) view = { x: v.x, y: v.y, zoom: v.zoom };
  renderAll();
  if (!(v && isFinite(v.zoom))) fitView();
  if (opts && opts.undoable) commit(before); else send();
}
function undo() {
  if (!undoStack.length) return;
  redoStack.push(snapshot());
  graph = normalise(JSON.parse(undoStack.pop()));
  selected.clear();
  renderAll();
  send();
}
function redo() {
  if (!redoStack.length) return;
  undoStack.push(snapshot());
  graph = normalise(JSON.parse(redoStack.pop()));
  selected.clear();
  renderAll();
  send();
}

// ------------------------------------------------------------------ rendering
function applyView() {
  world.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.zoom + ")";
  stage.style.backgroundPosition = view.x + "px " + view.y + "px";
  stage.style.backgroundSize = 24 * view.zoom + "px " + 24 * view.zoom + "px";
}
function renderAll() {
  nodesLayer.textContent = "";
  nodeEls = new Map();
  renderGroups();
  for (const n of graph.nodes) {
    const e = renderNode(n);
    nodeEls.set(n.id, e);
    nodesLayer.appendChild(e);
  }
  applyView();
  drawWires();
  refreshToolbar();
}
function rerenderNode(id) {
  const n = nodeById(id), old = nodeEls.get(id);
  if (!n || !old) return;
  const e = renderNode(n);
  old.replaceWith(e);
  nodeEls.set(id, e);
}
function renderNode(n) {
  const d = declOf(n);
  const e = el("div", "fw-node");
  e.dataset.nodeId = n.id;
  e.dataset.nodeType = n.type;
  const st = statusById[n.id] || {};
  e.dataset.status = st.status || "idle";
  if (selected.has(n.id)) e.dataset.selected = "1";
  if (d.unknown) e.classList.add("fw-unknown");
  if (d.output_node) e.classList.add("fw-output-node");
  e.style.left = n.ui.pos[0] + "px";
  e.style.top = n.ui.pos[1] + "px";
  const width = Array.isArray(n.ui.size) && n.ui.size[0] >= 120 ? n.ui.size[0] : NODE_WIDTH;
  e.style.width = width + "px";
  if (n.ui.color) e.style.setProperty("--fw-node-color", String(n.ui.color));

  const title = el("div", "fw-title");
  title.appendChild(el("span", "fw-title-text", n.ui.title || d.display_name || n.type));
  title.appendChild(el("span", "fw-badge", ""));
  title.title = (d.description || d.type || "") + "  [" + n.id + "]";
  e.appendChild(title);
  const bar = el("div", "fw-progress");
  bar.appendChild(el("div", "fw-progress-bar"));
  e.appendChild(bar);
  if (d.unknown) e.appendChild(el("div", "fw-note", "unknown node type " + n.type + "; is its node pack installed?"));

  for (const out of d.outputs || []) {
    const row = el("div", "fw-row fw-row-out");
    row.appendChild(el("span", "fw-label", out.name + " \u00b7 " + out.type));
    row.appendChild(socket("out", out.name, out.type, out.description));
    e.appendChild(row);
  }
  for (const inp of d.inputs || []) {
    const row = el("div", "fw-row fw-row-in");
    row.dataset.input = inp.name;
    row.appendChild(socket("in", inp.name, inp.type, inp.description));
    const label = el("label", "fw-label", inp.label || inp.name);
    if (inp.description) label.title = inp.description;
    row.appendChild(label);
    const linked = linkInto(n.id, inp.name);
    if (inp.widget && !linked) {
      row.appendChild(widgetControl(n, inp));
      row.classList.add("fw-has-widget");
    } else if (inp.widget && linked) {
      row.appendChild(el("span", "fw-linked", "\u2190 linked"));
    } else if (!inp.optional && !linked) {
      row.appendChild(el("span", "fw-hint", inp.type));
    }
    e.appendChild(row);
  }
  const err = el("div", "fw-error", st.error ? (st.input ? st.input + ": " : "") + st.error : "");
  err.hidden = !st.error;
  e.appendChild(err);
  const preview = el("img", "fw-preview");
  preview.alt = "live preview";
  preview.hidden = true;
  if (st.preview && String(st.preview).startsWith("data:image/")) { preview.src = st.preview; preview.hidden = false; }
  e.appendChild(preview);
  const images = el("div", "fw-images");
  e.appendChild(images);
  if (st.images) showImages(images, st.images);
  const text = el("pre", "fw-text", st.text || "");
  text.hidden = !st.text;
  e.appendChild(text);
  if (st.status === "running" && st.max) bar.firstChild.style.width = Math.round(100 * st.value / st.max) + "%";
  return e;
}
function socket(dir, name, type, description) {
  const s = el("span", "fw-socket fw-socket-" + dir);
  s.dataset.socketDir = dir;
  s.dataset.socketName = name;
  s.dataset.socketType = type;
  s.style.setProperty("--fw-socket-color", typeColor(type));
  s.title = type + (description ? ": " + description : "");
  return s;
}
function showImages(container, images) {
  container.textContent = "";
  for (const im of images) {
    const url = fileUrl(im.path);
    const fig = el("figure", "fw-image");
    const img = el("img");
    img.src = url;
    img.alt = im.name || "result";
    img.addEventListener("load", () => drawWires());
    const a = el("a", "fw-download", "\u2b07 PNG");
    a.href = url;
    a.download = im.name || "fluxwire.png";
    a.title = "Download the PNG (it carries this workflow)";
    fig.appendChild(img);
    fig.appendChild(a);
    container.appendChild(fig);
  }
}

// ------------------------------------------------------------------ widgets
function widgetControl(n, inp) {
  const w = inp.widget;
  const has = Object.prototype.hasOwnProperty.call(n.widgets, inp.name);
  const value = has ? n.widgets[inp.name] : w.default;
  const wrap = el("span", "fw-widget fw-widget-" + w.kind);
  const set = (v) => setWidget(n.id, inp.name, v);
  let control;
  if (w.kind === "int" || w.kind === "float") {
    control = el("input");
    control.type = "number";
    if (w.min !== null && w.min !== undefined) control.min = String(w.min);
    if (w.max !== null && w.max !== undefined) control.max = String(w.max);
    control.step = w.kind === "int" ? String(w.step || 1) : String(w.step || "any");
    control.value = value === null || value === undefined ? "" : String(value);
    const parse = (text) => {
      const v = w.kind === "int" ? Number.parseInt(text, 10) : Number.parseFloat(text);
      return Number.isFinite(v) ? v : null;
    };
    if (w.display === "slider" && w.min !== null && w.max !== null && w.min !== undefined && w.max !== undefined) {
      const slider = el("input");
      slider.type = "range";
      slider.min = String(w.min); slider.max = String(w.max); slider.step = control.step;
      slider.value = control.value;
      slider.dataset.widget = inp.name + ".slider";
      slider.addEventListener("input", () => { control.value = slider.value; });
      slider.addEventListener("change", () => { const v = parse(slider.value); if (v !== null) set(v); });
      wrap.appendChild(slider);
    }
    control.addEventListener("change", () => {
      const v = parse(control.value);
      if (v === null) { control.value = value === undefined || value === null ? "" : String(value); return; }
      set(v);
    });
    wrap.appendChild(control);
    if (w.seed) {
      const dice = el("button", "fw-dice", "\u2684");
      dice.type = "button";
      dice.title = "New random seed";
      dice.dataset.action = "randomize";
      dice.addEventListener("click", () => set(randomSeed(w)));
      wrap.appendChild(dice);
      // ComfyUI's "control after generate": a seed marked random gets a new value before every run
      const mode = el("select", "fw-seed-mode");
      for (const m of ["fixed", "random"]) { const o = el("option", null, m); o.value = m; mode.appendChild(o); }
      mode.value = seedMode(n, inp.name);
      mode.dataset.widget = inp.name + ".mode";
      mode.title = "fixed: keep this seed; random: a new seed before every run";
      mode.addEventListener("change", () => {
        const before = snapshot();
        n.properties = Object.assign({}, n.properties);
        n.properties.seed_modes = Object.assign({}, n.properties.seed_modes, { [inp.name]: mode.value });
        commit(before);
      });
      wrap.appendChild(mode);
    }
  } else if (w.kind === "boolean") {
    control = el("input");
    control.type = "checkbox";
    control.checked = !!value;
    control.addEventListener("change", () => set(control.checked));
    wrap.appendChild(control);
  } else if (w.kind === "combo") {
    control = el("select");
    const choices = Array.isArray(w.choices) ? w.choices.slice() : [];
    if (value !== null && value !== undefined && !choices.includes(value)) {
      const o = el("option", null, String(value) + " (missing)");
      o.value = String(value);
      control.appendChild(o);
    }
    if (!choices.length && (value === null || value === undefined)) {
      const o = el("option", null, "(nothing to choose)");
      o.value = "";
      control.appendChild(o);
    }
    for (const c of choices) {
      const o = el("option", null, c);
      o.value = c;
      control.appendChild(o);
    }
    control.value = value === null || value === undefined ? "" : String(value);
    control.addEventListener("change", () => set(control.value));
    wrap.appendChild(control);
  } else {
    control = el(w.multiline ? "textarea" : "input");
    if (!w.multiline) control.type = "text";
    else control.rows = 3;
    if (w.placeholder) control.placeholder = w.placeholder;
    control.value = value === null || value === undefined ? "" : String(value);
    control.addEventListener("change", () => set(control.value));
    wrap.appendChild(control);
  }
  control.dataset.widget = inp.name;
  control.name = inp.name;
  control.setAttribute("aria-label", inp.label || inp.name);
  return wrap;
}
function randomSeed(w) {
  const lo = Math.max(0, Number(w.min || 0));
  const hi = Math.min(Number(w.max === null || w.max === undefined ? 2 ** 32 - 1 : w.max), 2 ** 32 - 1);
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}
function seedMode(n, name) {
  const modes = n.properties && n.properties.seed_modes;
  return modes && modes[name] === "random" ? "random" : "fixed";
}
function reseed() {
  // new values for seeds marked "random", recorded in the document so saved files say which seed was used
  const before = snapshot();
  for (const n of graph.nodes) {
    for (const inp of declOf(n).inputs || []) {
      if (inp.widget && inp.widget.seed && seedMode(n, inp.name) === "random" && !linkInto(n.id, inp.name)) {
        n.widgets[inp.name] = randomSeed(inp.widget);
        const ctl = nodeEls.get(n.id) && nodeEls.get(n.id).querySelector('[data-widget="' + CSS.escape(inp.name) + '"]');
        if (ctl) ctl.value = String(n.widgets[inp.name]);
      }
    }
  }
  if (before !== snapshot()) commit(before);
}
function setWidget(id, name, value) {
  const n = nodeById(id);
  if (!n) return;
  const before = snapshot();
  n.widgets[name] = value;
  if (n.widgets[name] === value) {
    const ctl = nodeEls.get(id) && nodeEls.get(id).querySelector('[data-widget="' + CSS.escape(name) + '"]');
    if (ctl && ctl.type === "number" && String(ctl.value) !== String(value)) ctl.value = String(value);
  }
  commit(before);
}

// ------------------------------------------------------------------ wires
function socketEl(id, dir, name) {
  const e = nodeEls.get(id);
  return e && e.querySelector('[data-socket-dir="' + dir + '"][data-socket-name="' + CSS.escape(name) + '"]');
}
function socketPos(s) {
  const r = s.getBoundingClientRect(), w = world.getBoundingClientRect();
  return [(r.left + r.width / 2 - w.left) / view.zoom, (r.top + r.height / 2 - w.top) / view.zoom];
}
function curve(a, b) {
  const dx = Math.max(40, Math.abs(b[0] - a[0]) / 2);
  return "M" + a[0] + "," + a[1] + " C" + (a[0] + dx) + "," + a[1] + " " + (b[0] - dx) + "," + b[1] + " " + b[0] + "," + b[1];
}
function drawWires() {
  wires.textContent = "";
  for (const l of graph.links) {
    const a = socketEl(l.from, "out", l.output), b = socketEl(l.to, "in", l.input);
    if (!a || !b) continue;
    const p = document.createElementNS(SVGNS, "path");
    p.setAttribute("d", curve(socketPos(a), socketPos(b)));
    p.setAttribute("class", "fw-wire");
    p.setAttribute("stroke", typeColor(a.dataset.socketType));
    p.dataset.from = l.from; p.dataset.output = l.output; p.dataset.to = l.to; p.dataset.input = l.input;
    wires.appendChild(p);
  }
}
function wouldCycle(from, to) {
  // a link from -> to makes a cycle when `from` is already reachable from `to`
  const stack = [to], seen = new Set();
  while (stack.length) {
    const id = stack.pop();
    if (id === from) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const l of graph.links) if (l.from === id) stack.push(l.to);
  }
  return false;
}
function connect(from, output, outType, to, input, inType) {
  const reason = from === to ? "a node cannot feed itself" : whyNot(outType, inType) ||
    (wouldCycle(from, to) ? "that link would make a cycle" : null);
  if (reason) return reason;
  const before = snapshot();
  graph.links = graph.links.filter((l) => !(l.to === to && l.input === input));
  graph.links.push({ from, output, to, input });
  rerenderNode(to);
  drawWires();
  commit(before);
  return null;
}
function showToast(text, x, y) {
  toast.textContent = text;
  toast.hidden = false;
  const r = stage.getBoundingClientRect();
  toast.style.left = Math.max(4, x - r.left + 12) + "px";
  toast.style.top = Math.max(4, y - r.top + 12) + "px";
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, 4000);
}

// ------------------------------------------------------------------ selection, add, delete, duplicate
function select(ids, additive) {
  if (!additive) selected.clear();
  for (const id of ids) selected.add(id);
  for (const [id, e] of nodeEls) {
    if (selected.has(id)) e.dataset.selected = "1"; else delete e.dataset.selected;
  }
  refreshToolbar();
}
function nextId() {
  let max = 0;
  for (const n of graph.nodes) { const k = Number.parseInt(n.id, 10); if (String(k) === n.id && k > max) max = k; }
  let k = max + 1;
  while (nodeById(String(k))) k++;
  return String(k);
}
function addNode(type, pos) {
  const d = defs[type];
  if (!d) return null;
  const before = snapshot();
  const widgets = {};
  for (const i of d.inputs) if (i.widget && i.widget.default !== null && i.widget.default !== undefined) widgets[i.name] = i.widget.default;
  const at = freeSpot(pos);
  const node = { id: nextId(), type, version: d.version, widgets, ui: { pos: [Math.round(at[0]), Math.round(at[1])] } };
  graph.nodes.push(node);
  const e = renderNode(node);
  nodeEls.set(node.id, e);
  nodesLayer.appendChild(e);
  select([node.id]);
  commit(before);
  return node.id;
}
function deleteSelected() {
  if (!selected.size) return;
  const before = snapshot();
  graph.nodes = graph.nodes.filter((n) => !selected.has(n.id));
  graph.links = graph.links.filter((l) => !selected.has(l.from) && !selected.has(l.to));
  selected.clear();
  renderAll();
  commit(before);
}
function insertCopies(nodes, links, place) {
  // add copies of `nodes` (new ids) and of the `links` between them; `place(pos)` gives each new position
  const before = snapshot();
  const map = {};
  for (const n of nodes) {
    const copy = clone(n);
    copy.id = nextId();
    map[n.id] = copy.id;
    copy.ui = Object.assign({}, copy.ui, { pos: place(n.ui.pos) });
    graph.nodes.push(copy);
  }
  for (const l of links) {
    if (map[l.from] && map[l.to]) graph.links.push({ from: map[l.from], output: l.output, to: map[l.to], input: l.input });
  }
  selected = new Set(Object.values(map));
  renderAll();
  commit(before);
}
function selectedPart() {
  return { nodes: graph.nodes.filter((n) => selected.has(n.id)).map(clone),
           links: graph.links.filter((l) => selected.has(l.from) && selected.has(l.to)).map(clone) };
}
function duplicateSelected() {
  if (!selected.size) return;
  const part = selectedPart();
  insertCopies(part.nodes, part.links, (p) => [p[0] + 30, p[1] + 30]);
}
let clipboard = null;
let pointerWorld = null;
function copySelected() { if (selected.size) clipboard = selectedPart(); }
function paste() {
  if (!clipboard || !clipboard.nodes.length) return;
  const x0 = Math.min(...clipboard.nodes.map((n) => n.ui.pos[0])), y0 = Math.min(...clipboard.nodes.map((n) => n.ui.pos[1]));
  const at = pointerWorld || [x0 + 40, y0 + 40];
  insertCopies(clipboard.nodes, clipboard.links, (p) => [Math.round(at[0] + p[0] - x0), Math.round(at[1] + p[1] - y0)]);
}
function renameNode(id) {
  const n = nodeById(id), e = nodeEls.get(id);
  if (!n || !e) return;
  const span = e.querySelector(".fw-title-text");
  const input = el("input", "fw-title-edit");
  input.value = n.ui.title || declOf(n).display_name || n.type;
  input.dataset.widget = "__title";
  span.replaceWith(input);
  input.focus();
  input.select();
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    const text = input.value.trim();
    const before = snapshot();
    if (keep) { if (text && text !== (declOf(n).display_name || n.type)) n.ui.title = text.slice(0, 200); else delete n.ui.title; }
    rerenderNode(id);
    drawWires();
    if (keep) commit(before);
    root.focus({ preventScroll: true });
  };
  input.addEventListener("keydown", (k) => {
    if (k.key === "Enter") finish(true);
    else if (k.key === "Escape") finish(false);
    k.stopPropagation();
  });
  input.addEventListener("blur", () => finish(true));
}
function renderGroups() {
  for (const g of Array.isArray(graph.groups) ? graph.groups : []) {
    if (!g || !Array.isArray(g.bounding) || g.bounding.length < 4 || !g.bounding.every(Number.isFinite)) continue;
    const box = el("div", "fw-group");
    Object.assign(box.style, { left: g.bounding[0] + "px", top: g.bounding[1] + "px",
      width: g.bounding[2] + "px", height: g.bounding[3] + "px" });
    if (g.color) box.style.setProperty("--fw-group-color", String(g.color));
    box.appendChild(el("div", "fw-group-title", g.title || ""));
    nodesLayer.appendChild(box);
  }
}

// ------------------------------------------------------------------ view
function toWorld(clientX, clientY) {
  const r = stage.getBoundingClientRect();
  return [(clientX - r.left - view.x) / view.zoom, (clientY - r.top - view.y) / view.zoom];
}
function fitView() {
  const r = stage.getBoundingClientRect();
  if (!graph.nodes.length || r.width < 10 || r.height < 10) { applyView(); return; }
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const n of graph.nodes) {
    const e = nodeEls.get(n.id);
    const w = e ? e.offsetWidth : NODE_WIDTH, h = e ? e.offsetHeight : 150;
    x0 = Math.min(x0, n.ui.pos[0]); y0 = Math.min(y0, n.ui.pos[1]);
    x1 = Math.max(x1, n.ui.pos[0] + w); y1 = Math.max(y1, n.ui.pos[1] + h);
  }
  const pad = 30;
  const zoom = Math.max(0.2, Math.min(1.2, (r.width - 2 * pad) / (x1 - x0), (r.height - 2 * pad) / (y1 - y0)));
  view = { zoom, x: pad - x0 * zoom + Math.max(0, (r.width - 2 * pad - (x1 - x0) * zoom) / 2), y: pad - y0 * zoom };
  applyView();
  drawWires();
}

// ------------------------------------------------------------------ palette
function paletteMatches(q) {
  // every word of the query must appear; matches in the name rank before matches in the description
  const words = q.split(/\s+/).filter(Boolean);
  const out = [];
  for (const d of catalogue.nodes || []) {
    const name = (d.display_name + " " + d.type).toLowerCase();
    const hay = name + " " + (d.category + " " + (d.description || "")).toLowerCase();
    if (!words.every((w) => hay.includes(w))) continue;
    const score = words.filter((w) => name.includes(w)).length * 10 + (name.startsWith(words[0] || "") ? 5 : 0);
    out.push([score, d]);
  }
  out.sort((a, b) => b[0] - a[0] || a[1].display_name.localeCompare(b[1].display_name));
  return out.map((x) => x[1]);
}
function paletteItem(d, showCategory) {
  const item = el("div", "fw-palette-item");
  item.dataset.nodeType = d.type;
  item.tabIndex = 0;
  item.appendChild(el("span", "fw-palette-name", d.display_name));
  const side = showCategory ? d.category : d.pack;
  if (side) item.appendChild(el("span", "fw-palette-pack", side));
  item.title = d.description || d.type;
  return item;
}
function buildPalette() {
  paletteList.textContent = "";
  const q = paletteSearch.value.trim().toLowerCase();
  if (q) {  // a ranked flat list while searching
    const found = paletteMatches(q);
    if (!found.length) paletteList.appendChild(el("div", "fw-palette-empty", "no node matches"));
    for (const d of found) paletteList.appendChild(paletteItem(d, true));
    return;
  }
  const groups = {};
  for (const d of catalogue.nodes || []) (groups[d.category] = groups[d.category] || []).push(d);
  for (const c of Object.keys(groups).sort()) {
    paletteList.appendChild(el("div", "fw-palette-category", c));
    for (const d of groups[c].sort((a, b) => a.display_name.localeCompare(b.display_name))) paletteList.appendChild(paletteItem(d, false));
  }
}
function freeSpot(pos) {
  // step down-right from `pos` until a new node would not sit on top of another one
  let [x, y] = pos;
  for (let i = 0; i < 60; i++) {
    const hit = graph.nodes.some((n) => {
      const e = nodeEls.get(n.id);
      const w = e ? e.offsetWidth : NODE_WIDTH, h = e ? e.offsetHeight : 120;
      return x < n.ui.pos[0] + w && x + NODE_WIDTH > n.ui.pos[0] && y < n.ui.pos[1] + h && y + 80 > n.ui.pos[1];
    });
    if (!hit) break;
    x += 40; y += 40;
  }
  return [x, y];
}
let paletteAt = null;
function openPalette(worldPos) {
  const r = stage.getBoundingClientRect();
  paletteAt = worldPos || toWorld(r.left + r.width / 3, r.top + r.height / 5);
  palette.hidden = false;
  paletteSearch.value = "";
  buildPalette();
  paletteSearch.focus();
}
function closePalette() { palette.hidden = true; }
paletteSearch.addEventListener("input", buildPalette);
paletteSearch.addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    const first = paletteList.querySelector(".fw-palette-item");
    if (first) { addNode(first.dataset.nodeType, paletteAt); closePalette(); }
  } else if (e.key === "Escape") closePalette();
});
paletteList.addEventListener("click", (e) => {
  const item = e.target.closest(".fw-palette-item");
  if (!item) return;
  addNode(item.dataset.nodeType, paletteAt);
  closePalette();
});

// ------------------------------------------------------------------ pointer gestures
function gesture(onMove, onUp) {
  const move = (e) => onMove(e);
  const up = (e) => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    window.removeEventListener("pointercancel", up);
    onUp(e);
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
  window.addEventListener("pointercancel", up);
}
function startWire(e, fromSocket, fromNode) {
  const temp = document.createElementNS(SVGNS, "path");
  temp.setAttribute("class", "fw-wire fw-wire-temp");
  temp.setAttribute("stroke", typeColor(fromSocket.dataset.socketType));
  wires.appendChild(temp);
  const a = socketPos(fromSocket);
  gesture((m) => {
    temp.setAttribute("d", curve(a, toWorld(m.clientX, m.clientY)));
  }, (u) => {
    temp.remove();
    const target = document.elementFromPoint(u.clientX, u.clientY);
    const nodeEl = target && target.closest(".fw-node");
    if (!nodeEl || !root.contains(nodeEl)) return;
    let inSock = target.closest('[data-socket-dir="in"]');
    if (!inSock) {
      const row = target.closest(".fw-row-in");
      inSock = row ? row.querySelector('[data-socket-dir="in"]') : null;
    }
    const outType = fromSocket.dataset.socketType;
    if (!inSock) {  // dropped on a node: the first free input that accepts this type
      const candidates = [...nodeEl.querySelectorAll('[data-socket-dir="in"]')]
        .filter((s) => canConnect(outType, s.dataset.socketType));
      inSock = candidates.find((s) => !linkInto(nodeEl.dataset.nodeId, s.dataset.socketName)) || candidates[0];
      if (!inSock) { showToast("refused: " + nodeEl.dataset.nodeType + " has no input that takes a " + outType, u.clientX, u.clientY); return; }
    }
    const reason = connect(fromNode, fromSocket.dataset.socketName, outType, nodeEl.dataset.nodeId,
      inSock.dataset.socketName, inSock.dataset.socketType);
    if (reason) showToast("refused: " + reason, u.clientX, u.clientY);
  });
}
stage.addEventListener("pointerdown", (e) => {
  if (e.button !== 0 && e.button !== 1) return;
  if (!palette.hidden && !palette.contains(e.target)) closePalette();
  if (palette.contains(e.target) || isTyping(e.target) || e.target.closest("button, a")) return;
  root.focus({ preventScroll: true });
  const sock = e.target.closest("[data-socket-dir]");
  const nodeEl = e.target.closest(".fw-node");
  if (sock && nodeEl && e.button === 0) {
    e.preventDefault();
    const id = nodeEl.dataset.nodeId;
    if (sock.dataset.socketDir === "out") { startWire(e, sock, id); return; }
    const l = linkInto(id, sock.dataset.socketName);
    if (l) {  // pick up an existing wire from its input end
      const before = snapshot();
      graph.links = graph.links.filter((x) => x !== l);
      rerenderNode(id);
      drawWires();
      commit(before);
      const src = socketEl(l.from, "out", l.output);
      if (src) startWire(e, src, l.from);
    }
    return;
  }
  if (nodeEl && e.button === 0) {
    e.preventDefault();
    const id = nodeEl.dataset.nodeId;
    if (e.shiftKey || e.ctrlKey || e.metaKey) {
      if (selected.has(id)) { selected.delete(id); select([], true); } else select([id], true);
    } else if (!selected.has(id)) select([id]);
    if (!e.target.closest(".fw-title")) return;
    const start = [e.clientX, e.clientY];
    const origin = {};
    for (const sid of selected) { const n = nodeById(sid); if (n) origin[sid] = n.ui.pos.slice(); }
    const before = snapshot();
    let moved = false;
    gesture((m) => {
      const dx = (m.clientX - start[0]) / view.zoom, dy = (m.clientY - start[1]) / view.zoom;
      if (Math.abs(dx) + Math.abs(dy) > 1) moved = true;
      for (const sid in origin) {
        const n = nodeById(sid), ne = nodeEls.get(sid);
        n.ui.pos = [Math.round(origin[sid][0] + dx), Math.round(origin[sid][1] + dy)];
        ne.style.left = n.ui.pos[0] + "px";
        ne.style.top = n.ui.pos[1] + "px";
      }
      drawWires();
    }, () => { if (moved) commit(before); });
    return;
  }
  // empty canvas: drag pans; shift/ctrl-drag selects a rectangle
  e.preventDefault();
  const start = [e.clientX, e.clientY];
  const r = stage.getBoundingClientRect();
  if ((e.shiftKey || e.ctrlKey || e.metaKey) && e.button === 0) {
    rubber.hidden = false;
    gesture((m) => {
      const x0 = Math.min(start[0], m.clientX) - r.left, y0 = Math.min(start[1], m.clientY) - r.top;
      Object.assign(rubber.style, { left: x0 + "px", top: y0 + "px",
        width: Math.abs(m.clientX - start[0]) + "px", height: Math.abs(m.clientY - start[1]) + "px" });
    }, (u) => {
      rubber.hidden = true;
      const box = [Math.min(start[0], u.clientX), Math.min(start[1], u.clientY), Math.max(start[0], u.clientX), Math.max(start[1], u.clientY)];
      const hits = [];
      for (const [id, ne] of nodeEls) {
        const b = ne.getBoundingClientRect();
        if (b.left < box[2] && b.right > box[0] && b.top < box[3] && b.bottom > box[1]) hits.push(id);
      }
      select(hits, true);
    });
    return;
  }
  const v0 = { x: view.x, y: view.y };
  let moved = false;
  gesture((m) => {
    if (Math.abs(m.clientX - start[0]) + Math.abs(m.clientY - start[1]) > 2) moved = true;
    view.x = v0.x + m.clientX - start[0];
    view.y = v0.y + m.clientY - start[1];
    applyView();
  }, () => { if (!moved) select([]); });
});
stage.addEventListener("pointermove", (e) => { pointerWorld = toWorld(e.clientX, e.clientY); });
stage.addEventListener("pointerleave", () => { pointerWorld = null; });
stage.addEventListener("dblclick", (e) => {
  const title = e.target.closest(".fw-title");
  if (title && !isTyping(e.target)) { renameNode(title.closest(".fw-node").dataset.nodeId); return; }
  if (e.target.closest(".fw-node") || palette.contains(e.target)) return;
  openPalette(toWorld(e.clientX, e.clientY));
});
stage.addEventListener("wheel", (e) => {
  if (palette.contains(e.target) || e.target.closest(".fw-node textarea")) return;
  e.preventDefault();
  const r = stage.getBoundingClientRect();
  const px = e.clientX - r.left, py = e.clientY - r.top;
  const zoom = Math.max(0.15, Math.min(3, view.zoom * Math.exp(-e.deltaY * 0.0015)));
  view.x = px - (px - view.x) * zoom / view.zoom;
  view.y = py - (py - view.y) * zoom / view.zoom;
  view.zoom = zoom;
  applyView();
}, { passive: false });

// ------------------------------------------------------------------ keyboard
root.addEventListener("keydown", (e) => {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && e.key === "Enter") {
    e.preventDefault();
    // a widget being typed in has not sent its change yet
    if (e.target.matches && e.target.matches("[data-widget]")) e.target.dispatchEvent(new Event("change"));
    runGraph(null);
    return;
  }
  if (isTyping(e.target)) return;
  const k = e.key.toLowerCase();
  if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); deleteSelected(); }
  else if (mod && k === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
  else if (mod && (k === "y" || (k === "z" && e.shiftKey))) { e.preventDefault(); redo(); }
  else if (mod && k === "d") { e.preventDefault(); duplicateSelected(); }
  else if (mod && k === "c") { copySelected(); }
  else if (mod && k === "v") { e.preventDefault(); paste(); }
  else if (mod && k === "a") { e.preventDefault(); select(graph.nodes.map((n) => n.id)); }
  else if (e.key === "Escape") { closePalette(); select([]); }
});

// ------------------------------------------------------------------ files: open, drop, save, shipped
async function openFile(file) {
  if (!file) return;
  const name = file.name || "upload";
  if (!/\.(json|png)$/i.test(name)) { showBanner("error", name + ": only .json workflows and .png images carrying a workflow can be opened"); return; }
  if (file.size > MAX_UPLOAD) { showBanner("error", name + ": the file is larger than 16 MB"); return; }
  const data = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
  setStatus("opening " + name);
  const res = await server.read_workflow_file({ name, data });
  acceptLoaded(res, name);
}
function acceptLoaded(res, what) {
  if (!res || !res.ok) {
    showBanner("error", (res && res.message) || "cannot open " + what);
    setStatus("");
    return;
  }
  loadGraph(res.workflow, { undoable: true });
  markProblems(res.problems || []);
  if (res.problems && res.problems.length) showBanner("warning", res.message || "the workflow has problems");
  else hideBanner();
  setStatus("opened " + what);
}
function saveJson() {
  send();
  const text = JSON.stringify(lastSent, null, 2) + "\n";
  const title = String((graph.metadata && graph.metadata.title) || "workflow").replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 80) || "workflow";
  const a = el("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  a.download = title + ".json";
  root.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
fileInput.addEventListener("change", () => { const f = fileInput.files[0]; fileInput.value = ""; openFile(f).catch(reportError); });
shippedSelect.addEventListener("change", async () => {
  const name = shippedSelect.value;
  shippedSelect.value = "";
  if (!name) return;
  acceptLoaded(await server.shipped_workflow(name), name);
});
stage.addEventListener("dragover", (e) => {
  if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) { e.preventDefault(); root.classList.add("fw-dropping"); }
});
stage.addEventListener("dragleave", () => root.classList.remove("fw-dropping"));
stage.addEventListener("drop", (e) => {
  root.classList.remove("fw-dropping");
  if (!e.dataTransfer || !e.dataTransfer.files.length) return;
  e.preventDefault();
  openFile(e.dataTransfer.files[0]).catch(reportError);
});

// ------------------------------------------------------------------ run state from Python
function setStatus(text) { statusEl.textContent = text; }
function showBanner(kind, text) { banner.hidden = false; banner.dataset.kind = kind; bannerText.textContent = text; }
function hideBanner() { banner.hidden = true; bannerText.textContent = ""; }
banner.querySelector('[data-action="dismiss"]').addEventListener("click", hideBanner);
function reportError(err) { showBanner("error", String(err && err.message ? err.message : err)); }
function markProblems(problems) {
  statusById = {};
  for (const p of problems) if (p.node) statusById[p.node] = { status: "error", error: p.message, input: p.input };
  for (const id of Object.keys(statusById)) rerenderNode(id);
  drawWires();
}
function refreshToolbar() {
  root.querySelector('[data-action="run-selected"]').disabled = selected.size === 0;
  root.querySelector('[data-action="undo"]').disabled = undoStack.length === 0;
  root.querySelector('[data-action="redo"]').disabled = redoStack.length === 0;
  root.dataset.running = currentRun && !finishedRuns.has(currentRun) ? "1" : "0";
}
function applyRunState(state) {
  if (!state || typeof state !== "object" || !state.run_id) return;
  const fresh = state.run_id !== currentRun;
  if (fresh) {
    currentRun = state.run_id;
    for (const id of Object.keys(statusById)) {
      const s = statusById[id];
      statusById[id] = s.images ? { images: s.images } : {};
    }
    hideBanner();
  }
  const nodes = state.nodes || {};
  for (const n of graph.nodes) {
    const s = nodes[n.id];
    const prev = statusById[n.id] || {};
    const next = s ? Object.assign({}, s, { images: s.images || prev.images }) : (fresh ? { images: prev.images } : prev);
    statusById[n.id] = next;
    const e = nodeEls.get(n.id);
    if (!e) continue;
    e.dataset.status = next.status || "idle";
    const bar = e.querySelector(".fw-progress-bar");
    bar.style.width = next.status === "running" && next.max ? Math.round(100 * next.value / next.max) + "%" : (next.status === "done" ? "100%" : "0");
    const err = e.querySelector(".fw-error");
    err.textContent = next.error ? (next.input ? next.input + ": " : "") + next.error : "";
    err.hidden = !next.error;
    const badge = e.querySelector(".fw-badge");
    badge.textContent = next.status === "running" && next.max ? next.value + "/" + next.max :
      next.status === "cached" ? "cached" : next.status === "done" && next.seconds !== undefined ? (next.seconds < 0.01 ? "<0.01 s" : next.seconds.toFixed(2) + " s") : "";
    const pv = e.querySelector(".fw-preview");
    if (next.preview && String(next.preview).startsWith("data:image/") && next.status === "running") {
      if (pv.getAttribute("src") !== next.preview) pv.src = next.preview;
      pv.hidden = false;
    } else if (next.status !== "running") pv.hidden = true;
    if (s && s.images) showImages(e.querySelector(".fw-images"), s.images);
    const txt = e.querySelector(".fw-text");
    if (next.text !== undefined) { txt.textContent = next.text; txt.hidden = !next.text; }
  }
  const final = ["success", "error", "interrupted", "invalid"].includes(state.status);
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
  requestAnimationFrame(drawWires);
}
function runGraph(targets) {
  closePalette();
  reseed();
  send();
  pendingRuns += 1;
  if (pendingRuns > 1) setStatus("queued: " + (pendingRuns - 1) + " run(s) waiting");
  else {
    setStatus("starting");
    for (const [id, e] of nodeEls) e.dataset.status = "queued";
  }
  trigger("run_graph", { outputs: targets && targets.length ? targets : null });
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
  else if (a === "run-selected") runGraph([...selected]);
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
});

// ------------------------------------------------------------------ start
setCatalogue(props.catalogue);
if (props.catalogue && props.catalogue.problems && props.catalogue.problems.length) {
  showBanner("warning", props.catalogue.problems.join("\n"));
} else if (props.notice) {
  showBanner("info", String(props.notice));
}
graph = normalise(props.value);
lastSent = props.value;
renderAll();
const savedView = graph.extra && graph.extra.view;
if (savedView && isFinite(savedView.zoom) && savedView.zoom > 0) { view = Object.assign({}, savedView); applyView(); }
else requestAnimationFrame(fitView);
watch("value", () => {
  if (props.value === lastSent) return;
  generation += 1;
  graph = normalise(props.value);
  lastSent = props.value;
  statusById = {};
  renderAll();
  fitView();
});
watch("run_state", () => applyRunState(props.run_state));
watch("catalogue", () => { setCatalogue(props.catalogue); renderAll(); });
new ResizeObserver(() => drawWires()).observe(stage);
setStatus(graph.nodes.length ? "ready" : "empty canvas: add nodes with + Add node or double-click");
if (graph.nodes.length) {
  // say at once what would stop the opening workflow from running (e.g. a model file not installed)
  const asked = generation;
  server.validate_graph(props.value).then((res) => {
    if (asked !== generation || currentRun || !res || !res.problems || !res.problems.length) return;
    markProblems(res.problems);
    const packs = (catalogue.problems || []).join("\n");
    showBanner("warning", (packs ? packs + "\n" : "") + (res.message || "the workflow has problems"));
  }).catch(reportError);
}
// the catalogue in the page config was made when the app started: re-read model lists once per page load
server.refresh_catalogue(null).then((cat) => {
  if (cat && JSON.stringify(cat) !== JSON.stringify(props.catalogue)) { setCatalogue(cat); renderAll(); }
}).catch(reportError);
root.dataset.ready = "1";
