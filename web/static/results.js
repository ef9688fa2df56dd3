// fluxwire canvas, result pictures: fitted into the node (a node with a height gives its pictures the room
// under its widgets: results.css; a result node without one gets a room of its own, autoRoomNode), and a click
// on a node's picture opens a lightbox ([data-role="lightbox"]) with zoom (wheel, − / % / +), download, and —
// when the node showed another picture before — a slider comparing this picture with the previous one. The
// previous pictures are remembered per node for this page.

const shownResults = new Map();  // node id -> [previous url, current url]
const PICTURE_GAP = 6, LINK_ROOM = 22;  // between pictures; the download link under each
const pictureSizer = typeof ResizeObserver === "function"
  ? new ResizeObserver((entries) => { for (const en of entries) fitPictures(en.target); }) : null;
function fitPictures(box) {
  // lay the pictures out in the room the node gives them (the column count that shows them largest, as
  // ComfyUI's image grid picks it), each as large as fits its cell with its aspect kept; a node without a
  // height keeps the flow layout (pictures as wide as the node)
  const owner = box.closest(".fw-node"), figs = [...box.querySelectorAll(":scope > .fw-image")];
  const sized = owner && owner.dataset.sized === "1";
  for (const f of figs) {
    const img = f.querySelector("img");
    if (!sized) { f.removeAttribute("style"); if (img) img.removeAttribute("style"); }
  }
  if (!sized || !figs.length) return;
  const W = box.clientWidth, H = box.clientHeight, n = figs.length;
  const aspectOf = (img) => img && img.naturalWidth > 0 && img.naturalHeight > 0 ? img.naturalWidth / img.naturalHeight : 1;
  const first = aspectOf(figs[0].querySelector("img"));
  let best = null;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cw = (W - PICTURE_GAP * (cols - 1)) / cols, ch = (H - PICTURE_GAP * (rows - 1)) / rows;
    const w = Math.min(cw, Math.max(0, ch - LINK_ROOM) * first);
    if (!best || w > best.w) best = { w, cols, cw, ch };
  }
  figs.forEach((f, i) => {
    const col = i % best.cols, row = Math.floor(i / best.cols);
    Object.assign(f.style, { left: col * (best.cw + PICTURE_GAP) + "px", top: row * (best.ch + PICTURE_GAP) + "px",
      width: best.cw + "px", height: best.ch + "px" });
    const img = f.querySelector("img");
    if (!img) return;
    const a = aspectOf(img), w = Math.max(1, Math.min(best.cw, Math.max(0, best.ch - LINK_ROOM) * a));
    img.style.width = Math.floor(w) + "px";
    img.style.height = Math.floor(w / a) + "px";
  });
}
function noteResults(container, images) {
  // called by showImages (nodes.js) once the container is in a node
  const owner = container.closest && container.closest(".fw-node");
  if (!owner || !images || !images.length) return;
  countPictures(container, images);
  if (pictureSizer) pictureSizer.observe(container);  // fitted again whenever the node's room changes
  for (const img of container.querySelectorAll("img")) img.addEventListener("load", () => fitPictures(container));
  fitPictures(container);
  const url = fileUrl(images[0].path);
  const seen = shownResults.get(owner.dataset.nodeId) || [null, null];
  if (seen[1] !== url) shownResults.set(owner.dataset.nodeId, [seen[1], url]);
}

// ------------------------------------------------------------------ result nodes without a height
// A result node saved without a height (documents from before result nodes got one, ComfyUI files without a
// size) is shown like a sized one: its widgets plus a picture room, so pictures arriving never make it grow.
// The room is ComfyUI's 220 px, less where another node sits below (the box stops AUTO_ROOM_GAP above it).
// With less than MIN_AUTO_ROOM free the pictures would be slivers: the room shrinks to what is free and shows
// one line, "n pictures", that opens the lightbox (data-room-short="1"); the node never covers its neighbour.
// Shown only, never written into the document: opening or running such a document leaves it unchanged (not
// dirty, nothing for undo); the same positions give the same room again. Other nodes without a height cap
// their live preview and text at the free space above the node below the same way.
// The room follows the neighbours: every drawing pass (drawWires -> fitRooms) works the rooms out again from
// the document's positions for the nodes it may concern — all of them in a full pass, in a pass for some
// moved nodes only those with a moved node in their column or whose node below moved. The widgets' height and
// the width are measured once per drawing of the node, so a drag frame reads no layout for it.
const AUTO_ROOM_GAP = 12, MIN_AUTO_ROOM = 64;
const roomsToFit = new Set(), capsToFit = new Set(), previewsCapped = new WeakSet();
const roomPlans = new WeakMap();  // node element -> {widgets, width, below, belowId, cap}: what its room was made of
let roomFrame = 0;
function autoRoomNode(e) {
  // called by decorateNode for a result node without a height: sized by fitAutoRooms once in the page
  e.dataset.sized = "1";
  e.dataset.pictureRoom = "auto";
  roomsToFit.add(e);
  if (!roomFrame) roomFrame = requestAnimationFrame(fitAutoRooms);
}
function queueRoomCap(e) {
  // a node without a height that shows text (ShowText-like output nodes): its text stops above the node below
  capsToFit.add(e);
  if (!roomFrame) roomFrame = requestAnimationFrame(fitAutoRooms);
}
function widgetsHeight(e) {
  // from the node's top to the end of its widgets (+ its padding below); null without rows
  const rows = e.querySelectorAll(":scope > .fw-row"), last = rows[rows.length - 1];
  return last ? last.offsetTop + last.offsetHeight + 2 * e.clientTop + 6 : null;
}
function fitAutoRooms() {
  roomFrame = 0;
  const grew = flushAutoRooms();
  flushAutoRooms(capsToFit);
  if (grew) drawWires();  // the boxes wires are routed around grew (routing.js)
}
function fitRooms(onlyNodes) {
  // drawWires calls this before it reads the boxes: new nodes get their room, moved neighbours move the rooms
  flushAutoRooms();
  followRooms(onlyNodes);
}
function flushAutoRooms(waiting = roomsToFit) {
  // size the nodes waiting: all layout reads first (one layout), then the heights written; true when a box
  // changed. drawWires calls it (for the picture rooms) before it reads the boxes, so a fit view and the
  // routes see the final sizes; nodes not in the page yet wait
  if (!waiting.size) return false;
  const plans = [];
  for (const e of [...waiting]) {
    if (!e.isConnected) continue;
    waiting.delete(e);
    const n = nodeById(e.dataset.nodeId), widgets = widgetsHeight(e);
    if (!n || nodeEls.get(n.id) !== e || widgets === null || hasHeight(n)) continue;  // resized meanwhile
    plans.push([e, n, widgets, e.offsetWidth]);
  }
  let changed = false;
  for (const [e, n, widgets, width] of plans) {
    const plan = { widgets, width, cap: e.dataset.pictureRoom !== "auto", below: null, belowId: null };
    roomPlans.set(e, plan);
    if (applyRoom(e, n, plan)) changed = true;
  }
  return changed;
}
function hasHeight(n) { return Array.isArray(n.ui.size) && Number.isFinite(n.ui.size[1]); }
function followRooms(onlyNodes) {
  // the rooms (and caps) a change of positions may alter, worked out again from the document (no layout read);
  // true when a box changed. `onlyNodes`: the ids moved or redrawn by this pass (all nodes when not given)
  const roomed = [], moved = [];
  for (const n of graph.nodes) {
    const e = nodeEls.get(n.id), plan = e && roomPlans.get(e);
    if (plan) roomed.push([n, e, plan]);
    if (onlyNodes && onlyNodes.has(n.id)) moved.push(n);
  }
  let changed = false;
  for (const [n, e, plan] of roomed) {
    if (onlyNodes && !onlyNodes.has(n.id) && !onlyNodes.has(plan.belowId) && !(plan.belowId && !nodeEls.has(plan.belowId)) &&
        !moved.some((m) => m.ui.pos[1] - n.ui.pos[1] < plan.below && inColumn(m, n, plan))) continue;
    if (hasHeight(n)) { roomPlans.delete(e); delete e.dataset.roomShort; continue; }  // resized: its own room now
    if (applyRoom(e, n, plan)) changed = true;
  }
  return changed;
}
function applyRoom(e, n, plan) {
  // the room (or cap) for the free space below `n` now; true when the node's height changed
  const [below, belowId] = roomBelow(n, plan.width, plan.widgets);
  plan.below = below;
  plan.belowId = belowId;
  if (plan.cap) { capRoom(e, plan.widgets, below); return false; }
  const free = below - plan.widgets - AUTO_ROOM_GAP;
  const room = free >= MIN_AUTO_ROOM ? Math.min(RESULT_PICTURE_ROOM, free) : Math.max(0, free);
  if (free >= MIN_AUTO_ROOM) delete e.dataset.roomShort; else e.dataset.roomShort = "1";
  const height = Math.round(plan.widgets + room) + "px";
  if (e.style.minHeight === height) return false;
  e.style.minHeight = height;
  return true;
}
function capRoom(e, widgets, below) {
  // a node without a height: its live preview and text may take what is free under its widgets (results.css),
  // down to nothing when the node below sits right under its widgets
  if (below === Infinity) { delete e.dataset.roomCap; return; }
  const cap = Math.max(0, Math.round(below - widgets - AUTO_ROOM_GAP - 6)) + "px";  // - their margin
  e.dataset.roomCap = "1";
  if (e.style.getPropertyValue("--fw-room-cap") !== cap) e.style.setProperty("--fw-room-cap", cap);
}
nodesLayer.addEventListener("load", (ev) => {
  // a live preview shown on a node without a height: capped from its first picture on (load does not bubble;
  // caught on the way down), and from then on following the node below like the rooms
  const pv = ev.target;
  if (!(pv instanceof HTMLImageElement) || !pv.classList.contains("fw-preview")) return;
  const e = pv.parentElement, n = e && nodeById(e.dataset.nodeId);
  if (!n || e.dataset.sized === "1" || previewsCapped.has(e) || nodeEls.get(n.id) !== e) return;
  previewsCapped.add(e);
  const widgets = widgetsHeight(e);
  if (widgets === null) return;
  const plan = { widgets, width: e.offsetWidth, cap: true, below: null, belowId: null };
  roomPlans.set(e, plan);
  applyRoom(e, n, plan);
}, true);
function nodeWidth(m) { return Array.isArray(m.ui.size) && m.ui.size[0] >= 120 ? m.ui.size[0] : NODE_WIDTH; }
function inColumn(m, n, plan) {
  // does node `m` share some of `n`'s columns (widths from the document, as renderNode sets them)
  const mx = m.ui.pos[0], x = n.ui.pos[0];
  return mx < x + plan.width && mx + nodeWidth(m) > x;
}
function roomBelow(n, width, widgets) {
  // [distance from the node's top to the top of the nearest node below its widgets that shares some of its
  // columns, that node's id] (no layout read per node)
  const [x, y] = n.ui.pos;
  let below = Infinity, belowId = null;
  for (const m of graph.nodes) {
    if (m === n) continue;
    const [mx, my] = m.ui.pos;
    if (my - y < widgets || my - y >= below || mx >= x + width || mx + nodeWidth(m) <= x) continue;
    below = my - y;
    belowId = m.id;
  }
  return [below, belowId];
}
function withShownSizes(doc) {
  // the document for a ComfyUI UI export: each shown node without a height (a result node with its picture
  // room, any other node as its widgets make it) gets the size it shows, so ComfyUI opens the boxes the user
  // saw instead of a default size. A copy: the document itself never gets these sizes. Collapsed nodes (their
  // open size is not shown) and the nodes of a subgraph level being shown keep the exporter's default
  if (navStack.length) return doc;
  const copy = JSON.parse(JSON.stringify(doc));
  for (const n of copy.nodes || []) {
    const e = nodeEls.get(n.id);
    if (!e || !e.isConnected || !n.ui || n.ui.collapsed || hasHeight(n)) continue;
    n.ui.size = [e.offsetWidth, e.offsetHeight];
  }
  return copy;
}
function countPictures(container, images) {
  // the one line a short room shows instead of its pictures (results.css hides it elsewhere); a click opens
  // the lightbox on the first picture
  const line = el("button", "fw-picture-count", "\u25a3 " + images.length + (images.length === 1 ? " picture" : " pictures"));
  line.type = "button";
  line.dataset.role = "picture-count";
  line.title = "Too little room above the node below: click to see the pictures";
  container.appendChild(line);
}

const lightbox = el("div", "fw-lightbox");
lightbox.dataset.role = "lightbox";
lightbox.hidden = true;
root.appendChild(lightbox);
let lightZoom = 1;

function closeLightbox() { lightbox.hidden = true; lightbox.textContent = ""; }
function openLightbox(nodeId, url, name) {
  lightbox.textContent = "";
  lightZoom = 1;
  const bar = el("div", "fw-lightbox-bar");
  const tool = (action, text, title, run) => {
    const b = el("button", "fw-btn", text);
    b.type = "button";
    b.dataset.action = action;
    b.title = title;
    b.addEventListener("click", run);
    bar.appendChild(b);
    return b;
  };
  const frame = el("div", "fw-lightbox-frame");
  const pic = el("img", "fw-lightbox-img");
  pic.src = url;
  pic.alt = name || "result";
  frame.appendChild(pic);
  const level = el("span", "fw-lightbox-zoom", "100 %");
  level.dataset.role = "lightbox-zoom";
  const fitWidth = () => {
    // at 100 % the whole picture fits the frame, aspect kept (a 512x1536 one as tall as the frame, not cut off);
    // zooming multiplies that size and the frame scrolls to every part of it
    const nw = pic.naturalWidth, nh = pic.naturalHeight, fw = frame.clientWidth - 16, fh = frame.clientHeight - 16;
    if (!(nw > 0 && nh > 0 && fw > 0 && fh > 0)) return;
    frame.style.setProperty("--fw-light-fit", Math.floor(Math.min(fw, fh * nw / nh)) + "px");
  };
  pic.addEventListener("load", fitWidth);
  const zoomTo = (z) => {
    lightZoom = Math.max(0.25, Math.min(16, z));
    frame.style.setProperty("--fw-light-zoom", String(lightZoom));
    level.textContent = Math.round(lightZoom * 100) + " %";
  };
  tool("lightbox-zoom-out", "\u2212", "Zoom out", () => zoomTo(lightZoom / 1.5));
  bar.appendChild(level);
  tool("lightbox-zoom-in", "+", "Zoom in", () => zoomTo(lightZoom * 1.5));
  const download = el("a", "fw-btn", "\u2b07 PNG");
  download.href = url;
  download.download = name || "fluxwire.png";
  download.dataset.action = "lightbox-download";
  bar.appendChild(download);
  const [previous] = shownResults.get(nodeId) || [null];
  if (previous && previous !== url) {
    // the previous picture under this one, uncovered up to the slider's position
    const before = el("img", "fw-lightbox-img fw-lightbox-before");
    before.src = previous;
    before.alt = "previous result";
    frame.appendChild(before);
    const slider = el("input", "fw-lightbox-slider");
    slider.type = "range";
    slider.min = "0"; slider.max = "100"; slider.value = "50";
    slider.dataset.role = "compare";
    slider.title = "left: the previous result, right: this one";
    const cut = () => before.style.clipPath = "inset(0 " + (100 - Number(slider.value)) + "% 0 0)";
    slider.addEventListener("input", cut);
    cut();
    bar.appendChild(el("span", "fw-lightbox-label", "previous"));
    bar.appendChild(slider);
    bar.appendChild(el("span", "fw-lightbox-label", "this run"));
  }
  tool("lightbox-close", "\u00d7", "Close (Escape)", closeLightbox);
  lightbox.appendChild(bar);
  lightbox.appendChild(frame);
  frame.addEventListener("wheel", (e) => { e.preventDefault(); zoomTo(lightZoom * Math.exp(-e.deltaY * 0.002)); }, { passive: false });
  lightbox.hidden = false;
  fitWidth();  // a picture already loaded (the node's own) fires no load event
  zoomTo(1);
}
nodesLayer.addEventListener("click", (e) => {
  const line = e.target.closest(".fw-picture-count");
  const img = line ? line.parentElement.querySelector(".fw-image img") : e.target.closest(".fw-image img");
  if (!img) return;
  const owner = img.closest(".fw-node");
  openLightbox(owner.dataset.nodeId, img.src, img.alt);
});
root.addEventListener("keydown", (e) => { if (e.key === "Escape" && !lightbox.hidden) { e.stopPropagation(); closeLightbox(); } }, true);
