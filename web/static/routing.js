// fluxwire canvas, wires led around nodes where that is cheap. Every piece of a wire (output → reroute point →
// … → input, each piece on its own) whose plain curve would cross a node is led round it, when that clears every
// node cheaply; otherwise it stays as it is (drawn behind the nodes). Nothing is saved: the route follows the layout.
// - a forward piece runs along a corridor over or under the nodes it crosses (at most ROUTE_MAX_DETOUR of height);
// - a backward piece (its input left of its output) or a steep one (far below/above) loops as in ComfyUI: out of
//   the output to the right, over, under or between the nodes, into the input from the left (at most
//   ROUTE_MAX_DETOUR of height and ROUTE_MAX_REACH sideways beyond its ends).
// Keeping routes right cheaply: each wire remembers the area every point its routing looked at covers (its
// "reach"). A drawing pass compares every node's box with the one the last pass saw; a wire is routed again when
// its ends are redrawn or a box that changed (before or after) overlaps its reach — after undo/redo, collapse,
// resize, delete, a drag, whichever code moved the node. The memory belongs to the wire elements (wireEls), so it
// follows a tab's kept page and starts afresh on a full redraw.

const ROUTE_MARGIN = 18, ROUTE_MAX_DETOUR = 420, ROUTE_MAX_REACH = 320, ROUTE_CELL = 160, ROUTE_SAMPLES = 24;
const ROUTE_STEP = 16, ROUTE_RADIUS = 12, ROUTE_SNUG = 6;
const routeMemos = new WeakMap();  // wireEls -> {boxes: id -> box last seen, reach: wire key -> area}

function routeObstacles(full) {
  // every node's box in canvas units, filed in a grid of cells for quick lookups, and the boxes that changed
  // since the last pass (old and new). Read once per drawing pass, before any path is written (drawWires), so
  // reading the sizes costs no extra layout. `full`: every wire is drawn anew, nothing to compare.
  const cells = new Map(), boxes = new Map();
  const memo = full ? null : routeMemos.get(wireEls);
  const changed = [];
  for (const n of graph.nodes) {
    const e = nodeEls.get(n.id);
    if (!e || !e.isConnected) continue;
    const b = { id: n.id, x0: n.ui.pos[0], y0: n.ui.pos[1], x1: n.ui.pos[0] + e.offsetWidth, y1: n.ui.pos[1] + e.offsetHeight };
    boxes.set(n.id, b);
    if (memo) {
      const old = memo.boxes.get(n.id);
      if (!old) changed.push(b);  // new (pasted, undone deletion, shown again)
      else if (!sameBox(old, b)) changed.push(old, b);  // moved, resized, collapsed
    }
    for (let cx = Math.floor(b.x0 / ROUTE_CELL); cx <= Math.floor(b.x1 / ROUTE_CELL); cx++) {
      for (let cy = Math.floor(b.y0 / ROUTE_CELL); cy <= Math.floor(b.y1 / ROUTE_CELL); cy++) {
        const key = cx + "," + cy;
        if (!cells.has(key)) cells.set(key, []);
        cells.get(key).push(b);
      }
    }
  }
  if (memo) for (const [id, old] of memo.boxes) if (!boxes.has(id)) changed.push(old);  // gone (deleted, undone)
  return { cells, changed, all: !full && !memo, memo: { boxes, reach: memo ? memo.reach : new Map() } };
}
function sameBox(a, b) { return a.x0 === b.x0 && a.y0 === b.y0 && a.x1 === b.x1 && a.y1 === b.y1; }
function routeStale(l, around) {
  // may wire `l` (not redrawn for its own ends) need another route? Its reach overlaps a box that changed
  if (around.all) return true;
  if (!around.changed.length) return false;
  const r = around.memo.reach.get(wireKey(l));
  if (!r) return true;
  return around.changed.some((b) => b.x0 <= r.x1 && b.x1 >= r.x0 && b.y0 <= r.y1 && b.y1 >= r.y0);
}
function routeKept(around) {
  // after a pass: its boxes and reaches are what the next pass compares with
  routeMemos.set(wireEls, around.memo);
}
function routedWire(l, stops, around) {
  // the path of wire `l` through `stops` (output, its reroute points, input), each piece routed on its own
  const reach = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  let d = "M" + stops[0][0] + "," + stops[0][1];
  for (let i = 0; i + 1 < stops.length; i++) {
    const ends = new Set();
    if (i === 0) ends.add(l.from);
    if (i === stops.length - 2) ends.add(l.to);
    d += routedPiece(stops[i], stops[i + 1], ends, around, reach);
  }
  if (around) around.memo.reach.set(wireKey(l), reach);
  return d;
}
function segmentPoints(a, b, out) {
  // points along one piece drawn as segment() draws it (reroutes.js)
  const dx = Math.max(40, Math.abs(b[0] - a[0]) / 2);
  const c1 = [a[0] + dx, a[1]], c2 = [b[0] - dx, b[1]];
  for (let i = 1; i < ROUTE_SAMPLES; i++) {
    const t = i / ROUTE_SAMPLES, u = 1 - t;
    out.push([u * u * u * a[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t * t * t * b[0],
              u * u * u * a[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t * t * t * b[1]]);
  }
  return out;
}
function legPoints(a, b, out) {
  // points along a straight leg, ROUTE_STEP apart, both ends included
  const n = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) / ROUTE_STEP));
  for (let i = 0; i <= n; i++) out.push([a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n]);
  return out;
}
function reached(points, reach) {
  // widen `reach` to take in `points` (every point routing looked at decides the route)
  for (const [x, y] of points) {
    if (x < reach.x0) reach.x0 = x;
    if (x > reach.x1) reach.x1 = x;
    if (y < reach.y0) reach.y0 = y;
    if (y > reach.y1) reach.y1 = y;
  }
  return points;
}
function crossedBoxes(points, cells, ends) {
  // the boxes (other than those in `ends`) some point lies inside
  const hit = new Set();
  for (const [x, y] of points) {
    for (const b of cells.get(Math.floor(x / ROUTE_CELL) + "," + Math.floor(y / ROUTE_CELL)) || []) {
      if (!ends.has(b.id) && x > b.x0 + 2 && x < b.x1 - 2 && y > b.y0 + 2 && y < b.y1 - 2) hit.add(b);
    }
  }
  return hit;
}
function routedPiece(a, b, ends, around, reach) {
  // one piece a -> b: the plain curve when it crosses nothing or there is no cheap way round
  const plain = reached(segmentPoints(a, b, []), reach);
  if (!around) return segment(a, b);
  const forward = b[0] - a[0] >= 2 * ROUTE_MARGIN + 40;
  const steep = Math.abs(b[1] - a[1]) > 2 * (b[0] - a[0]);
  if (forward) {
    if (!crossedBoxes(plain, around.cells, ends).size) return segment(a, b);
    const d = corridorPath(a, b, ends, around.cells, reach);
    if (d || !steep) return d || segment(a, b);
  } else {
    // the plain backward curve loops through its own nodes too: count them, but not the stubs at the sockets
    const inner = plain.filter((p) => Math.abs(p[0] - a[0]) + Math.abs(p[1] - a[1]) > ROUTE_MARGIN &&
                                      Math.abs(p[0] - b[0]) + Math.abs(p[1] - b[1]) > ROUTE_MARGIN);
    if (!crossedBoxes(inner, around.cells, new Set()).size) return segment(a, b);
  }
  return loopPath(a, b, ends, around.cells, reach) || segment(a, b);
}
function corridorPath(a, b, ends, cells, reach) {
  // a forward piece along a corridor over or under the nodes its curve crosses: down (or up) in the gap before
  // the first of them, level past them, back in the gap after the last; null when no cheap corridor is clear
  // (a snug margin when the usual one finds no way: rows of nodes are often closer than two margins)
  const hit = crossedBoxes(segmentPoints(a, b, []), cells, ends);
  let best = null;
  for (const [side, margin] of [["over", ROUTE_MARGIN], ["under", ROUTE_MARGIN], ["over", ROUTE_SNUG], ["under", ROUTE_SNUG]]) {
    if (best && margin === ROUTE_SNUG) break;
    let boxes = [...hit];
    for (let round = 0; round < 4; round++) {  // the corridor may meet other nodes: take them in and try again
      const x0 = Math.max(a[0] + margin, Math.min(...boxes.map((q) => q.x0)) - margin);
      const x1 = Math.min(b[0] - margin, Math.max(...boxes.map((q) => q.x1)) + margin);
      const y = Math.round(side === "over" ? Math.min(...boxes.map((q) => q.y0)) - margin : Math.max(...boxes.map((q) => q.y1)) + margin);
      const detour = Math.abs(y - a[1]) + Math.abs(y - b[1]) - Math.abs(a[1] - b[1]);
      if (detour > ROUTE_MAX_DETOUR || x1 <= x0) break;
      const w0 = [Math.round(x0), y], w1 = [Math.round(x1), y];
      const pts = reached(segmentPoints(w1, b, segmentPoints(w0, w1, segmentPoints(a, w0, []))), reach);
      const crossed = [...crossedBoxes(pts, cells, ends)];
      if (!crossed.length) {
        if (!best || detour < best.detour) best = { detour, d: segment(a, w0) + segment(w0, w1) + segment(w1, b) };
        break;
      }
      const again = crossed.filter((q) => !boxes.includes(q));
      if (!again.length) break;  // crosses one of its own boxes (they overlap the gaps): no cheap way round
      boxes = boxes.concat(again);
    }
  }
  return best ? best.d : null;
}
function loopPath(a, b, ends, cells, reach) {
  // a backward or steep piece as a rounded loop: right out of `a` to x `xr`, up/down to a level `y`, across to
  // x `xl`, to `b`'s height and into `b` from the left. The level starts over, under or between the ends (the
  // midpoint and the nearest free levels above and below it, betweenLevels) and moves past each node its legs
  // cross, the sides move out past nodes the upright legs cross; the cheapest
  // loop that clears every node (the ends' own nodes too, except along the short stubs at the sockets) wins
  const none = new Set();
  const starts = [["over", Math.round(Math.min(a[1], b[1]) - ROUTE_MARGIN)], ["under", Math.round(Math.max(a[1], b[1]) + ROUTE_MARGIN)]];
  for (const y of betweenLevels(a, b, cells, reach)) starts.push(["between", y]);
  let best = null;
  for (const [side, start] of starts) {
    let xr = a[0] + ROUTE_MARGIN, xl = b[0] - ROUTE_MARGIN, y = start;
    for (let round = 0; round < 6; round++) {
      const detour = Math.abs(y - a[1]) + Math.abs(y - b[1]) - Math.abs(a[1] - b[1]);
      if (detour > ROUTE_MAX_DETOUR || xr - a[0] > ROUTE_MAX_REACH || b[0] - xl > ROUTE_MAX_REACH) break;
      const corners = [[xr, a[1]], [xr, y], [xl, y], [xl, b[1]]];
      const stubs = reached(legPoints(corners[3], b, legPoints(a, corners[0], [])), reach);
      if (crossedBoxes(stubs, cells, ends).size) break;  // a node right at the socket: no way round
      let moved = false;
      const legs = [[corners[0], corners[1]], [corners[1], corners[2]], [corners[2], corners[3]]];
      for (let k = 0; k < 3; k++) {
        for (const q of crossedBoxes(reached(legPoints(legs[k][0], legs[k][1], []), reach), cells, none)) {
          moved = true;
          if (k === 0) xr = Math.max(xr, q.x1 + ROUTE_MARGIN);
          else if (k === 2) xl = Math.min(xl, q.x0 - ROUTE_MARGIN);
          else if (side === "over" || (side === "between" && y < (q.y0 + q.y1) / 2)) y = Math.min(y, q.y0 - ROUTE_MARGIN);
          else y = Math.max(y, q.y1 + ROUTE_MARGIN);
        }
      }
      if (!moved) {
        const cost = detour + (xr - a[0]) + (b[0] - xl);
        if (!best || cost < best.cost) best = { cost, d: roundedLegs([a, ...corners, b]) };
        break;
      }
    }
  }
  return best ? best.d : null;
}
function betweenLevels(a, b, cells, reach) {
  // the levels a loop may try between its ends: the midpoint, then the nearest free level above it and the
  // nearest below it, each ROUTE_MARGIN beside a node in the way (the midpoint's own round of moves goes one
  // way only: it missed a free gap on the other side of the node it met, or swung between two nodes that
  // nearly touch). Cheap: one straight leg tested per candidate, nearest first, stopping at one per side
  const mid = Math.round((a[1] + b[1]) / 2), lo = Math.min(a[1], b[1]), hi = Math.max(a[1], b[1]);
  const x0 = Math.min(a[0], b[0]) - ROUTE_MARGIN, x1 = Math.max(a[0], b[0]) + ROUTE_MARGIN;
  reached([[x0, lo], [x1, hi]], reach);  // the nodes found here decide which levels are tried
  const levels = new Set(), none = new Set();
  for (let cx = Math.floor(x0 / ROUTE_CELL); cx <= Math.floor(x1 / ROUTE_CELL); cx++) {
    for (let cy = Math.floor(lo / ROUTE_CELL); cy <= Math.floor(hi / ROUTE_CELL); cy++) {
      for (const q of cells.get(cx + "," + cy) || []) {
        if (q.x1 <= x0 || q.x0 >= x1) continue;
        for (const y of [q.y0 - ROUTE_MARGIN, q.y1 + ROUTE_MARGIN]) if (y > lo && y < hi && y !== mid) levels.add(Math.round(y));
      }
    }
  }
  const picked = [mid];
  let up = false, down = false;
  for (const y of [...levels].sort((p, q) => Math.abs(p - mid) - Math.abs(q - mid))) {
    if (up && down) break;
    if (y < mid ? up : down) continue;
    if (crossedBoxes(reached(legPoints([x0, y], [x1, y], []), reach), cells, none).size) continue;
    picked.push(y);
    if (y < mid) up = true; else down = true;
  }
  return picked;
}
function roundedLegs(points) {
  // straight legs through `points` with rounded corners (continues a path already at points[0])
  let d = "";
  for (let i = 1; i < points.length; i++) {
    const p = points[i], prev = points[i - 1], next = points[i + 1];
    if (!next) { d += " L" + p[0] + "," + p[1]; break; }
    const lin = Math.hypot(p[0] - prev[0], p[1] - prev[1]), lout = Math.hypot(next[0] - p[0], next[1] - p[1]);
    const r = Math.min(ROUTE_RADIUS, lin / 2, lout / 2);
    if (r < 0.5) { d += " L" + p[0] + "," + p[1]; continue; }
    const s = [p[0] - (p[0] - prev[0]) / lin * r, p[1] - (p[1] - prev[1]) / lin * r];
    const e = [p[0] + (next[0] - p[0]) / lout * r, p[1] + (next[1] - p[1]) / lout * r];
    d += " L" + s[0] + "," + s[1] + " Q" + p[0] + "," + p[1] + " " + e[0] + "," + e[1];
  }
  return d;
}
