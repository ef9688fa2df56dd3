// fluxwire canvas, arranging a big graph: groups (Ctrl+G around the selection; drag the title to move the
// group with the nodes inside, drag the corner to resize, double-click the title to rename, the swatch
// changes its colour, right-click the title for the group menu), collapsed nodes (Alt+C), framing the selection
// ("."), and Space-drag to pan over nodes. Groups are the document's `groups` ({title, bounding [x, y, w, h],
// color, font_size, pinned}); a pinned group is neither moved nor resized. Collapse is `ui.collapsed`.

const GROUP_COLORS = ["#3f5a7a", "#4a6b3f", "#7a5a3f", "#6b3f6b", "#7a3f3f", "#3f6b6b", "#555a66"];
const GROUP_PAD = 24, GROUP_HEAD = 40;
let spaceHeld = false;

function groupsOf() {
  if (!Array.isArray(graph.groups)) graph.groups = [];
  return graph.groups;
}
function validGroup(g) {
  return g && Array.isArray(g.bounding) && g.bounding.length >= 4 && g.bounding.every(Number.isFinite);
}
function renderGroups() {
  // put first in the node layer, so groups lie behind the nodes
  const boxes = document.createDocumentFragment();
  groupsOf().forEach((g, i) => {
    if (!validGroup(g)) return;
    const box = el("div", "fw-group");
    box.dataset.group = String(i);
    Object.assign(box.style, { left: g.bounding[0] + "px", top: g.bounding[1] + "px",
      width: g.bounding[2] + "px", height: g.bounding[3] + "px" });
    if (g.color) box.style.setProperty("--fw-group-color", String(g.color));
    if (g.pinned === true) box.dataset.pinned = "1";
    const head = el("div", "fw-group-title");
    if (Number.isFinite(g.font_size) && g.font_size > 0) head.style.fontSize = Math.max(8, Math.min(96, g.font_size)) + "px";
    head.appendChild(el("span", "fw-group-name", g.title || ""));
    const swatch = el("button", "fw-group-swatch");
    swatch.type = "button";
    swatch.dataset.action = "group-color";
    swatch.title = "Change the group's colour";
    head.appendChild(swatch);
    box.appendChild(head);
    if (g.pinned !== true) {
      const grip = el("div", "fw-group-resize");
      grip.title = "Resize the group";
      box.appendChild(grip);
    }
    boxes.appendChild(box);
  });
  nodesLayer.prepend(boxes);
}
function nodeBox(n) {
  const e = nodeEls.get(n.id);
  return [n.ui.pos[0], n.ui.pos[1], e ? e.offsetWidth : NODE_WIDTH, e ? e.offsetHeight : 120];
}
function groupSelected() {
  const ids = [...selected].filter((id) => !BOUNDARY_IDS.includes(id));
  if (!ids.length) { setStatus("select nodes first: Ctrl+G puts a group around them"); return; }
  const before = snapshot();
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const id of ids) {
    const b = nodeBox(nodeById(id));
    x0 = Math.min(x0, b[0]); y0 = Math.min(y0, b[1]); x1 = Math.max(x1, b[0] + b[2]); y1 = Math.max(y1, b[1] + b[3]);
  }
  const colour = GROUP_COLORS[groupsOf().length % GROUP_COLORS.length];
  groupsOf().push({ title: "Group", bounding: [Math.round(x0 - GROUP_PAD), Math.round(y0 - GROUP_HEAD), Math.round(x1 - x0 + 2 * GROUP_PAD),
    Math.round(y1 - y0 + GROUP_HEAD + GROUP_PAD)], color: colour });
  renderAll();
  commit(before);
}
function nodesInside(g) {
  const [gx, gy, gw, gh] = g.bounding;
  return graph.nodes.filter((n) => {
    const b = nodeBox(n);
    return b[0] >= gx && b[1] >= gy && b[0] + b[2] <= gx + gw && b[1] + b[3] <= gy + gh;
  });
}
function dragGroup(e, index, resize) {
  const g = groupsOf()[index];
  if (!validGroup(g)) return;
  if (g.pinned === true) { setStatus("the group is pinned: unpin it (right-click its title) to move or resize it"); return; }
  const before = snapshot();
  const start = [e.clientX, e.clientY], box0 = g.bounding.slice();
  const inside = resize ? [] : nodesInside(g).filter((n) => !n.ui.pinned).map((n) => [n, n.ui.pos.slice()]);
  const points = resize ? [] : pointsInside(g.bounding);  // reroute points inside travel too (reroutes.js)
  const redraw = new Set([...inside.map(([n]) => n.id), ...wireEndsThrough(points)]);
  const boxEl = nodesLayer.querySelector('.fw-group[data-group="' + index + '"]');
  let moved = false;
  gesture((m) => {
    const dx = (m.clientX - start[0]) / view.zoom, dy = (m.clientY - start[1]) / view.zoom;
    if (Math.abs(dx) + Math.abs(dy) > 1) moved = true;
    if (resize) {
      g.bounding = [box0[0], box0[1], Math.max(80, Math.round(box0[2] + dx)), Math.max(60, Math.round(box0[3] + dy))];
    } else {
      g.bounding = [Math.round(box0[0] + dx), Math.round(box0[1] + dy), box0[2], box0[3]];
      for (const [n, p] of inside) {
        n.ui.pos = [Math.round(p[0] + dx), Math.round(p[1] + dy)];
        const ne = nodeEls.get(n.id);
        if (ne) placeNode(ne, n.ui.pos);
      }
      moveReroutes(points, dx, dy);
      if (redraw.size) drawWires(redraw);
    }
    Object.assign(boxEl.style, { left: g.bounding[0] + "px", top: g.bounding[1] + "px", width: g.bounding[2] + "px", height: g.bounding[3] + "px" });
  }, () => { if (moved) { drawWires(); commit(before); } });  // a full pass: wires led around the moved nodes
}
function renameGroup(index) {
  const g = groupsOf()[index];
  const head = nodesLayer.querySelector('.fw-group[data-group="' + index + '"] .fw-group-name');
  if (!g || !head) return;
  const input = el("input", "fw-title-edit");
  input.value = g.title || "";
  input.dataset.field = "group-title";
  head.replaceWith(input);
  input.focus();
  input.select();
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    const before = snapshot();
    if (keep) g.title = input.value.trim().slice(0, 200);
    renderAll();
    if (keep) commit(before);
    root.focus({ preventScroll: true });
  };
  input.addEventListener("keydown", (k) => { if (k.key === "Enter") finish(true); else if (k.key === "Escape") finish(false); k.stopPropagation(); });
  input.addEventListener("blur", () => finish(true));
}
function recolourGroup(index) {
  const g = groupsOf()[index];
  if (!g) return;
  const before = snapshot();
  const at = GROUP_COLORS.indexOf(g.color);
  g.color = GROUP_COLORS[(at + 1) % GROUP_COLORS.length];
  renderAll();
  commit(before);
}
function editGroup(index, change) {
  // one undoable change of a group (the menu's items)
  const g = groupsOf()[index];
  if (!g) return;
  const before = snapshot();
  change(g);
  renderAll();
  commit(before);
}
function removeGroup(index) {
  // the group goes, its nodes stay where they are
  const before = snapshot();
  groupsOf().splice(index, 1);
  renderAll();
  commit(before);
}
function fitGroupToNodes(g) {
  // around the nodes inside it now, with the same margins Ctrl+G leaves
  const inside = nodesInside(g);
  if (!inside.length) return;
  const boxes = inside.map(nodeBox);
  const x0 = Math.min(...boxes.map((b) => b[0])), y0 = Math.min(...boxes.map((b) => b[1]));
  const x1 = Math.max(...boxes.map((b) => b[0] + b[2])), y1 = Math.max(...boxes.map((b) => b[1] + b[3]));
  g.bounding = [Math.round(x0 - GROUP_PAD), Math.round(y0 - GROUP_HEAD), Math.round(x1 - x0 + 2 * GROUP_PAD),
    Math.round(y1 - y0 + GROUP_HEAD + GROUP_PAD)];
}
function groupMenuItems(index) {
  // the right-click menu of a group's title (menus.js)
  const g = groupsOf()[index];
  if (!validGroup(g)) return;
  const pinned = g.pinned === true;
  menuItem("group-rename", "Rename group", () => renameGroup(index));
  menuItem("group-color", "Next colour", () => recolourGroup(index));
  menuItem("group-pin", pinned ? "Unpin group" : "Pin group", () => editGroup(index, (x) => { if (pinned) delete x.pinned; else x.pinned = true; }));
  menuItem("group-select", "Select the nodes inside", () => select(nodesInside(g).map((n) => n.id)));
  menuItem("group-fit", "Fit the group to its nodes", () => editGroup(index, fitGroupToNodes), pinned || !nodesInside(g).length);
  menuItem("group-remove", "Remove group (keep its nodes)", () => removeGroup(index));
}
function toggleCollapse() {
  const ids = [...selected].filter((id) => !BOUNDARY_IDS.includes(id));
  if (!ids.length) return;
  const before = snapshot();
  const fold = ids.some((id) => !nodeById(id).ui.collapsed);  // mixed selection: collapse them all
  for (const id of ids) {
    const n = nodeById(id);
    if (fold) n.ui.collapsed = true; else delete n.ui.collapsed;
    rerenderNode(id);
  }
  drawWires();
  commit(before);
}

// Space held: a drag anywhere pans (also over nodes); capture runs before the editing gestures
stage.addEventListener("pointerdown", (e) => {
  const grip = e.target.closest(".fw-group-resize"), head = e.target.closest(".fw-group-title");
  if (e.button === 0 && (grip || head) && !e.target.closest("button, input") && !spaceHeld) {
    e.preventDefault();
    e.stopImmediatePropagation();
    root.focus({ preventScroll: true });
    dragGroup(e, Number((grip || head).closest(".fw-group").dataset.group), !!grip);
    return;
  }
  if (!spaceHeld || e.button !== 0) return;
  e.preventDefault();
  e.stopImmediatePropagation();
  const start = [e.clientX, e.clientY], v0 = { x: view.x, y: view.y };
  root.classList.add("fw-panning");
  gesture((m) => {
    view.x = v0.x + m.clientX - start[0];
    view.y = v0.y + m.clientY - start[1];
    applyView();
  }, () => root.classList.remove("fw-panning"));
}, true);
stage.addEventListener("click", (e) => {
  const sw = e.target.closest('[data-action="group-color"]');
  if (sw) recolourGroup(Number(sw.closest(".fw-group").dataset.group));
});
stage.addEventListener("dblclick", (e) => {
  const head = e.target.closest(".fw-group-title");
  if (!head || e.target.closest("button, input")) return;
  e.stopImmediatePropagation();
  renameGroup(Number(head.closest(".fw-group").dataset.group));
}, true);
root.addEventListener("keydown", (e) => {
  if (isTyping(e.target)) return;
  const mod = e.ctrlKey || e.metaKey, k = e.key.toLowerCase();
  if (e.key === " " && !e.repeat && !e.target.closest("button, select")) { spaceHeld = true; root.classList.add("fw-space"); e.preventDefault(); }
  else if (mod && k === "g" && !e.shiftKey) { e.preventDefault(); groupSelected(); }
  else if (e.altKey && k === "c") { e.preventDefault(); toggleCollapse(); }
  else if (e.key === "." && !mod) { e.preventDefault(); fitView(selected.size ? selected : null); }
});
root.addEventListener("keyup", (e) => { if (e.key === " ") { spaceHeld = false; root.classList.remove("fw-space"); } });
root.addEventListener("blur", () => { spaceHeld = false; root.classList.remove("fw-space"); });

// ------------------------------------------------------------------ zoom controls and Ctrl+F find
const ZOOM_MIN = 0.15, ZOOM_MAX = 3;
function showZoom() {
  const label = root.querySelector('[data-role="zoom-level"]');
  if (label) label.textContent = Math.round(view.zoom * 100) + " %";
}
function zoomBy(factor, absolute) {
  // around the centre of the stage
  const r = stage.getBoundingClientRect();
  const px = r.width / 2, py = r.height / 2;
  const zoom = Math.max(ZOOM_MIN, Math.min(ZOOM_MAX, absolute ? factor : view.zoom * factor));
  view.x = px - (px - view.x) * zoom / view.zoom;
  view.y = py - (py - view.y) * zoom / view.zoom;
  view.zoom = zoom;
  applyView();
}
part("zoom").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-action]");
  if (!b) return;
  if (b.dataset.action === "zoom-in") zoomBy(1.25);
  else if (b.dataset.action === "zoom-out") zoomBy(0.8);
  else if (b.dataset.action === "zoom-reset") zoomBy(1, true);
});
const findBox = part("find"), findInput = findBox.querySelector("input"), findCount = part("find-count");
let findHits = [], findAt = -1;
function findMatches(q) {
  const words = searchWords(q);
  if (!words.length) return [];
  return graph.nodes.filter((n) => {
    const hay = searchWords([n.id, n.type, n.ui.title || "", declOf(n).display_name || ""].join(" "));
    return words.every((w) => hay.some((x) => x.startsWith(w)));
  }).map((n) => n.id);
}
function showFound() {
  for (const e of nodesLayer.querySelectorAll('[data-found="1"]')) delete e.dataset.found;
  for (const id of findHits) { const e = nodeEls.get(id); if (e) e.dataset.found = "1"; }
  findCount.textContent = findHits.length ? (findAt + 1) + "/" + findHits.length : "none";
}
function jumpTo(id) {
  const n = nodeById(id), e = nodeEls.get(id);
  if (!n) return;
  const r = stage.getBoundingClientRect();
  const w = e ? e.offsetWidth : NODE_WIDTH, h = e ? e.offsetHeight : 120;
  view.x = r.width / 2 - (n.ui.pos[0] + w / 2) * view.zoom;
  view.y = r.height / 2 - (n.ui.pos[1] + h / 2) * view.zoom;
  applyView();
  select([id]);
}
function openFind() {
  findBox.hidden = false;
  findInput.focus();
  findInput.select();
}
function closeFind() {
  findBox.hidden = true;
  findHits = [];
  showFound();
  root.focus({ preventScroll: true });
}
findInput.addEventListener("input", () => {
  findHits = findMatches(findInput.value);
  findAt = findHits.length ? 0 : -1;
  showFound();
  if (findHits.length) jumpTo(findHits[0]);
});
findInput.addEventListener("keydown", (e) => {
  e.stopPropagation();
  if (e.key === "Escape") { e.preventDefault(); closeFind(); }
  else if (e.key === "Enter" && findHits.length) {
    e.preventDefault();
    findAt = (findAt + (e.shiftKey ? findHits.length - 1 : 1)) % findHits.length;
    showFound();
    jumpTo(findHits[findAt]);
  }
});
root.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === "f" && !e.target.closest("textarea")) {
    e.preventDefault();
    openFind();
  }
});
