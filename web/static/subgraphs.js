// fluxwire canvas, subgraphs: instances drawn with their declared sockets, open an instance (breadcrumb
// back out), and the run state of inner nodes summed up on their instance; the edits are in
// subgraph_edits.js.
// While a subgraph is open, `graph` is a *view* of one embedded definition: its nodes plus two boundary
// nodes "@inputs" and "@outputs" whose sockets are the declared inputs and outputs; links to and from
// them are exactly the definition's boundary links. `rootDoc` holds the whole document, and every edit
// is written back into it before it is sent (documentToSend), so Python always receives one document.

const BOUNDARY_IN = "@inputs", BOUNDARY_OUT = "@outputs";
const BOUNDARY_IDS = [BOUNDARY_IN, BOUNDARY_OUT];
const NEW_SOCKET = "+";  // the empty socket on the boundary: a wire to it declares a new input or output
const VALUE_TYPES = ["INT", "FLOAT", "STRING", "BOOLEAN"];
const SOCKET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const breadcrumb = part("breadcrumb"), dialog = part("dialog");

// ------------------------------------------------------------------ the document and the open level
function theDocument() { return rootDoc || graph; }
function definitions() {
  const doc = theDocument();
  if (!doc.subgraphs || typeof doc.subgraphs !== "object") doc.subgraphs = {};
  return doc.subgraphs;
}
function currentDefinition() { return navStack.length ? definitions()[navStack[navStack.length - 1].defId] : null; }
function currentPrefix() { return navStack.map((f) => f.instance + "/").join(""); }
function pathOf(id) { return currentPrefix() + id; }
function documentToSend() {
  if (!navStack.length) return graph;
  writeBack();
  return rootDoc;
}
function writeBack() {
  // the open view -> its definition in the whole document
  const top = navStack[navStack.length - 1];
  if (top.scope !== "all" && insideOf(graph) !== top.baseline) {
    // the first change inside an instance whose subgraph other nodes use too: this node gets its own copy,
    // so an edit never reaches the other instances behind the user's back
    if (ownDefinition(navStack.length - 1)) setStatus("this node now has its own copy of the subgraph; the other nodes keep theirs");
    top.baseline = insideOf(graph);
  }
  const old = definitions()[top.defId] || { inputs: [], outputs: [] };
  const def = Object.assign({}, old);
  def.nodes = clone(graph.nodes.filter((n) => !BOUNDARY_IDS.includes(n.id)));  // copies: the view keeps changing
  def.links = clone(graph.links);
  const at = (id) => { const n = graph.nodes.find((x) => x.id === id); return n ? n.ui.pos.slice() : undefined; };
  const extra = Object.assign({}, graph.extra || {});
  extra.boundary = { inputs: at(BOUNDARY_IN), outputs: at(BOUNDARY_OUT) };
  def.extra = extra;
  definitions()[top.defId] = def;
}
function insideOf(view) {
  return JSON.stringify([view.nodes.filter((n) => !BOUNDARY_IDS.includes(n.id)), view.links]);
}
function usersOf(defId) {
  let count = 0;
  for (const c of [rootDoc || graph, ...Object.values(definitions())]) {
    for (const n of c.nodes || []) if (n.type === "Subgraph" && n.subgraph && n.subgraph.id === defId) count++;
  }
  return count;
}
function ownDefinition(level) {
  // make the definition open at `level` belong to the instance it was opened from alone (copied when shared);
  // the definition holding that instance is made its own first, so the change stays on this path
  const frame = navStack[level];
  if (usersOf(frame.defId) <= 1) return false;
  if (level > 0) ownDefinition(level - 1);
  const container = level === 0 ? rootDoc : definitions()[navStack[level - 1].defId];
  const inst = (container.nodes || []).find((n) => n.id === frame.instance);
  if (!inst) return false;
  const newId = uniqueDefinitionId(frame.defId);
  definitions()[newId] = clone(definitions()[frame.defId]);
  inst.subgraph = { id: newId };
  frame.defId = newId;
  renderBreadcrumb();
  return true;
}
function viewOfDefinition(def) {
  const nodes = clone(def.nodes || []);
  const xs = nodes.map((n) => (n.ui && Array.isArray(n.ui.pos) ? n.ui.pos[0] : 0));
  const ys = nodes.map((n) => (n.ui && Array.isArray(n.ui.pos) ? n.ui.pos[1] : 0));
  const x0 = xs.length ? Math.min(...xs) : 0, x1 = xs.length ? Math.max(...xs) : 0, y0 = ys.length ? Math.min(...ys) : 0;
  const saved = (def.extra && def.extra.boundary) || {};
  const pos = (p, fallback) => (Array.isArray(p) && p.length === 2 && p.every(Number.isFinite) ? p : fallback);
  const extra = clone(def.extra || {});
  delete extra.boundary;
  return {
    format: FORMAT, version: 2, metadata: { title: def.name || "subgraph" },
    nodes: [{ id: BOUNDARY_IN, type: BOUNDARY_IN, widgets: {}, ui: { pos: pos(saved.inputs, [x0 - 300, y0]) } },
            ...nodes,
            { id: BOUNDARY_OUT, type: BOUNDARY_OUT, widgets: {}, ui: { pos: pos(saved.outputs, [x1 + NODE_WIDTH + 80, y0]) } }],
    links: clone(def.links || []), extra,
  };
}
function leaveSubgraphs() {
  // a new document replaces everything: forget the open levels without writing back
  if (!navStack.length) return;
  navStack = [];
  rootDoc = null;
  renderBreadcrumb();
}

// ------------------------------------------------------------------ declarations of instances
function definitionOf(node) {
  const ref = node.subgraph || {};
  if (ref.id) return definitions()[ref.id] || null;
  if (ref.library && libraryDefs[ref.library]) return libraryDefs[ref.library].definition || null;
  return null;
}
function subgraphDecl(node) {
  if (BOUNDARY_IDS.includes(node.id) && navStack.length) {
    const def = currentDefinition() || { inputs: [], outputs: [] };
    const sockets = (list) => (list || []).map((s) => ({ name: s.name, type: s.type, description: s.description || "",
      label: s.name, widget: null, optional: true }))
      .concat([{ name: NEW_SOCKET, type: "*", label: "+ new", description: "drag a wire here to add one", widget: null, optional: true }]);
    if (node.id === BOUNDARY_IN) return { type: BOUNDARY_IN, display_name: "Inputs", description: "the subgraph's declared inputs", inputs: [], outputs: sockets(def.inputs), boundary: "in" };
    return { type: BOUNDARY_OUT, display_name: "Outputs", description: "the subgraph's declared outputs", inputs: sockets(def.outputs), outputs: [], boundary: "out" };
  }
  if (node.type !== "Subgraph") return null;
  const ref = node.subgraph || {};
  if (ref.library && libraryDefs[ref.library]) return libraryDefs[ref.library];
  const def = ref.id ? definitions()[ref.id] : null;
  if (def) return describeDefinition(def, ref.id);
  // a file reference (or a missing definition): the sockets it recorded, or those its links use
  const rec = ref.sockets || {};
  const inputs = Object.entries(rec.inputs || {}).map(([name, type]) => ({ name, type, widget: null, label: name, optional: true }));
  const outputs = Object.entries(rec.outputs || {}).map(([name, type]) => ({ name, type }));
  for (const l of graph.links) {
    if (l.to === node.id && !inputs.some((i) => i.name === l.input)) inputs.push({ name: l.input, type: "*", widget: null, label: l.input });
    if (l.from === node.id && !outputs.some((o) => o.name === l.output)) outputs.push({ name: l.output, type: "*" });
  }
  const what = ref.file ? "file " + ref.file : ref.library ? "library entry " + ref.library : "subgraph " + (ref.id || "?");
  return { type: "Subgraph", display_name: what, description: what, inputs, outputs, output_node: false,
           unknown: !ref.file, category: "subgraphs" };
}
function describeDefinition(def, id) {
  // the instance's sockets: declared inputs and outputs; widget rules from the declaration, completed by
  // the inner widget each input feeds (the same rule as flux_core.graph.subgraph_catalogue)
  const inner = {};
  for (const l of def.links || []) {
    if (l.from !== BOUNDARY_IN || l.to === BOUNDARY_OUT || inner[l.output]) continue;
    const n = (def.nodes || []).find((x) => x.id === l.to);
    const d = n && (n.type === "Subgraph" ? subgraphDecl(n) : defs[n.type]);
    const inp = d && (d.inputs || []).find((i) => i.name === l.input);
    if (inp && inp.widget) {
      inner[l.output] = Object.assign({}, inp.widget);
      if (n.widgets && n.widgets[l.input] !== undefined && n.widgets[l.input] !== null) inner[l.output].default = n.widgets[l.input];
    }
  }
  const kinds = { INT: "int", FLOAT: "float", STRING: "string", BOOLEAN: "boolean" };
  const inputs = (def.inputs || []).map((i) => {
    const d = { name: i.name, type: i.type, optional: !!i.optional, widget: null, description: i.description || "", label: i.label || i.name };
    if (i.widget || (inner[i.name] && VALUE_TYPES.includes(i.type))) {
      const w = Object.assign({ kind: kinds[i.type] || "string" }, inner[i.name] || {}, i.widget || {});
      if (i.widget && i.widget.choices) w.kind = "combo";
      if (i.default !== undefined && i.default !== null) w.default = i.default;
      d.widget = w;
    }
    return d;
  });
  const outputNode = (def.nodes || []).some((n) => defs[n.type] && defs[n.type].output_node);
  return { type: "Subgraph", display_name: def.name || id, category: def.category || "subgraphs",
           description: def.description || "", inputs, outputs: (def.outputs || []).map((o) => ({ name: o.name, type: o.type, description: o.description || "" })),
           output_node: outputNode, subgraph: { id } };
}

// ------------------------------------------------------------------ how instances and the boundary look
function decorateSubgraphNode(e, n) {
  if (BOUNDARY_IDS.includes(n.id) && navStack.length) {
    e.classList.add("fw-boundary");
    e.dataset.boundary = n.id === BOUNDARY_IN ? "in" : "out";
    // the declared names can be renamed here (every instance follows)
    requestAnimationFrame(() => {
      for (const row of e.querySelectorAll(n.id === BOUNDARY_IN ? ".fw-row-out" : ".fw-row-in")) {
        const s = row.querySelector("[data-socket-name]");
        const label = row.querySelector(".fw-label");
        if (!s || !label || s.dataset.socketName === NEW_SOCKET) continue;
        const side = n.id === BOUNDARY_IN ? "inputs" : "outputs";
        const remove = el("button", "fw-mini-btn", "\u00d7");
        remove.type = "button";
        remove.dataset.action = "remove-socket";
        remove.dataset.socket = s.dataset.socketName;
        remove.title = "remove this " + side.slice(0, -1) + " (from every node using the subgraph)";
        remove.addEventListener("click", (ev) => { ev.stopPropagation(); removeSocket(side, s.dataset.socketName); });
        row.appendChild(remove);
        const input = el("input", "fw-boundary-name");
        input.value = s.dataset.socketName;
        input.dataset.boundaryName = s.dataset.socketName;
        input.title = s.dataset.socketType + ": rename this " + (n.id === BOUNDARY_IN ? "input" : "output");
        input.addEventListener("change", () => renameSocket(n.id === BOUNDARY_IN ? "inputs" : "outputs", s.dataset.socketName, input.value.trim()));
        input.addEventListener("keydown", (k) => k.stopPropagation());
        label.replaceWith(input);
      }
    });
    return;
  }
  if (n.type !== "Subgraph") return;
  e.classList.add("fw-subgraph");
  const ref = n.subgraph || {};
  e.dataset.subgraph = ref.id ? "id:" + ref.id : ref.library ? "library:" + ref.library : "file:" + (ref.file || "");
  const actions = el("div", "fw-subgraph-actions");
  const button = (action, text, title, fn) => {
    const b = el("button", "fw-mini-btn", text);
    b.type = "button";
    b.dataset.action = action;
    b.title = title;
    b.addEventListener("click", (ev) => { ev.stopPropagation(); fn(); });
    actions.appendChild(b);
  };
  button("open-subgraph", "Open", "Edit inside this subgraph", () => openInstance(n.id));
  button("unpack-subgraph", "Unpack", "Replace this node by the nodes inside it", () => unpackInstance(n.id));
  if (ref.id) button("save-library", "To library", "Save this subgraph to your library", () => saveToLibraryDialog(n.id));
  e.appendChild(actions);
}

// ------------------------------------------------------------------ breadcrumb: open and leave
function renderBreadcrumb() {
  breadcrumb.textContent = "";
  breadcrumb.hidden = navStack.length === 0;
  if (!navStack.length) return;
  const crumb = (text, level) => {
    const b = el("button", "fw-crumb", text);
    b.type = "button";
    b.dataset.action = "breadcrumb";
    b.dataset.level = String(level);
    b.addEventListener("click", () => leaveTo(level));
    breadcrumb.appendChild(b);
  };
  crumb((rootDoc && rootDoc.metadata && rootDoc.metadata.title) || "workflow", 0);
  navStack.forEach((f, i) => {
    breadcrumb.appendChild(el("span", "fw-crumb-sep", "\u203a"));
    if (i === navStack.length - 1) breadcrumb.appendChild(el("span", "fw-crumb-here", f.title));
    else crumb(f.title, i + 1);
  });
  const top = navStack[navStack.length - 1];
  const users = usersOf(top.defId);
  if (users > 1) {
    // who an edit inside reaches: this node alone (it gets its own copy) or every node using the subgraph
    const scope = el("select", "fw-edit-scope");
    scope.dataset.role = "edit-scope";
    for (const [value, text] of [["one", "edits apply to this node only"], ["all", "edits apply to all " + users + " nodes using it"]]) {
      const o = el("option", null, text);
      o.value = value;
      scope.appendChild(o);
    }
    scope.value = top.scope === "all" ? "all" : "one";
    scope.addEventListener("change", () => { top.scope = scope.value; });
    breadcrumb.appendChild(scope);
  }
}
function showLevel() {
  selected.clear();
  statusById = {};
  undoStack = [];  // undo history belongs to one level
  redoStack = [];
  renderAll();
  fitView();
  renderBreadcrumb();
  if (lastRunState() && lastRunState().run_id) applyRunState(lastRunState());
  send();
}
function openInstance(id) {
  const inst = nodeById(id);
  if (!inst || inst.type !== "Subgraph") return;
  const ref = inst.subgraph || {};
  if (ref.file) { showBanner("info", "this instance uses the file " + ref.file + "; open that file to edit it"); return; }
  if (ref.library) {
    // editing a library entry here makes this instance hold its own copy; other instances keep the library's
    const lib = libraryDefs[ref.library];
    if (!lib || !lib.definition) { showBanner("error", "the library entry " + ref.library + " is not available"); return; }
    const before = snapshot();
    const defId = uniqueDefinitionId(ref.library);
    Object.assign(definitions(), clone(lib.definitions || {}));
    definitions()[defId] = clone(lib.definition);
    inst.subgraph = { id: defId };
    commit(before);
    setStatus("this node now holds its own copy of the library entry " + ref.library);
  }
  const def = definitions()[inst.subgraph.id];
  if (!def) { showBanner("error", "the subgraph " + inst.subgraph.id + " is not defined in this document"); return; }
  if (!navStack.length) rootDoc = graph; else writeBack();
  navStack.push({ instance: id, defId: inst.subgraph.id, title: inst.ui.title || def.name || inst.subgraph.id, scope: "one" });
  graph = normalise(viewOfDefinition(def));
  navStack[navStack.length - 1].baseline = insideOf(graph);
  showLevel();
}
function leaveTo(level) {
  if (!navStack.length) return;
  writeBack();
  navStack = navStack.slice(0, level);
  if (!navStack.length) { graph = rootDoc; rootDoc = null; }
  else {
    graph = normalise(viewOfDefinition(definitions()[navStack[navStack.length - 1].defId]));
    navStack[navStack.length - 1].baseline = insideOf(graph);
  }
  showLevel();
}
function uniqueDefinitionId(base) {
  const slug = String(base || "subgraph").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "subgraph";
  const taken = definitions();
  let id = slug, k = 2;
  while (taken[id]) id = slug + "-" + k++;
  return id;
}

// ------------------------------------------------------------------ run state: inner nodes on their instance
function viewNodeId(path) {
  // the node of the open level that shows `path`: itself, or the instance that holds it
  const prefix = currentPrefix();
  if (!String(path).startsWith(prefix)) return null;
  const rest = String(path).slice(prefix.length);
  const cut = rest.indexOf("/");
  return cut < 0 ? rest : rest.slice(0, cut);
}
function viewRunState(nodes) {
  const out = {}, inner = {};
  for (const [path, s] of Object.entries(nodes)) {
    const id = viewNodeId(path);
    if (id === null) continue;
    if (id === path.slice(currentPrefix().length)) out[id] = s;
    else (inner[id] = inner[id] || []).push([path, s]);
  }
  for (const [id, list] of Object.entries(inner)) out[id] = summed(list);
  return out;
}
function summed(list) {
  // one state for an instance: an error wins, then running (with the running node's progress and preview),
  // then queued; done when every inner node is done or cached, cached when all were cached
  const states = list.map(([, s]) => s);
  const failed = list.find(([, s]) => s.status === "error");
  const images = [].concat(...states.map((s) => s.images || []));
  const texts = states.map((s) => s.text).filter((t) => t);
  const seconds = states.reduce((t, s) => t + (Number.isFinite(s.seconds) ? s.seconds : 0), 0);
  const base = { images: images.length ? images : undefined, text: texts.length ? texts.join("\n") : undefined, inner: list.length };
  if (failed) return Object.assign(base, { status: "error", error: failed[0] + ": " + failed[1].error, input: failed[1].input });
  const running = states.find((s) => s.status === "running");
  if (running) return Object.assign(base, { status: "running", value: running.value, max: running.max, preview: running.preview });
  const finished = states.filter((s) => s.status === "done" || s.status === "cached").length;
  if (states.some((s) => s.status === "queued" || !s.status)) return Object.assign(base, { status: finished ? "running" : "queued" });
  if (states.every((s) => s.status === "cached")) return Object.assign(base, { status: "cached" });
  return Object.assign(base, { status: "done", seconds });
}

