// fluxwire canvas, tools on one node: pin (ui.pinned: cannot be moved or resized), resize by the bottom-right
// corner (ui.size [width, height]; widgets and pictures follow the width), help (what the node does, its
// inputs and outputs), convert a widget to an input socket and back (ui.widget_inputs: the widget is hidden
// and the row waits for a wire; the engine lets a link into a widget input replace its value), and size
// widgets of new nodes following the model loaded in the graph (catalogue.model_sizes, read from the
// files' headers on the server).

const MIN_NODE_W = 140, MIN_NODE_H = 60;

// ------------------------------------------------------------------ drawn on every node (renderNode calls this)
function decorateNode(e, n) {
  if (n.ui.pinned) {
    e.dataset.pinned = "1";
    const pin = el("span", "fw-pin", "\ud83d\udccc");
    pin.title = "pinned: cannot be moved or resized (right-click \u2192 Unpin)";
    e.querySelector(".fw-title").insertBefore(pin, e.querySelector(".fw-badge"));
  }
  if (Array.isArray(n.ui.size) && Number.isFinite(n.ui.size[1]) && !n.ui.collapsed) {
    e.style.minHeight = Math.max(MIN_NODE_H, n.ui.size[1]) + "px";
    e.dataset.sized = "1";  // its pictures and live preview fill the room under the widgets (results.css)
  } else if (!n.ui.collapsed && isResultNode(declOf(n))) {
    autoRoomNode(e);  // an old result node: room for pictures all the same, not saved (results.js)
  } else if (!n.ui.collapsed && declOf(n).output_node) {
    queueRoomCap(e);  // its text stops above the node below (results.js)
  }
  if (!n.ui.pinned && !n.ui.collapsed && !BOUNDARY_IDS.includes(n.id)) {
    const grip = el("div", "fw-node-resize");
    grip.dataset.role = "node-resize";
    grip.title = "Drag to resize the node";
    e.appendChild(grip);
  }
}
function widgetAsInput(n, name) {
  return Array.isArray(n.ui.widget_inputs) && n.ui.widget_inputs.includes(name);
}

// ------------------------------------------------------------------ new result nodes get room for a picture
const RESULT_WIDTH = 300, RESULT_PICTURE_ROOM = 220;  // ComfyUI keeps at least 220 px under an image node's widgets
function isResultNode(d) {
  // a node that shows the pictures it is given (SaveImage, PreviewImage, ...)
  return !!(d && d.output_node && (d.inputs || []).some((i) => i.type === "IMAGE"));
}
function sizeResultNode(n, e) {
  // called by addNode once the new node is drawn: its widgets' height plus room for the picture; true when set
  if (!isResultNode(declOf(n)) || n.ui.size) return false;
  e.style.width = RESULT_WIDTH + "px";
  n.ui.size = [RESULT_WIDTH, e.offsetHeight + RESULT_PICTURE_ROOM];
  return true;
}

// ------------------------------------------------------------------ pin, convert
function togglePin(ids) {
  ids = ids.filter((id) => !BOUNDARY_IDS.includes(id) && nodeById(id));
  if (!ids.length) return;
  const before = snapshot();
  const pin = ids.some((id) => !nodeById(id).ui.pinned);  // mixed selection: pin them all
  for (const id of ids) {
    const n = nodeById(id);
    if (pin) n.ui.pinned = true; else delete n.ui.pinned;
    rerenderNode(id);
  }
  drawWires(new Set(ids));
  commit(before);
  setStatus((pin ? "pinned " : "unpinned ") + ids.length + " node(s)");
}
function convertWidget(id, name, toInput) {
  // a widget becomes an input socket a wire can feed; back to a widget, the wire feeding it is removed
  const n = nodeById(id);
  const inp = n && (declOf(n).inputs || []).find((i) => i.name === name);
  if (!inp || !inp.widget) return;
  const before = snapshot();
  const list = (Array.isArray(n.ui.widget_inputs) ? n.ui.widget_inputs : []).filter((x) => x !== name);
  if (toInput) list.push(name);
  if (list.length) n.ui.widget_inputs = list; else delete n.ui.widget_inputs;
  if (!toInput) graph.links = graph.links.filter((l) => !(l.to === id && l.input === name));
  rerenderNode(id);
  drawWires();
  commit(before);
  setStatus(toInput ? name + " is now an input: connect a " + inp.type + " to it" : name + " is a widget again");
}
function convertMenuItems(id, name) {
  // for the right-click menu of an input socket
  const n = nodeById(id);
  const inp = n && (declOf(n).inputs || []).find((i) => i.name === name);
  if (!inp || !inp.widget) return;
  if (widgetAsInput(n, name)) menuItem("widget-back", "Convert back to a widget", () => convertWidget(id, name, false));
  else menuItem("widget-to-input", "Convert widget to input", () => convertWidget(id, name, true));
}

// ------------------------------------------------------------------ resize
function resizeNode(e, nodeEl) {
  const id = nodeEl.dataset.nodeId, n = nodeById(id);
  if (!n || n.ui.pinned) return;
  const before = snapshot();
  const start = [e.clientX, e.clientY], w0 = nodeEl.offsetWidth, h0 = nodeEl.offsetHeight;
  let moved = false, pending = null;
  const frame = () => {
    if (!pending) return;
    const [w, h] = pending;
    pending = null;
    n.ui.size = [w, h];
    nodeEl.dataset.sized = "1";
    nodeEl.style.width = w + "px";
    nodeEl.style.minHeight = h + "px";
    drawWires(new Set([id]));
  };
  gesture((m) => {
    const dx = (m.clientX - start[0]) / view.zoom, dy = (m.clientY - start[1]) / view.zoom;
    if (Math.abs(dx) + Math.abs(dy) > 1) moved = true;
    if (!pending) requestAnimationFrame(frame);
    pending = [Math.max(MIN_NODE_W, Math.round(w0 + dx)), Math.max(MIN_NODE_H, Math.round(h0 + dy))];
  }, () => {
    if (pending) frame();
    if (moved) { drawWires(); commit(before); }
  });
}
stage.addEventListener("pointerdown", (e) => {
  const grip = e.target.closest(".fw-node-resize");
  if (!grip || e.button !== 0 || spaceHeld) return;
  e.preventDefault();
  e.stopImmediatePropagation();
  root.focus({ preventScroll: true });
  resizeNode(e, grip.closest(".fw-node"));
}, true);

// ------------------------------------------------------------------ help
function showHelp(id) {
  const n = nodeById(id);
  if (!n) return;
  const d = declOf(n);
  const box = openDialog("Help: " + (d.display_name || n.type));
  const body = el("div", "fw-help");
  body.dataset.role = "help";
  body.dataset.nodeType = n.type;
  body.appendChild(el("div", "fw-help-type", n.type + (d.category ? " \u00b7 " + d.category : "") + (d.pack ? " \u00b7 " + d.pack : "")));
  body.appendChild(el("p", "fw-help-description", d.description || "No description."));
  const section = (title, items, what) => {
    body.appendChild(el("div", "fw-dialog-section", title));
    if (!items.length) { body.appendChild(el("div", "fw-help-none", "none")); return; }
    const list = el("ul", "fw-help-list");
    list.dataset.help = what;
    for (const s of items) {
      const li = el("li");
      li.dataset.socketName = s.name;
      li.appendChild(el("b", null, s.label || s.name));
      li.appendChild(el("span", "fw-help-socket-type", " " + s.type + (s.optional ? ", optional" : "")));
      const w = s.widget;
      const facts = [];
      if (w && w.default !== null && w.default !== undefined && w.default !== "") facts.push("default " + w.default);
      if (w && w.min !== null && w.min !== undefined) facts.push("min " + w.min);
      if (w && w.max !== null && w.max !== undefined) facts.push("max " + w.max);
      if (w && Array.isArray(w.choices) && w.kind === "combo" && !w.folder) facts.push("one of " + w.choices.join(", "));
      if (w && w.folder) facts.push("a file in models/" + w.folder);
      if (facts.length) li.appendChild(el("span", "fw-help-facts", " (" + facts.join("; ") + ")"));
      if (s.description) li.appendChild(el("div", "fw-help-socket-description", s.description));
      list.appendChild(li);
    }
    body.appendChild(list);
  };
  section("Inputs", (d.inputs || []).filter((i) => i.name !== NEW_SOCKET), "inputs");
  section("Outputs", (d.outputs || []).filter((o) => o.name !== NEW_SOCKET), "outputs");
  box.appendChild(body);
  dialogButtons(null, null, null, "Close");  // subgraph_edits.js
}

// ------------------------------------------------------------------ size widgets follow the model
const SIZE_WIDGETS = [["width", "height"], ["target_width", "target_height"]];
function modelSizeInGraph() {
  // the native size of the transformer file a loader in this graph (or the whole document) has chosen;
  // null when none is known or two loaders disagree
  const sizes = (catalogue && catalogue.model_sizes) || {};
  let found = null;
  for (const n of theDocument().nodes.concat(graph === theDocument() ? [] : graph.nodes)) {
    const d = defs[n.type];
    if (!d) continue;
    for (const inp of d.inputs || []) {
      const w = inp.widget;
      if (!w || !w.folder) continue;
      const value = Object.prototype.hasOwnProperty.call(n.widgets || {}, inp.name) ? n.widgets[inp.name] : w.default;
      const size = sizes[w.folder + "/" + value];
      if (!size) continue;
      if (found && (found.width !== size.width || found.height !== size.height)) return null;
      found = size;
    }
  }
  return found;
}
function fitToWidget(w, v) {
  const step = Number(w.step) || 1, lo = Number.isFinite(Number(w.min)) && w.min !== null ? Number(w.min) : 1;
  const hi = Number.isFinite(Number(w.max)) && w.max !== null ? Number(w.max) : Infinity;
  return Math.max(lo, Math.min(hi, Math.round(v / step) * step));
}
function applyModelSize(d, widgets) {
  // called by addNode for a fresh node: width/height pairs start at the model's native size
  const size = modelSizeInGraph();
  if (!size) return null;
  let changed = false;
  for (const [wn, hn] of SIZE_WIDGETS) {
    const wi = (d.inputs || []).find((i) => i.name === wn && i.widget && i.widget.kind === "int");
    const hi = (d.inputs || []).find((i) => i.name === hn && i.widget && i.widget.kind === "int");
    if (!wi || !hi) continue;
    widgets[wn] = fitToWidget(wi.widget, size.width);
    widgets[hn] = fitToWidget(hi.widget, size.height);
    changed = true;
  }
  return changed ? size : null;
}
