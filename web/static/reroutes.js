// fluxwire canvas, reroute points: dots a wire passes through on its way from an output to an input, to lead
// wires around a big graph. They are canvas data in the document's `extra` (docs/workflow-format.md, "Canvas
// data in `extra`"), never engine nodes: `extra.reroutes` = [{id, pos, parent}] (parent: the point before it
// on the way from the output) and `extra.link_reroutes` = {"NODE/INPUT": the last point of that link}. Links
// from the same output may share points (fan-out), as ComfyUI's native reroutes' parentId chains do.
// Alt+click a wire or its menu's "Insert reroute point" adds one; drag a dot to move it; Shift+drag a dot to
// lead another wire from the same output through it; Delete (or the dot's menu) removes it, the wire stays.
// As in ComfyUI, points are part of the selection (click, Shift/Ctrl+click, box select): they move with the
// selected nodes (editing.js dragSelection), are deleted with them and copied/pasted with the nodes they sit
// between; a point on a wire whose two ends move, moves too, so a block keeps its shape.

const rerouteLayer = el("div", "fw-reroutes");
rerouteLayer.dataset.role = "reroutes";
world.appendChild(rerouteLayer);
let selectedReroutes = new Set();
let shownRoutes = "";  // the reroute data the dots and wires show (to notice undo/redo changing only them)

function routeData(create) {
  // the document's reroute lists; `create`: make them when missing (only when something is added)
  const extra = graph.extra || (create ? (graph.extra = {}) : {});
  if (create) {
    if (!Array.isArray(extra.reroutes)) extra.reroutes = [];
    if (!extra.link_reroutes || typeof extra.link_reroutes !== "object") extra.link_reroutes = {};
  }
  return { points: Array.isArray(extra.reroutes) ? extra.reroutes : [],
           links: extra.link_reroutes && typeof extra.link_reroutes === "object" ? extra.link_reroutes : {} };
}
function validPoint(p) {
  return p && typeof p.id === "string" && Array.isArray(p.pos) && p.pos.length >= 2 && p.pos.every(Number.isFinite);
}
function routeKey(l) { return l.to + "/" + l.input; }
const NO_ROUTES = { byId: new Map(), links: {} };
function routeIndex() {
  // {byId: Map id -> point, links: key -> last point id}, built once per drawing pass
  const data = routeData(false);
  if (!data.points.length) return NO_ROUTES;
  const byId = new Map();
  for (const p of data.points) if (validPoint(p)) byId.set(p.id, p);
  return { byId, links: data.links };
}
function chainOf(l, routes) {
  // the points link `l` passes through, from the output's side; stale or looping entries end the chain
  const r = routes || routeIndex();
  const chain = [], seen = new Set();
  let p = r.byId.get(r.links[routeKey(l)]);
  while (p && !seen.has(p.id)) {
    seen.add(p.id);
    chain.unshift(p);
    p = p.parent == null ? null : r.byId.get(p.parent);
  }
  return chain;
}
function segment(a, b) {
  // one piece of a wire, shaped like every other wire (nodes.js curve): leaves and arrives horizontally
  const dx = Math.max(40, Math.abs(b[0] - a[0]) / 2);
  return " C" + (a[0] + dx) + "," + a[1] + " " + (b[0] - dx) + "," + b[1] + " " + b[0] + "," + b[1];
}
function wirePath(l, pa, pb, routes, around) {
  // `around`: the node boxes (routing.js), to lead each piece of the wire around the nodes it would cross
  return routedWire(l, [pa, ...chainOf(l, routes).map((p) => p.pos), pb], around);
}
function markVia(path, l, routes) {
  // data-via on a wire: the ids of the points it passes through, in order (a test and script hook)
  const via = chainOf(l, routes).map((p) => p.id).join(" ");
  if ((path.dataset.via || "") === via) return;  // (dragging: most wires keep theirs, no attribute write)
  if (via) path.dataset.via = via; else delete path.dataset.via;
}
function linksThrough(id, routes) {
  const r = routes || routeIndex();
  return graph.links.filter((l) => chainOf(l, r).some((p) => p.id === id));
}
function endsOf(links) {
  const ids = new Set();
  for (const l of links) { ids.add(l.from); ids.add(l.to); }
  return ids;
}

// ------------------------------------------------------------------ the dots
function drawReroutePoints() {
  // one dot per point some live link passes through, coloured like the wire
  const routes = routeIndex();
  rerouteLayer.textContent = "";
  const colour = new Map();
  for (const l of graph.links) {
    for (const p of chainOf(l, routes)) {
      if (colour.has(p.id)) continue;
      const s = socketEl(l.from, "out", l.output);
      colour.set(p.id, s ? typeColor(s.dataset.socketType) : "#bdbdbd");
    }
  }
  for (const [id, c] of colour) {
    const p = routes.byId.get(id);
    const dot = el("div", "fw-reroute");
    dot.dataset.reroute = id;
    if (selectedReroutes.has(id)) dot.dataset.selected = "1";
    dot.style.left = p.pos[0] + "px";
    dot.style.top = p.pos[1] + "px";
    dot.style.setProperty("--fw-reroute-color", c);
    dot.title = "reroute point: drag to move, Shift+drag to lead another wire from it, Delete removes it";
    rerouteLayer.appendChild(dot);
  }
  shownRoutes = routesText();
}
function routesText() {
  const extra = graph.extra || {};
  return JSON.stringify([extra.reroutes || null, extra.link_reroutes || null]);
}
function syncReroutes() {
  // after undo/redo (renderChanged): when the points changed, redraw the wires through them (now or before)
  if (routesText() === shownRoutes) return;
  const ids = endsOf(graph.links.filter((l) => chainOf(l).length));
  for (const p of wireEls.values()) if (p.dataset.via) { ids.add(p.dataset.from); ids.add(p.dataset.to); }
  if (ids.size) drawWires(ids);
  drawReroutePoints();
}
function selectReroutes(ids, additive) {
  if (!additive) selectedReroutes = new Set();
  for (const id of ids) selectedReroutes.add(id);
  for (const d of rerouteLayer.children) {
    if (selectedReroutes.has(d.dataset.reroute)) d.dataset.selected = "1"; else delete d.dataset.selected;
  }
}
function reroutesInBox(box) {
  // the dots inside a rectangle in page coordinates [left, top, right, bottom] (box select)
  const hits = [];
  for (const d of rerouteLayer.children) {
    const b = d.getBoundingClientRect(), x = (b.left + b.right) / 2, y = (b.top + b.bottom) / 2;
    if (x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3]) hits.push(d.dataset.reroute);
  }
  return hits;
}

// ------------------------------------------------------------------ moving with the selection, copying
function movingPoints(points) {
  // what a drag needs per point: the point, its dot and where it started
  return [...points].map((p) => ({ point: p, origin: p.pos.slice(),
    dot: rerouteLayer.querySelector('.fw-reroute[data-reroute="' + CSS.escape(p.id) + '"]') }));
}
function pointsMovingWith(nodeIds) {
  // the selected points, and every point on a wire whose two ends are among the moving nodes
  const routes = routeIndex(), found = new Set();
  for (const id of selectedReroutes) if (routes.byId.has(id)) found.add(routes.byId.get(id));
  for (const l of graph.links) {
    if (nodeIds.has(l.from) && nodeIds.has(l.to)) for (const p of chainOf(l, routes)) found.add(p);
  }
  return movingPoints(found);
}
function pointsInside(bounding) {
  // the points lying inside a group's box (they travel with the group)
  const [x, y, w, h] = bounding;
  return movingPoints([...routeIndex().byId.values()].filter((p) => p.pos[0] >= x && p.pos[0] <= x + w && p.pos[1] >= y && p.pos[1] <= y + h));
}
function moveReroutes(moving, dx, dy) {
  for (const m of moving) {
    m.point.pos = [Math.round(m.origin[0] + dx), Math.round(m.origin[1] + dy)];
    if (m.dot) { m.dot.style.left = m.point.pos[0] + "px"; m.dot.style.top = m.point.pos[1] + "px"; }
  }
}
function wireEndsThrough(moving) {
  // the nodes at the ends of the wires passing through these points (their wires are redrawn)
  if (!moving.length) return new Set();
  const ids = new Set(moving.map((m) => m.point.id)), routes = routeIndex();
  return endsOf(graph.links.filter((l) => chainOf(l, routes).some((p) => ids.has(p.id))));
}
function copiedRoutes(links) {
  // for the clipboard: the points the copied links (both ends copied) pass through, and which link ends where
  const routes = routeIndex(), points = new Map(), last = {};
  for (const l of links) {
    const chain = chainOf(l, routes);
    if (!chain.length) continue;
    for (const p of chain) points.set(p.id, clone(p));
    last[routeKey(l)] = chain[chain.length - 1].id;
  }
  return { points: [...points.values()], links: last };
}
function withRoutes(a, b) {
  // two copiedRoutes results as one (a point two links share is taken once)
  if (!a || !b) return a || b;
  const points = new Map(a.points.map((p) => [p.id, p]));
  for (const p of b.points) points.set(p.id, p);
  return { points: [...points.values()], links: Object.assign({}, a.links, b.links) };
}
function pasteRoutes(routes, map, place) {
  // the copies' points: new ids, placed as their nodes (`map`: old node id -> new id); returns the new ids
  if (!routes || !routes.points.length) return [];
  const data = routeData(true), ids = {};
  for (const p of routes.points) {
    ids[p.id] = newRerouteId();
    data.points.push({ id: ids[p.id], pos: place(p.pos), parent: null });
  }
  for (const p of routes.points) {
    const copy = data.points.find((q) => q.id === ids[p.id]);
    copy.parent = p.parent != null && ids[p.parent] ? ids[p.parent] : null;
  }
  for (const [key, lastId] of Object.entries(routes.links)) {
    const cut = key.lastIndexOf("/"), to = map[key.slice(0, cut)];
    if (to && ids[lastId]) data.links[to + "/" + key.slice(cut + 1)] = ids[lastId];
  }
  return Object.values(ids);
}

// ------------------------------------------------------------------ editing
function newRerouteId() {
  const taken = new Set(routeData(false).points.map((p) => p && p.id));
  let k = taken.size + 1;
  while (taken.has("r" + k)) k++;
  return "r" + k;
}
function nearestOnCurve(a, b, at) {
  // the distance from `at` to the segment a -> b drawn as segment() draws it (sampled)
  const dx = Math.max(40, Math.abs(b[0] - a[0]) / 2);
  const c1 = [a[0] + dx, a[1]], c2 = [b[0] - dx, b[1]];
  let best = Infinity;
  for (let i = 0; i <= 32; i++) {
    const t = i / 32, u = 1 - t;
    const x = u * u * u * a[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t * t * t * b[0];
    const y = u * u * u * a[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t * t * t * b[1];
    best = Math.min(best, Math.hypot(x - at[0], y - at[1]));
  }
  return best;
}
function insertReroute(l, at) {
  // a new point where the wire was clicked, on the piece of the wire nearest to it: a piece between two
  // points is shared by every link through the later one, so they all pass through the new point
  const a = socketEl(l.from, "out", l.output), b = socketEl(l.to, "in", l.input);
  if (!a || !b) return null;
  const before = snapshot();
  const chain = chainOf(l);
  const stops = [socketPos(a), ...chain.map((p) => p.pos), socketPos(b)];
  let piece = 0, best = Infinity;
  for (let i = 0; i + 1 < stops.length; i++) {
    const d = nearestOnCurve(stops[i], stops[i + 1], at);
    if (d < best) { best = d; piece = i; }
  }
  const data = routeData(true);
  const point = { id: newRerouteId(), pos: [Math.round(at[0]), Math.round(at[1])], parent: piece > 0 ? chain[piece - 1].id : null };
  data.points.push(point);
  if (piece === chain.length) data.links[routeKey(l)] = point.id;
  else chain[piece].parent = point.id;
  drawWires(endsOf(linksThrough(point.id)));
  drawReroutePoints();
  selectReroutes([point.id]);
  commit(before);
  return point.id;
}
function removeReroutes(ids) {
  // the points leave the document; what passed through one now goes from the point before it (the wires stay)
  const data = routeData(false);
  for (const id of ids) {
    const gone = data.points.find((p) => p && p.id === id);
    if (!gone) continue;
    const parent = gone.parent == null ? null : gone.parent;
    for (const p of data.points) if (p && p.parent === id) p.parent = parent;
    for (const [key, last] of Object.entries(data.links)) {
      if (last !== id) continue;
      if (parent === null) delete data.links[key]; else data.links[key] = parent;
    }
    data.points.splice(data.points.indexOf(gone), 1);
  }
  for (const id of ids) selectedReroutes.delete(id);
}
function deleteReroutes(ids) {
  if (!ids.size) return;
  const before = snapshot();
  const touched = endsOf(graph.links.filter((l) => chainOf(l).some((p) => ids.has(p.id))));
  removeReroutes(ids);
  drawWires(touched);
  drawReroutePoints();
  commit(before);
}
function routeLink(to, input, via) {
  // a link (re)made into `to`.`input`: through point `via`, or straight (the key names the input's one link)
  const key = to + "/" + input;
  if (via) routeData(true).links[key] = via;
  else if (graph.extra && graph.extra.link_reroutes) delete graph.extra.link_reroutes[key];
}
function reroutePos(id) {
  const p = routeIndex().byId.get(id);
  return p ? p.pos.slice() : null;
}
function pruneReroutes() {
  // before sending: drop entries for links that are gone and points no link passes through
  const extra = graph.extra;
  if (!extra || (extra.reroutes === undefined && extra.link_reroutes === undefined)) return;
  const routes = routeIndex();
  const links = {}, used = new Set();
  for (const l of graph.links) {
    const chain = chainOf(l, routes);
    if (!chain.length) continue;
    links[routeKey(l)] = chain[chain.length - 1].id;
    for (const p of chain) used.add(p.id);
  }
  const points = [...routes.byId.values()].filter((p) => used.has(p.id))
    .map((p) => ({ id: p.id, pos: [p.pos[0], p.pos[1]], parent: p.parent != null && used.has(p.parent) ? p.parent : null }));
  if (!points.length) { delete extra.reroutes; delete extra.link_reroutes; return; }
  extra.reroutes = points;
  extra.link_reroutes = links;
}

// ------------------------------------------------------------------ gestures
stage.addEventListener("pointerdown", (e) => {
  // Alt+click on a wire: a reroute point there (before the stage's own handler pans)
  const wireEl = e.button === 0 && e.altKey && e.target.closest && e.target.closest("path.fw-wire");
  if (!wireEl || wireEl.classList.contains("fw-wire-temp")) return;
  const d = wireEl.dataset;
  const l = graph.links.find((x) => x.from === d.from && x.output === d.output && x.to === d.to && x.input === d.input);
  if (!l) return;
  e.preventDefault();
  e.stopPropagation();
  insertReroute(l, toWorld(e.clientX, e.clientY));
}, true);
rerouteLayer.addEventListener("pointerdown", (e) => {
  // click: this point alone (or, when already selected, the whole selection) is dragged; Shift/Ctrl+click adds
  // or removes it; Shift+drag leads another wire from the same output through it
  const dot = e.target.closest(".fw-reroute");
  if (!dot || e.button !== 0) return;
  e.preventDefault();
  e.stopPropagation();
  root.focus({ preventScroll: true });
  const id = dot.dataset.reroute;
  if (e.shiftKey || e.ctrlKey || e.metaKey) { clickOrFanOut(e, id); return; }
  if (!selectedReroutes.has(id)) { select([]); selectReroutes([id]); }
  dragSelection(e);
});
function clickOrFanOut(e, id) {
  // a Shift/Ctrl+click toggles the point in the selection; a Shift+drag (moved > 4 px) starts a wire from it
  const start = [e.clientX, e.clientY];
  const stop = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    window.removeEventListener("pointercancel", up);
  };
  const move = (m) => {
    if (!e.shiftKey || Math.hypot(m.clientX - start[0], m.clientY - start[1]) <= 4) return;
    stop();
    const l = linksThrough(id)[0];
    const src = l && socketEl(l.from, "out", l.output);
    if (src) startWire(e, src, l.from, id);
  };
  const up = () => {
    stop();
    if (selectedReroutes.has(id)) { selectedReroutes.delete(id); selectReroutes([], true); } else selectReroutes([id], true);
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
  window.addEventListener("pointercancel", up);
}
rerouteLayer.addEventListener("contextmenu", (e) => {
  const dot = e.target.closest(".fw-reroute");
  if (!dot) return;
  e.stopPropagation();
  const id = dot.dataset.reroute;
  selectReroutes([id]);
  openMenu(e, () => menuItem("delete-reroute", "Delete reroute point (Del)", () => deleteReroutes(new Set([id]))));
});
