// fluxwire canvas, part 3 of 5: selection, add/delete/duplicate/copy/paste/rename, view, palette,
// pointer gestures and keyboard shortcuts.

// ------------------------------------------------------------------ selection, add, delete, duplicate
function select(ids, additive) {
  if (!additive) { selected.clear(); selectReroutes([]); }  // a fresh selection drops the reroute points too
  for (const id of ids) selected.add(id);
  for (const [id, e] of nodeEls) {
    if (selected.has(id)) e.dataset.selected = "1"; else delete e.dataset.selected;
  }
  refreshToolbar();
  propertiesChanged();  // the properties panel follows the selection (properties.js)
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
  for (const i of d.inputs) {
    // a file list (models, pictures): start with a file that exists rather than a default that is not there
    const w = i.widget;
    if (w && w.kind === "combo" && (w.folder || w.upload) && Array.isArray(w.choices) && w.choices.length &&
        !w.choices.includes(widgets[i.name])) widgets[i.name] = likeliestFile(i, w.choices);
  }
  const sized = applyModelSize(d, widgets);  // width/height follow the model in the graph (node_tools.js)
  if (sized) setStatus("size set to " + sized.width + "\u00d7" + sized.height + ", native for " + sized.model);
  const at = freeSpot(pos, isResultNode(d) ? [RESULT_WIDTH, 120 + RESULT_PICTURE_ROOM] : null);
  const node = { id: nextId(), type, version: d.version, widgets, ui: { pos: [Math.round(at[0]), Math.round(at[1])] } };
  graph.nodes.push(node);
  const e = renderNode(node);
  nodeEls.set(node.id, e);
  addNodeElement(e);  // nodes.js
  if (sizeResultNode(node, e)) rerenderNode(node.id);  // room for its picture (node_tools.js)
  select([node.id]);
  commit(before);
  return node.id;
}
function likeliestFile(inp, choices) {
  // the file whose name shares most words with the input's name and default ("t5_name" -> "...-t5.safetensors")
  const words = new Set(searchWords(inp.name + " " + (inp.widget.default || "")).filter((w) => w.length > 1 && w !== "name" && w !== "safetensors"));
  let best = choices[0], score = -1;
  for (const c of choices) {
    const k = searchWords(c).filter((w) => words.has(w)).length;
    if (k > score) { best = c; score = k; }
  }
  return best;
}
function deleteSelected() {
  // the selected nodes and reroute points, in one undo step (a deleted point's wire stays)
  for (const id of BOUNDARY_IDS) selected.delete(id);  // an opened subgraph's inputs and outputs stay
  if (!selected.size && !selectedReroutes.size) return;
  const before = snapshot();
  removeReroutes(new Set(selectedReroutes));
  graph.nodes = graph.nodes.filter((n) => !selected.has(n.id));
  graph.links = graph.links.filter((l) => !selected.has(l.from) && !selected.has(l.to));
  selected.clear();
  renderAll();
  commit(before);
}
function insertCopies(nodes, links, place, inbound, routes, inboundRoutes) {
  // add copies of `nodes` (new ids) and of the `links` between them; `place(pos)` gives each new position;
  // `inbound` links (from nodes outside the copy) are kept too when their source still exists; `routes`: the
  // reroute points the links between them pass through (reroutes.js copiedRoutes), copied and selected too;
  // `inboundRoutes[k]`: those of inbound link k, copied the same way so the pasted link looks like the copied one
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
  for (const [k, l] of (inbound || []).entries()) {
    if (!map[l.to] || !nodeById(l.from)) continue;
    graph.links.push({ from: l.from, output: l.output, to: map[l.to], input: l.input });
    if (inboundRoutes) routes = withRoutes(routes, inboundRoutes[k]);  // its reroute points too (reroutes.js)
  }
  const points = pasteRoutes(routes, map, place);
  selected = new Set(Object.values(map));
  renderAll();
  selectReroutes(points);
  commit(before);
}
function selectedPart() {
  const links = graph.links.filter((l) => selected.has(l.from) && selected.has(l.to)).map(clone);
  const inbound = graph.links.filter((l) => !selected.has(l.from) && selected.has(l.to)).map(clone);
  return { nodes: graph.nodes.filter((n) => selected.has(n.id) && !BOUNDARY_IDS.includes(n.id)).map(clone), links,
           inbound, routes: copiedRoutes(links), inboundRoutes: inbound.map((l) => copiedRoutes([l])) };
}
function duplicateSelected() {
  if (!selected.size) return;
  const part = selectedPart();
  insertCopies(part.nodes, part.links, (p) => [p[0] + 30, p[1] + 30], null, part.routes);
}
let clipboard = null;
let pointerWorld = null;
function copySelected() { if (selected.size) clipboard = Object.assign(selectedPart(), { tab: activeTabId() }); }
function paste(withInputs) {
  // Ctrl+V: the copies and the links between them; Ctrl+Shift+V: also the links feeding them from outside
  if (!clipboard || !clipboard.nodes.length) return;
  const x0 = Math.min(...clipboard.nodes.map((n) => n.ui.pos[0])), y0 = Math.min(...clipboard.nodes.map((n) => n.ui.pos[1]));
  const at = pointerWorld || [x0 + 40, y0 + 40];
  insertCopies(clipboard.nodes, clipboard.links, (p) => [Math.round(at[0] + p[0] - x0), Math.round(at[1] + p[1] - y0)],
    withInputs && clipboard.tab === activeTabId() ? clipboard.inbound : null,  // other tab: only links between the copies
    clipboard.routes, clipboard.inboundRoutes);
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
// ------------------------------------------------------------------ view
function toWorld(clientX, clientY) {
  const r = stage.getBoundingClientRect();
  return [(clientX - r.left - view.x) / view.zoom, (clientY - r.top - view.y) / view.zoom];
}
function fitView(only) {
  // frame the whole workflow, or only the nodes whose ids are in the set `only` ("." frames the selection)
  const r = stage.getBoundingClientRect();
  const shown = only && only.size ? graph.nodes.filter((n) => only.has(n.id)) : graph.nodes;
  if (!shown.length || r.width < 10 || r.height < 10) { applyView(); return; }
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const n of shown) {
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
  // ranked by match quality over names, ComfyUI class names, categories, descriptions (search.js)
  return rankNodes(q, catalogue.nodes || [], paletteWire ? (d) => !!inputTaking(d, paletteWire.type) : null);
}
function paletteItem(d, showCategory) {
  const item = el("div", "fw-palette-item");
  item.dataset.nodeType = d.type;
  if (d.subgraph && d.subgraph.library) item.dataset.library = d.subgraph.library;
  item.tabIndex = 0;
  item.appendChild(el("span", "fw-palette-name", d.display_name));
  const side = showCategory ? d.category : d.pack;
  if (side) item.appendChild(el("span", "fw-palette-pack", side));
  item.title = d.description || d.type;
  return item;
}
function buildPalette() {
  paletteList.textContent = "";
  paletteActive = 0;
  const q = paletteSearch.value.trim();
  if (paletteWire) {
    const head = el("div", "fw-palette-category", "nodes that take a " + paletteWire.type);
    head.dataset.role = "palette-filter";
    paletteList.appendChild(head);
  }
  if (q || paletteWire) {  // a ranked flat list while searching or placing a node for a released wire
    const found = paletteMatches(q);
    if (!found.length) paletteList.appendChild(el("div", "fw-palette-empty", "no node matches"));
    for (const d of found.slice(0, 200)) paletteList.appendChild(paletteItem(d, true));
    markActive();
    return;
  }
  const groups = {};
  for (const d of catalogue.nodes || []) (groups[d.category] = groups[d.category] || []).push(d);
  for (const c of Object.keys(groups).sort()) {
    paletteList.appendChild(el("div", "fw-palette-category", c));
    for (const d of groups[c].sort((a, b) => a.display_name.localeCompare(b.display_name))) paletteList.appendChild(paletteItem(d, false));
  }
  markActive();
}
let paletteActive = 0;
let paletteWire = null;  // {from, output, type} while placing a node for a wire released on the empty canvas
function markActive() {
  // the item Enter adds: moved with the arrow keys, shown with data-active="1"
  const items = [...paletteList.querySelectorAll(".fw-palette-item")];
  if (!items.length) return;
  paletteActive = Math.max(0, Math.min(items.length - 1, paletteActive));
  items.forEach((it, i) => { if (i === paletteActive) it.dataset.active = "1"; else delete it.dataset.active; });
  items[paletteActive].scrollIntoView({ block: "nearest" });
}
function pickPaletteItem(item) {
  // add the picked node; for a released wire, wire it in too (one undo step)
  const wire = paletteWire;
  const before = snapshot();
  closePalette();
  const id = addPaletteItem(item, paletteAt);
  if (!id || !wire) return id;
  const n = nodeById(id), d = n && declOf(n);
  const inp = d && inputTaking(d, wire.type);
  if (!inp || wouldCycle(wire.from, id)) return id;
  graph.links.push({ from: wire.from, output: wire.output, to: id, input: inp.name });
  rerenderNode(id);
  select([id]);
  drawWires();
  if (undoStack.length && undoStack[undoStack.length - 1] === before) undoStack.pop();
  commit(before);
  return id;
}
function freeSpot(pos, size) {
  // step down-right from `pos` until a new node (`size` [w, h], or a small one) would not sit on top of another
  let [x, y] = pos;
  const [sw, sh] = size || [NODE_WIDTH, 80];
  for (let i = 0; i < 60; i++) {
    const hit = graph.nodes.some((n) => {
      const e = nodeEls.get(n.id);
      const w = e ? e.offsetWidth : NODE_WIDTH, h = e ? e.offsetHeight : 120;
      return x < n.ui.pos[0] + w && x + sw > n.ui.pos[0] && y < n.ui.pos[1] + h && y + sh > n.ui.pos[1];
    });
    if (!hit) break;
    x += 40; y += 40;
  }
  return [x, y];
}
let paletteAt = null;
function openPalette(worldPos, wire) {
  const r = stage.getBoundingClientRect();
  paletteAt = worldPos || toWorld(r.left + r.width / 3, r.top + r.height / 5);
  paletteWire = wire || null;
  palette.hidden = false;
  if (wire) {  // next to the released wire's end, inside the stage
    const sx = paletteAt[0] * view.zoom + view.x, sy = paletteAt[1] * view.zoom + view.y;
    palette.style.left = Math.max(4, Math.min(r.width - 340, sx)) + "px";
    palette.style.top = Math.max(4, Math.min(r.height - 300, sy)) + "px";
  } else { palette.style.left = ""; palette.style.top = ""; }
  paletteSearch.value = "";
  buildPalette();
  paletteSearch.focus();
}
function closePalette() { palette.hidden = true; paletteWire = null; }
paletteSearch.addEventListener("input", buildPalette);
paletteSearch.addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    const item = paletteList.querySelector('.fw-palette-item[data-active="1"]') || paletteList.querySelector(".fw-palette-item");
    if (item) pickPaletteItem(item);
  } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    paletteActive += e.key === "ArrowDown" ? 1 : -1;
    markActive();
  } else if (e.key === "Escape") closePalette();
});
paletteList.addEventListener("click", (e) => {
  const item = e.target.closest(".fw-palette-item");
  if (!item) return;
  pickPaletteItem(item);
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
function dragSelection(e) {
  // the selected nodes (pinned ones stay) and the reroute points moving with them (reroutes.js), one undo step
  const start = [e.clientX, e.clientY];
  const movingNodes = [...selected].map(nodeById).filter((n) => n && !n.ui.pinned).map((n) => [n, nodeEls.get(n.id), n.ui.pos.slice()]);
  const moving = new Set(movingNodes.map(([n]) => n.id));
  const points = pointsMovingWith(moving);
  const redraw = new Set([...moving, ...wireEndsThrough(points)]);
  const before = snapshot();
  let moved = false, pending = null;
  const frame = () => {  // at most one layout per painted frame, however many pointer events arrive
    if (!pending) return;
    const [dx, dy] = pending;
    pending = null;
    for (const [n, ne, o] of movingNodes) {
      n.ui.pos = [Math.round(o[0] + dx), Math.round(o[1] + dy)];
      if (ne) placeNode(ne, n.ui.pos);
    }
    moveReroutes(points, dx, dy);
    drawWires(redraw);
  };
  gesture((m) => {
    const dx = (m.clientX - start[0]) / view.zoom, dy = (m.clientY - start[1]) / view.zoom;
    if (Math.abs(dx) + Math.abs(dy) > 1) moved = true;
    if (!pending) requestAnimationFrame(frame);
    pending = [dx, dy];
  }, () => {
    if (pending) frame();
    if (!moved) return;
    drawWires();  // other wires may now be led around the moved nodes, or no longer need to (routing.js)
    commit(before);
  });
}
function startWire(e, fromSocket, fromNode, via) {
  // `via`: the wire starts at that reroute point (reroutes.js) and the new link passes through it
  const temp = document.createElementNS(SVGNS, "path");
  temp.setAttribute("class", "fw-wire fw-wire-temp");
  temp.setAttribute("stroke", typeColor(fromSocket.dataset.socketType));
  wires.appendChild(temp);
  const a = (via && reroutePos(via)) || socketPos(fromSocket);
  const outType = fromSocket.dataset.socketType;
  const lit = markTargets(outType, fromNode);
  gesture((m) => {
    temp.setAttribute("d", curve(a, toWorld(m.clientX, m.clientY)));
  }, (u) => {
    temp.remove();
    unmarkTargets(lit);
    const target = document.elementFromPoint(u.clientX, u.clientY);
    const nodeEl = target && target.closest(".fw-node");
    if ((!nodeEl || !root.contains(nodeEl)) && target && stage.contains(target) && !palette.contains(target)) {
      // released on the empty canvas: pick a node that takes this wire, placed here and wired
      if (Math.hypot(u.clientX - e.clientX, u.clientY - e.clientY) > 8) {
        openPalette(toWorld(u.clientX, u.clientY), { from: fromNode, output: fromSocket.dataset.socketName, type: outType });
      }
      return;
    }
    if (!nodeEl || !root.contains(nodeEl)) return;
    let inSock = target.closest('[data-socket-dir="in"]');
    if (!inSock) {
      const row = target.closest(".fw-row-in");
      inSock = row ? row.querySelector('[data-socket-dir="in"]') : null;
    }
    if (!inSock) {  // dropped on a node: the first free input that accepts this type
      const candidates = [...nodeEl.querySelectorAll('[data-socket-dir="in"]')]
        .filter((s) => canConnect(outType, s.dataset.socketType));
      inSock = candidates.find((s) => !linkInto(nodeEl.dataset.nodeId, s.dataset.socketName)) || candidates[0];
      if (!inSock) { showToast("refused: " + nodeEl.dataset.nodeType + " has no input that takes a " + outType, u.clientX, u.clientY); return; }
    }
    const reason = connect(fromNode, fromSocket.dataset.socketName, outType, nodeEl.dataset.nodeId,
      inSock.dataset.socketName, inSock.dataset.socketType, via);
    if (reason) showToast("refused: " + reason, u.clientX, u.clientY);
  });
}
function markTargets(outType, fromNode) {
  // while a wire is dragged, the inputs it may end on carry data-compatible="1" (the rest are dimmed by CSS)
  root.classList.add("fw-wiring");
  const lit = [];
  for (const s of nodesLayer.querySelectorAll('[data-socket-dir="in"]')) {
    const owner = s.closest(".fw-node");
    if (owner && owner.dataset.nodeId !== fromNode && canConnect(outType, s.dataset.socketType)) { s.dataset.compatible = "1"; lit.push(s); }
  }
  return lit;
}
function unmarkTargets(lit) {
  root.classList.remove("fw-wiring");
  for (const s of lit) delete s.dataset.compatible;
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
    dragSelection(e);
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
      selectReroutes(reroutesInBox(box), true);
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
  else if (mod && k === "v") { e.preventDefault(); paste(e.shiftKey); }
  else if (mod && k === "a") { e.preventDefault(); select(graph.nodes.map((n) => n.id)); selectReroutes(routeIndex().byId.keys()); }
  else if (e.key === "Escape") { closePalette(); select([]); }
});
