// fluxwire canvas, the minimap: the whole workflow small, bottom left of the stage, with the part in view
// outlined; click or drag in it to move the view there. Toggled by the "map" button next to the zoom
// controls (remembered in localStorage). Drawn on a <canvas> at most once per frame, only while shown.

const MINIMAP_KEY = "fluxwire:minimap";
const minimap = el("div", "fw-minimap");
minimap.dataset.role = "minimap";
minimap.hidden = true;
const minimapCanvas = el("canvas");
minimap.appendChild(minimapCanvas);
stage.appendChild(minimap);
const minimapToggle = el("button", "fw-btn", "map");
minimapToggle.type = "button";
minimapToggle.dataset.action = "minimap";
minimapToggle.title = "Show or hide the minimap";
part("zoom").prepend(minimapToggle);
let minimapQueued = false;
let minimapFrame = null;  // {x0, y0, scale}: world -> minimap pixels of the last drawing
const nodeSizes = new WeakMap();  // element -> [w, h], read once per element (a redraw never forces layout per node)

function minimapDirty() {
  if (minimap.hidden || minimapQueued) return;
  minimapQueued = true;
  requestAnimationFrame(() => { minimapQueued = false; drawMinimap(); });
}
function sizeOf(n) {
  const e = nodeEls.get(n.id);
  if (!e) return [NODE_WIDTH, 120];
  let s = nodeSizes.get(e);
  if (!s) { s = [e.offsetWidth || NODE_WIDTH, e.offsetHeight || 120]; nodeSizes.set(e, s); }
  return s;
}
function visibleWorld() {
  const r = stage.getBoundingClientRect();
  return [-view.x / view.zoom, -view.y / view.zoom, (r.width - view.x) / view.zoom, (r.height - view.y) / view.zoom];
}
function minimapBounds(seen) {
  let [x0, y0, x1, y1] = seen;
  for (const n of graph.nodes) {
    const [w, h] = sizeOf(n);
    x0 = Math.min(x0, n.ui.pos[0]); y0 = Math.min(y0, n.ui.pos[1]);
    x1 = Math.max(x1, n.ui.pos[0] + w); y1 = Math.max(y1, n.ui.pos[1] + h);
  }
  const pad = 40;
  return [x0 - pad, y0 - pad, x1 + pad, y1 + pad];
}
function drawMinimap(frozen) {
  const W = minimap.clientWidth, H = minimap.clientHeight;
  if (!W || !H) return;
  const ratio = window.devicePixelRatio || 1;
  if (minimapCanvas.width !== Math.round(W * ratio)) { minimapCanvas.width = Math.round(W * ratio); minimapCanvas.height = Math.round(H * ratio); }
  const seen = visibleWorld();
  let frame = frozen;
  if (!frame) {
    const [x0, y0, x1, y1] = minimapBounds(seen);
    const scale = Math.min(W / (x1 - x0), H / (y1 - y0));
    // centred in the box
    frame = { x0: x0 - (W / scale - (x1 - x0)) / 2, y0: y0 - (H / scale - (y1 - y0)) / 2, scale };
  }
  minimapFrame = frame;
  const c = minimapCanvas.getContext("2d");
  c.setTransform(ratio, 0, 0, ratio, 0, 0);
  c.clearRect(0, 0, W, H);
  const px = (x) => (x - frame.x0) * frame.scale, py = (y) => (y - frame.y0) * frame.scale;
  for (const g of groupsOf()) {
    if (!validGroup(g)) continue;
    c.fillStyle = "rgba(120, 130, 150, 0.18)";
    c.fillRect(px(g.bounding[0]), py(g.bounding[1]), g.bounding[2] * frame.scale, g.bounding[3] * frame.scale);
  }
  for (const n of graph.nodes) {
    const [w, h] = sizeOf(n);
    c.fillStyle = selected.has(n.id) ? "#ffd54a" : (n.ui.color || "#8a93a6");
    c.fillRect(px(n.ui.pos[0]), py(n.ui.pos[1]), Math.max(2, w * frame.scale), Math.max(2, h * frame.scale));
  }
  c.strokeStyle = "#ffffff";
  c.lineWidth = 1.5;
  c.strokeRect(px(seen[0]), py(seen[1]), (seen[2] - seen[0]) * frame.scale, (seen[3] - seen[1]) * frame.scale);
  minimap.dataset.nodes = String(graph.nodes.length);
  minimap.dataset.view = seen.map(Math.round).join(",");  // the world rectangle in view (a test hook)
}
function showMinimap(on) {
  minimap.hidden = !on;
  minimapToggle.dataset.on = on ? "1" : "0";
  try { localStorage.setItem(MINIMAP_KEY, on ? "1" : "0"); } catch (_) { /* private mode: not remembered */ }
  if (on) drawMinimap();
}
function centreViewOn(wx, wy) {
  const r = stage.getBoundingClientRect();
  view.x = r.width / 2 - wx * view.zoom;
  view.y = r.height / 2 - wy * view.zoom;
  applyView();
}
minimapToggle.addEventListener("click", () => showMinimap(minimap.hidden));
minimap.addEventListener("pointerdown", (e) => {
  // click: the view centres there; drag: it follows (the map's scale stays put while dragging)
  if (e.button !== 0 || !minimapFrame) return;
  e.preventDefault();
  e.stopPropagation();
  const frame = minimapFrame;
  const move = (m) => {
    const r = minimap.getBoundingClientRect();
    centreViewOn(frame.x0 + (m.clientX - r.left) / frame.scale, frame.y0 + (m.clientY - r.top) / frame.scale);
    drawMinimap(frame);
  };
  move(e);
  gesture(move, () => minimapDirty());
});
minimap.addEventListener("wheel", (e) => e.stopPropagation());
minimap.addEventListener("dblclick", (e) => e.stopPropagation());
try { if (localStorage.getItem(MINIMAP_KEY) === "1") showMinimap(true); } catch (_) { /* no storage */ }
