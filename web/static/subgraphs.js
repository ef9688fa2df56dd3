// fluxwire canvas, subgraphs: instances drawn with their declared sockets, make a subgraph from the
// selection, open an instance (breadcrumb back out), unpack it, save it to the library, library entries in
// the palette, and the run state of inner nodes summed up on their instance.
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
  // the inner widget each input feeds (the same rule as flux_core.subgraph_catalogue)
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
  if (props.run_state && props.run_state.run_id) applyRunState(props.run_state);
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

// ------------------------------------------------------------------ rename a declared input or output
function renameSocket(side, oldName, newName) {
  if (!currentDefinition() || oldName === newName) return;
  if (navStack[navStack.length - 1].scope !== "all") ownDefinition(navStack.length - 1);  // see writeBack
  const def = currentDefinition();
  const list = def[side] || [];
  if (!SOCKET_NAME.test(newName) || list.some((s) => s.name === newName)) {
    showBanner("error", "'" + newName + "' cannot be used: names are letters, digits and _, each used once");
    renderAll();
    return;
  }
  const before = snapshot();
  for (const s of list) if (s.name === oldName) s.name = newName;
  for (const l of graph.links) {
    if (side === "inputs" && l.from === BOUNDARY_IN && l.output === oldName) l.output = newName;
    if (side === "outputs" && l.to === BOUNDARY_OUT && l.input === oldName) l.input = newName;
  }
  // every instance of this definition, at the top and inside other definitions, follows the new name
  const defId = navStack[navStack.length - 1].defId;
  const containers = [rootDoc, ...Object.values(definitions())];
  for (const c of containers) {
    for (const n of c.nodes || []) {
      if (n.type !== "Subgraph" || !n.subgraph || n.subgraph.id !== defId) continue;
      if (side === "inputs" && n.widgets && Object.prototype.hasOwnProperty.call(n.widgets, oldName)) {
        n.widgets[newName] = n.widgets[oldName];
        delete n.widgets[oldName];
      }
      for (const l of c.links || []) {
        if (side === "inputs" && l.to === n.id && l.input === oldName) l.input = newName;
        if (side === "outputs" && l.from === n.id && l.output === oldName) l.output = newName;
      }
    }
  }
  renderAll();
  commit(before);
}

// ------------------------------------------------------------------ add or remove a declared input or output
function uniqueSocketName(list, base) {
  let name = SOCKET_NAME.test(base) ? base : "value", k = 2;
  const taken = new Set((list || []).map((s) => s.name));
  const stem = name;
  while (taken.has(name)) name = stem + "_" + k++;
  return name;
}
function connectNewSocket(from, output, outType, to, input, inType) {
  if (!navStack.length) return "the + socket belongs to an opened subgraph";
  if ((from === BOUNDARY_IN) === (to === BOUNDARY_OUT)) return "a new input must feed a node inside, a new output must come from one";
  const before = snapshot();
  if (navStack[navStack.length - 1].scope !== "all") ownDefinition(navStack.length - 1);
  const def = currentDefinition();
  if (to === BOUNDARY_OUT) {
    const name = uniqueSocketName(def.outputs, output);
    def.outputs = (def.outputs || []).concat([{ name, type: outType }]);
    graph.links.push({ from, output, to: BOUNDARY_OUT, input: name });
  } else {
    // a new input; one that feeds a widget is promoted: the instance shows it, with the inner value as default
    const target = nodeById(to);
    const inp = (declOf(target).inputs || []).find((i) => i.name === input);
    const name = uniqueSocketName(def.inputs, input);
    const decl = { name, type: inType };
    if (inp && inp.widget) {
      decl.widget = {};
      const v = Object.prototype.hasOwnProperty.call(target.widgets, input) ? target.widgets[input] : inp.widget.default;
      if (v !== undefined && v !== null) decl.default = v;
    }
    def.inputs = (def.inputs || []).concat([decl]);
    graph.links = graph.links.filter((l) => !(l.to === to && l.input === input));
    graph.links.push({ from: BOUNDARY_IN, output: name, to, input });
  }
  renderAll();
  commit(before);
  return null;
}
function removeSocket(side, name) {
  if (!navStack.length) return;
  const before = snapshot();
  if (navStack[navStack.length - 1].scope !== "all") ownDefinition(navStack.length - 1);
  const def = currentDefinition();
  def[side] = (def[side] || []).filter((s) => s.name !== name);
  graph.links = graph.links.filter((l) => !(side === "inputs" ? l.from === BOUNDARY_IN && l.output === name
                                                              : l.to === BOUNDARY_OUT && l.input === name));
  const defId = navStack[navStack.length - 1].defId;
  for (const c of [rootDoc, ...Object.values(definitions())]) {
    const users = new Set((c.nodes || []).filter((n) => n.type === "Subgraph" && n.subgraph && n.subgraph.id === defId).map((n) => n.id));
    if (!users.size) continue;
    for (const n of c.nodes) if (users.has(n.id) && side === "inputs" && n.widgets) delete n.widgets[name];
    c.links = (c.links || []).filter((l) => !(side === "inputs" ? users.has(l.to) && l.input === name
                                                                 : users.has(l.from) && l.output === name));
  }
  renderAll();
  commit(before);
}

// ------------------------------------------------------------------ make a subgraph from the selection
function selectionInterface(ids) {
  const inside = new Set(ids);
  const inputs = [], outputs = [], widgets = [], bySource = {}, byInner = {};
  const outType = (id, name) => { const n = nodeById(id); const o = n && (declOf(n).outputs || []).find((x) => x.name === name); return o ? o.type : "*"; };
  const inType = (id, name) => { const n = nodeById(id); const i = n && (declOf(n).inputs || []).find((x) => x.name === name); return i ? i.type : "*"; };
  for (const l of graph.links) {
    if (inside.has(l.to) && !inside.has(l.from)) {
      // one declared input per outside source, however many inner inputs it feeds (no duplicated inputs)
      const key = l.from + "\u0000" + l.output;
      if (!bySource[key]) {
        const t = inType(l.to, l.input);
        bySource[key] = { name: l.input, type: t === "*" ? outType(l.from, l.output) : t, from: l.from, output: l.output, targets: [] };
        inputs.push(bySource[key]);
      }
      bySource[key].targets.push({ to: l.to, input: l.input });
    } else if (inside.has(l.from) && !inside.has(l.to)) {
      const key = l.from + "\u0000" + l.output;
      if (!byInner[key]) { byInner[key] = { name: l.output, type: outType(l.from, l.output), from: l.from, output: l.output, consumers: [] }; outputs.push(byInner[key]); }
      byInner[key].consumers.push({ to: l.to, input: l.input });
    }
  }
  for (const id of ids) {
    const n = nodeById(id);
    for (const inp of declOf(n).inputs || []) {
      if (!inp.widget || linkInto(id, inp.name)) continue;
      const value = Object.prototype.hasOwnProperty.call(n.widgets, inp.name) ? n.widgets[inp.name] : inp.widget.default;
      widgets.push({ node: id, input: inp.name, type: inp.type, name: inp.name, value, title: n.ui.title || declOf(n).display_name || n.type });
    }
  }
  const unique = (list) => { const seen = new Set(); for (const s of list) { let name = s.name, k = 2; while (seen.has(name)) name = s.name + "_" + k++; s.name = name; seen.add(name); } };
  unique(inputs.concat(widgets));
  unique(outputs);
  return { inputs, outputs, widgets };
}
function dialogRow(parent, label, input) {
  const row = el("label", "fw-dialog-row");
  row.appendChild(el("span", "fw-dialog-label", label));
  row.appendChild(input);
  parent.appendChild(row);
  return row;
}
function textField(value, hook, key) {
  const i = el("input", "fw-dialog-input");
  i.type = "text";
  i.value = value;
  i.dataset[hook] = key;
  i.addEventListener("keydown", (k) => k.stopPropagation());
  return i;
}
function openDialog(title) {
  dialog.textContent = "";
  dialog.hidden = false;
  dialog.appendChild(el("div", "fw-dialog-title", title));
  return dialog;
}
function closeDialog() { dialog.hidden = true; dialog.textContent = ""; }
function dialogButtons(okAction, okText, onOk) {
  const bar = el("div", "fw-dialog-buttons");
  const ok = el("button", "fw-btn fw-primary", okText);
  ok.type = "button";
  ok.dataset.action = okAction;
  ok.addEventListener("click", onOk);
  const cancel = el("button", "fw-btn", "Cancel");
  cancel.type = "button";
  cancel.dataset.action = "dialog-cancel";
  cancel.addEventListener("click", closeDialog);
  bar.appendChild(ok);
  bar.appendChild(cancel);
  dialog.appendChild(bar);
}
function makeSubgraphDialog() {
  const ids = [...selected].filter((id) => !BOUNDARY_IDS.includes(id) && nodeById(id));
  if (!ids.length) { showBanner("info", "select the nodes to put into a subgraph first"); return; }
  const face = selectionInterface(ids);
  const box = openDialog("Make a subgraph of " + ids.length + " node" + (ids.length === 1 ? "" : "s"));
  dialogRow(box, "name", textField("Subgraph", "field", "subgraph-name"));
  if (face.inputs.length) box.appendChild(el("div", "fw-dialog-section", "Inputs (from links into the selection)"));
  face.inputs.forEach((s, i) => dialogRow(box, s.type, textField(s.name, "subgraphInput", String(i))));
  if (face.outputs.length) box.appendChild(el("div", "fw-dialog-section", "Outputs (to links out of the selection)"));
  face.outputs.forEach((s, i) => dialogRow(box, s.type, textField(s.name, "subgraphOutput", String(i))));
  if (face.widgets.length) box.appendChild(el("div", "fw-dialog-section", "Widgets to show on the subgraph node"));
  face.widgets.forEach((w, i) => {
    const row = el("div", "fw-dialog-row");
    const tick = el("input");
    tick.type = "checkbox";
    tick.dataset.promote = w.node + "." + w.input;
    row.appendChild(tick);
    row.appendChild(el("span", "fw-dialog-label", w.title + " \u00b7 " + w.input));
    row.appendChild(textField(w.name, "promoteName", w.node + "." + w.input));
    box.appendChild(row);
  });
  dialogButtons("subgraph-create", "Make subgraph", () => {
    const read = (sel) => dialog.querySelector(sel).value.trim();
    const name = read('[data-field="subgraph-name"]') || "Subgraph";
    face.inputs.forEach((s, i) => { s.name = read('[data-subgraph-input="' + i + '"]'); });
    face.outputs.forEach((s, i) => { s.name = read('[data-subgraph-output="' + i + '"]'); });
    const promoted = face.widgets.filter((w) => dialog.querySelector('[data-promote="' + CSS.escape(w.node + "." + w.input) + '"]').checked);
    promoted.forEach((w) => { w.name = read('[data-promote-name="' + CSS.escape(w.node + "." + w.input) + '"]'); });
    const names = face.inputs.concat(promoted).map((s) => s.name), outNames = face.outputs.map((s) => s.name);
    const bad = names.concat(outNames).find((n) => !SOCKET_NAME.test(n));
    if (bad !== undefined || new Set(names).size !== names.length || new Set(outNames).size !== outNames.length) {
      showBanner("error", "input and output names are letters, digits and _, each used once" + (bad !== undefined ? " ('" + bad + "')" : ""));
      return;
    }
    closeDialog();
    makeSubgraph(ids, name, face.inputs, face.outputs, promoted);
  });
  const first = dialog.querySelector('[data-field="subgraph-name"]');
  first.focus();
  first.select();
}
function makeSubgraph(ids, name, inputs, outputs, promoted) {
  const before = snapshot();
  const inside = new Set(ids);
  const nodes = graph.nodes.filter((n) => inside.has(n.id));
  const x0 = Math.min(...nodes.map((n) => n.ui.pos[0])), y0 = Math.min(...nodes.map((n) => n.ui.pos[1]));
  const defId = uniqueDefinitionId(name);
  const def = { name, description: "", category: "subgraphs", inputs: [], outputs: [],
                nodes: nodes.map((n) => { const c = clone(n); c.ui.pos = [c.ui.pos[0] - x0, c.ui.pos[1] - y0]; return c; }),
                links: graph.links.filter((l) => inside.has(l.from) && inside.has(l.to)).map(clone) };
  const instance = { id: nextId(), type: "Subgraph", subgraph: { id: defId }, widgets: {}, ui: { pos: [x0, y0] } };
  for (const s of inputs) {
    def.inputs.push({ name: s.name, type: s.type });
    for (const t of s.targets) def.links.push({ from: BOUNDARY_IN, output: s.name, to: t.to, input: t.input });
  }
  for (const w of promoted) {
    const decl = { name: w.name, type: w.type, widget: {} };
    if (w.value !== undefined && w.value !== null) { decl.default = w.value; instance.widgets[w.name] = w.value; }
    def.inputs.push(decl);
    def.links.push({ from: BOUNDARY_IN, output: w.name, to: w.node, input: w.input });
  }
  for (const s of outputs) {
    def.outputs.push({ name: s.name, type: s.type });
    def.links.push({ from: s.from, output: s.output, to: BOUNDARY_OUT, input: s.name });
  }
  definitions()[defId] = def;
  graph.nodes = graph.nodes.filter((n) => !inside.has(n.id));
  graph.nodes.push(instance);
  graph.links = graph.links.filter((l) => !inside.has(l.from) && !inside.has(l.to));
  for (const s of inputs) graph.links.push({ from: s.from, output: s.output, to: instance.id, input: s.name });
  for (const s of outputs) for (const c of s.consumers) graph.links.push({ from: instance.id, output: s.name, to: c.to, input: c.input });
  if (!navStack.length) graph.version = 2;
  selected = new Set([instance.id]);
  renderAll();
  commit(before);
  setStatus("made the subgraph " + name);
  return instance.id;
}

// ------------------------------------------------------------------ unpack an instance into plain nodes
function unpackInstance(id) {
  const inst = nodeById(id);
  const def = inst && definitionOf(inst);
  if (!def) { showBanner("error", "the inside of this subgraph is not available here (a file reference?)"); return; }
  const before = snapshot();
  const ref = inst.subgraph || {};
  if (ref.library && libraryDefs[ref.library]) Object.assign(definitions(), clone(libraryDefs[ref.library].definitions || {}));
  const given = {};
  for (const l of graph.links) if (l.to === id) given[l.input] = { from: l.from, output: l.output };
  const value = (name) => {
    if (inst.widgets && inst.widgets[name] !== undefined && inst.widgets[name] !== null) return inst.widgets[name];
    const d = (def.inputs || []).find((i) => i.name === name);
    return d && d.default !== undefined ? d.default : null;
  };
  const map = {}, copies = [];
  for (const n of def.nodes || []) {
    const c = clone(n);
    c.id = nextId();
    map[n.id] = c.id;
    const p = c.ui && Array.isArray(c.ui.pos) ? c.ui.pos : [0, 0];
    c.ui = Object.assign({}, c.ui, { pos: [inst.ui.pos[0] + p[0], inst.ui.pos[1] + p[1]] });
    c.widgets = Object.assign({}, c.widgets);
    graph.nodes.push(c);
    copies.push(c);
  }
  const add = [];
  const feed = (name, to, input) => {  // what the instance's input `name` gives to an inner input
    if (given[name]) add.push({ from: given[name].from, output: given[name].output, to, input });
    else if (value(name) !== null) { const t = nodeById(to); if (t) t.widgets[input] = value(name); }
  };
  for (const l of def.links || []) {
    if (l.to === BOUNDARY_OUT) continue;
    if (l.from === BOUNDARY_IN) feed(l.output, map[l.to], l.input);
    else add.push({ from: map[l.from], output: l.output, to: map[l.to], input: l.input });
  }
  for (const l of graph.links) {
    if (l.from !== id) continue;
    const src = (def.links || []).find((x) => x.to === BOUNDARY_OUT && x.input === l.output);
    if (!src) continue;
    if (src.from === BOUNDARY_IN) feed(src.output, l.to, l.input);
    else add.push({ from: map[src.from], output: src.output, to: l.to, input: l.input });
  }
  graph.nodes = graph.nodes.filter((n) => n.id !== id);
  graph.links = graph.links.filter((l) => l.from !== id && l.to !== id).concat(add);
  selected = new Set(copies.map((c) => c.id));
  renderAll();
  commit(before);
  setStatus("unpacked into " + copies.length + " node" + (copies.length === 1 ? "" : "s"));
}

// ------------------------------------------------------------------ library: save, and add from the palette
function referencedDefinitions(def, into) {
  // embedded definitions a definition uses (transitively), to travel with it into a library file
  for (const n of def.nodes || []) {
    const sid = n.subgraph && n.subgraph.id;
    if (sid && !into[sid] && definitions()[sid]) { into[sid] = clone(definitions()[sid]); referencedDefinitions(definitions()[sid], into); }
  }
  return into;
}
function saveToLibraryDialog(id) {
  const inst = nodeById(id);
  const def = inst && definitionOf(inst);
  if (!def) return;
  const box = openDialog("Save to your library");
  const suggested = String(def.name || "subgraph").toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "subgraph";
  dialogRow(box, "file name", textField(suggested, "field", "library-name"));
  dialogRow(box, "title", textField(def.name || "", "field", "library-title"));
  dialogRow(box, "category", textField(def.category || "subgraphs", "field", "library-category"));
  dialogButtons("library-save", "Save", async () => {
    const read = (k) => dialog.querySelector('[data-field="' + k + '"]').value.trim();
    const definition = clone(def);
    definition.name = read("library-title") || definition.name;
    definition.category = read("library-category") || "subgraphs";
    const res = await server.save_to_library({ name: read("library-name"), definition, definitions: referencedDefinitions(def, {}) });
    if (!res || !res.ok) { showBanner("error", (res && res.message) || "saving failed"); return; }
    closeDialog();
    setCatalogue(await server.refresh_catalogue(null));
    renderAll();
    setStatus(res.message);
  });
}
function addPaletteItem(item, pos) {
  if (!item.dataset.library) return addNode(item.dataset.nodeType, pos);
  const d = libraryDefs[item.dataset.library];
  if (!d) return null;
  const before = snapshot();
  const widgets = {};
  for (const i of d.inputs || []) if (i.widget && i.widget.default !== null && i.widget.default !== undefined) widgets[i.name] = i.widget.default;
  const at = freeSpot(pos || [40, 40]);
  const ref = { library: d.subgraph.library };
  if (d.subgraph.revision) ref.revision = d.subgraph.revision;
  if (d.subgraph.sockets) ref.sockets = clone(d.subgraph.sockets);
  const node = { id: nextId(), type: "Subgraph", subgraph: ref, widgets, ui: { pos: [Math.round(at[0]), Math.round(at[1])] } };
  graph.nodes.push(node);
  if (!navStack.length) graph.version = 2;
  renderAll();
  select([node.id]);
  commit(before);
  return node.id;
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

// ------------------------------------------------------------------ wiring
root.querySelector('[data-action="make-subgraph"]').addEventListener("click", makeSubgraphDialog);
dialog.addEventListener("pointerdown", (e) => e.stopPropagation());  // no panning or selecting through the dialog
dialog.addEventListener("dblclick", (e) => e.stopPropagation());
dialog.addEventListener("keydown", (e) => { if (e.key === "Escape") closeDialog(); e.stopPropagation(); });
