// fluxwire canvas, wires led around nodes where that is cheap: a wire whose plain curve would cross another
// node runs along a corridor over or under the nodes it crosses, when that path clears every node and adds at
// most ROUTE_MAX_DETOUR of height; otherwise it stays as it is (drawn behind the nodes). Wires through
// reroute points keep the path the user gave them. Nothing is saved: the route follows the layout.

const ROUTE_MARGIN = 18, ROUTE_MAX_DETOUR = 420, ROUTE_CELL = 160, ROUTE_SAMPLES = 24;

function routeObstacles() {
  // every node's box in canvas units, filed in a grid of cells for quick lookups; read once per drawing pass
  // (drawWires calls this before it writes any path, so reading the sizes costs no extra layout)
  const cells = new Map();
  for (const n of graph.nodes) {
    const e = nodeEls.get(n.id);
    if (!e || !e.isConnected) continue;
    const b = { id: n.id, x0: n.ui.pos[0], y0: n.ui.pos[1], x1: n.ui.pos[0] + e.offsetWidth, y1: n.ui.pos[1] + e.offsetHeight };
    for (let cx = Math.floor(b.x0 / ROUTE_CELL); cx <= Math.floor(b.x1 / ROUTE_CELL); cx++) {
      for (let cy = Math.floor(b.y0 / ROUTE_CELL); cy <= Math.floor(b.y1 / ROUTE_CELL); cy++) {
        const key = cx + "," + cy;
        if (!cells.has(key)) cells.set(key, []);
        cells.get(key).push(b);
      }
    }
  }
  return cells;
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
function crossedBoxes(points, cells, ends) {
  // the boxes (other than the wire's own two nodes) some point lies inside
  const hit = new Set();
  for (const [x, y] of points) {
    for (const b of cells.get(Math.floor(x / ROUTE_CELL) + "," + Math.floor(y / ROUTE_CELL)) || []) {
      if (!ends.has(b.id) && x > b.x0 + 2 && x < b.x1 - 2 && y > b.y0 + 2 && y < b.y1 - 2) hit.add(b);
    }
  }
  return hit;
}
function routedPath(l, pa, pb, cells) {
  // the path of a wire led along a corridor over or under the nodes its curve crosses: down (or up) in the gap
  // before the first of them, level past them, back in the gap after the last; null keeps the plain curve
  if (!cells || pb[0] - pa[0] < 2 * ROUTE_MARGIN + 40) return null;  // backward or very short wires stay plain
  const ends = new Set([l.from, l.to]);
  const hit = crossedBoxes(segmentPoints(pa, pb, []), cells, ends);
  if (!hit.size) return null;
  let best = null;
  for (const side of ["over", "under"]) {
    let boxes = [...hit];
    for (let round = 0; round < 4; round++) {  // the corridor may meet other nodes: take them in and try again
      const x0 = Math.max(pa[0] + ROUTE_MARGIN, Math.min(...boxes.map((b) => b.x0)) - ROUTE_MARGIN);
      const x1 = Math.min(pb[0] - ROUTE_MARGIN, Math.max(...boxes.map((b) => b.x1)) + ROUTE_MARGIN);
      const y = Math.round(side === "over" ? Math.min(...boxes.map((b) => b.y0)) - ROUTE_MARGIN : Math.max(...boxes.map((b) => b.y1)) + ROUTE_MARGIN);
      const detour = Math.abs(y - pa[1]) + Math.abs(y - pb[1]) - Math.abs(pa[1] - pb[1]);
      if (detour > ROUTE_MAX_DETOUR || x1 <= x0) break;
      const w0 = [Math.round(x0), y], w1 = [Math.round(x1), y];
      const pts = segmentPoints(w1, pb, segmentPoints(w0, w1, segmentPoints(pa, w0, [])));
      const again = [...crossedBoxes(pts, cells, ends)].filter((b) => !boxes.includes(b));
      if (!again.length && !crossedBoxes(pts, cells, ends).size) {
        if (!best || detour < best.detour) best = { detour, d: "M" + pa[0] + "," + pa[1] + segment(pa, w0) + segment(w0, w1) + segment(w1, pb) };
        break;
      }
      if (!again.length) break;  // crosses one of its own boxes (they overlap the gaps): no cheap way round
      boxes = boxes.concat(again);
    }
  }
  return best ? best.d : null;
}
