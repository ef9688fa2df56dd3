// fluxwire canvas, subgraph edits: rename, add and remove declared sockets; make a subgraph from the
// selection; unpack an instance; save to the library and add library entries from the palette.
// Joined after subgraphs.js (which holds the view of an opened subgraph and its helpers).

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
function dialogButtons(okAction, okText, onOk, cancelText = "Cancel") {
  // the dialog's button row: an action and a button that closes it; without okAction only the closing one
  const bar = el("div", "fw-dialog-buttons");
  if (okAction) {
    const ok = el("button", "fw-btn fw-primary", okText);
    ok.type = "button";
    ok.dataset.action = okAction;
    ok.addEventListener("click", onOk);
    bar.appendChild(ok);
  }
  const cancel = el("button", "fw-btn", cancelText);
  cancel.type = "button";
  cancel.dataset.action = "dialog-cancel";
  cancel.addEventListener("click", closeDialog);
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

// ------------------------------------------------------------------ wiring
root.querySelector('[data-action="make-subgraph"]').addEventListener("click", makeSubgraphDialog);
dialog.addEventListener("pointerdown", (e) => e.stopPropagation());  // no panning or selecting through the dialog
dialog.addEventListener("dblclick", (e) => e.stopPropagation());
dialog.addEventListener("keydown", (e) => { if (e.key === "Escape") closeDialog(); e.stopPropagation(); });
