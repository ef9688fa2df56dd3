// fluxwire canvas, part 2 of 5: drawing nodes, their widgets and the wires between them.

// ------------------------------------------------------------------ rendering
function applyView() {
  world.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.zoom + ")";
  stage.style.backgroundPosition = view.x + "px " + view.y + "px";
  stage.style.backgroundSize = 24 * view.zoom + "px " + 24 * view.zoom + "px";
  showZoom();  // the % in the zoom controls (arrange.js)
  minimapDirty();  // minimap.js
}
// Node elements live in buckets of NODES_PER_BUCKET (zero-sized boxes with size and layout containment,
// canvas.css .fw-bucket): a node that moves, or whose badge, text or size changes, makes Chrome lay out its
// bucket's nodes, not all of them (one node's transform per drag frame: ~3.5 -> ~1 ms with 500 nodes; a run
// restyling all 500: about half the style and layout time). Buckets keep the document's order, which is the
// order nodes paint in; a new node goes into the last one. Nothing reads buckets: hooks are .fw-node anywhere.
const NODES_PER_BUCKET = 50;
function addNodeElement(e) {
  let bucket = nodesLayer.lastElementChild;
  if (!bucket || !bucket.classList.contains("fw-bucket") || bucket.childElementCount >= NODES_PER_BUCKET) {
    bucket = nodesLayer.appendChild(el("div", "fw-bucket"));
  }
  bucket.appendChild(e);
}
function renderAll() {
  nodesLayer.textContent = "";
  nodeEls = new Map();
  selectedReroutes.clear();  // another document (or a rebuilt one): no reroute point stays selected (reroutes.js)
  renderGroups();
  for (const n of graph.nodes) {
    const e = renderNode(n);
    nodeEls.set(n.id, e);
    addNodeElement(e);
  }
  applyView();
  drawWires();
  refreshToolbar();
}
function renderChanged(before) {
  // after undo/redo: redraw only the nodes whose document entry differs from `before` (id -> node JSON of
  // the graph shown until now, which the elements show), drop the gone ones, add the new ones; the others
  // keep their elements (a 500-node graph then costs what the change costs)
  for (const g of nodesLayer.querySelectorAll(".fw-group")) g.remove();
  const keep = new Set(), changed = new Set();
  for (const n of graph.nodes) {
    const key = JSON.stringify(n), old = nodeEls.get(n.id);
    keep.add(n.id);
    if (old && before.get(n.id) === key) {
      if (old.dataset.selected && !selected.has(n.id)) delete old.dataset.selected;
      continue;
    }
    const e = renderNode(n);
    if (old) old.replaceWith(e); else addNodeElement(e);
    nodeEls.set(n.id, e);
    changed.add(n.id);
  }
  for (const [id, e] of [...nodeEls]) if (!keep.has(id)) { e.remove(); nodeEls.delete(id); }
  renderGroups();
  applyView();
  // wires: drop those whose link is gone, (re)draw those touching a redrawn node or new
  const links = new Set(graph.links.map(wireKey));
  for (const [key, p] of [...wireEls]) if (!links.has(key) || !p.isConnected) { p.remove(); wireEls.delete(key); }
  for (const l of graph.links) if (!wireEls.has(wireKey(l))) { changed.add(l.from); changed.add(l.to); }
  drawWires(changed);  // also when nodes only went: rooms and routes near them follow
  syncReroutes();  // undo/redo of reroute points alone (reroutes.js)
  refreshToolbar();
}
function rerenderNode(id) {
  const n = nodeById(id), old = nodeEls.get(id);
  if (!n || !old) return;
  const e = renderNode(n);
  old.replaceWith(e);
  nodeEls.set(id, e);
}
function placeNode(e, pos) {
  // a node is placed by a transform, not left/top (a 500-node drag measured 44.6-46.6 -> 48 fps on a quiet
  // machine); Chrome still lays out the nodes' layer once per moved frame for a transform change (~4-6 ms)
  e.style.transform = "translate(" + pos[0] + "px," + pos[1] + "px)";
}
function renderNode(n) {
  const d = declOf(n);
  const e = el("div", "fw-node");
  e.dataset.nodeId = n.id;
  e.dataset.nodeType = n.type;
  const st = statusById[n.id] || {};
  e.dataset.status = st.status || "idle";
  if (selected.has(n.id)) e.dataset.selected = "1";
  if (d.unknown) e.classList.add("fw-unknown");
  if (d.output_node) e.classList.add("fw-output-node");
  if (n.ui.collapsed) e.classList.add("fw-collapsed");
  if (n.mode === "bypass" || n.mode === "mute") e.dataset.mode = n.mode;
  placeNode(e, n.ui.pos);
  const width = Array.isArray(n.ui.size) && n.ui.size[0] >= 120 ? n.ui.size[0] : NODE_WIDTH;
  e.style.width = width + "px";
  if (n.ui.color) e.style.setProperty("--fw-node-color", String(n.ui.color));

  const title = el("div", "fw-title");
  title.appendChild(el("span", "fw-title-text", n.ui.title || d.display_name || n.type));
  title.appendChild(el("span", "fw-badge", ""));
  title.title = (d.description || d.type || "") + "  [" + n.id + "]";
  e.appendChild(title);
  decorateSubgraphNode(e, n);
  const bar = el("div", "fw-progress");
  bar.appendChild(el("div", "fw-progress-bar")).style.visibility = "hidden";  // empty until its node runs (run.js showLooks)
  e.appendChild(bar);
  if (d.unknown) e.appendChild(el("div", "fw-note", "unknown node type " + n.type + "; is its node pack installed?"));

  for (const out of d.outputs || []) {
    const row = el("div", "fw-row fw-row-out");
    row.appendChild(el("span", "fw-label", out.name + " \u00b7 " + out.type));
    row.appendChild(socket("out", out.name, out.type, out.description));
    e.appendChild(row);
  }
  for (const inp of d.inputs || []) {
    const row = el("div", "fw-row fw-row-in");
    row.dataset.input = inp.name;
    row.appendChild(socket("in", inp.name, inp.type, inp.description));
    const label = el("label", "fw-label", inp.label || inp.name);
    if (inp.description) label.title = inp.description;
    row.appendChild(label);
    const linked = linkInto(n.id, inp.name);
    if (inp.widget && widgetAsInput(n, inp.name)) row.dataset.widgetInput = "1";  // converted (node_tools.js)
    if (inp.widget && !linked && widgetAsInput(n, inp.name)) {
      row.appendChild(el("span", "fw-hint", inp.type + " (link one; until then " + JSON.stringify(
        Object.prototype.hasOwnProperty.call(n.widgets, inp.name) ? n.widgets[inp.name] : inp.widget.default) + ")"));
    } else if (inp.widget && !linked) {
      row.appendChild(widgetControl(n, inp));
      row.classList.add("fw-has-widget");
    } else if (inp.widget && linked) {
      row.appendChild(el("span", "fw-linked", "\u2190 linked"));
    } else if (!inp.optional && !linked) {
      row.appendChild(el("span", "fw-hint", inp.type));
    }
    e.appendChild(row);
  }
  const err = el("div", "fw-error", st.error ? (st.input ? st.input + ": " : "") + st.error : "");
  err.title = err.textContent;  // one line in the node; the whole message on hover
  err.hidden = !st.error;
  e.appendChild(err);
  const preview = el("img", "fw-preview");
  preview.alt = "live preview";
  preview.hidden = true;
  if (st.preview && String(st.preview).startsWith("data:image/")) { preview.src = st.preview; preview.hidden = false; }
  e.appendChild(preview);
  const images = el("div", "fw-images");
  e.appendChild(images);
  if (st.images) showImages(images, st.images);
  const text = el("pre", "fw-text", st.text || "");
  text.hidden = !st.text;
  e.appendChild(text);
  decorateNode(e, n);  // pin, resize corner, saved height (node_tools.js)
  if (st.status) showLooks(e, st);  // a node drawn again during or after a run keeps its bar and badge (run.js)
  watchNearView(e);
  return e;
}
function socket(dir, name, type, description) {
  const s = el("span", "fw-socket fw-socket-" + dir);
  s.dataset.socketDir = dir;
  s.dataset.socketName = name;
  s.dataset.socketType = type;
  s.style.setProperty("--fw-socket-color", typeColor(type));
  s.title = type + (description ? ": " + description : "");
  return s;
}
function showImages(container, images) {
  container.textContent = "";
  for (const im of images) {
    const url = fileUrl(im.path);
    const fig = el("figure", "fw-image");
    const img = el("img");
    img.src = url;
    img.alt = im.name || "result";
    img.addEventListener("load", () => drawWires());
    const a = el("a", "fw-download", "\u2b07 PNG");
    a.href = url;
    a.download = im.name || "fluxwire.png";
    a.title = "Download the PNG (it carries this workflow)";
    fig.appendChild(img);
    fig.appendChild(a);
    container.appendChild(fig);
  }
  noteResults(container, images);  // for the lightbox's compare-with-previous (results.js)
}

// ------------------------------------------------------------------ widgets
function uploadButton(set) {
  // a picture goes into the input folder on the server; the dropdown then offers it and selects it
  const button = el("button", "fw-upload", "\u2b06");
  button.type = "button";
  button.title = "upload a picture into the input folder";
  button.dataset.upload = "image";
  const picker = el("input");
  picker.type = "file";
  picker.accept = "image/png,image/jpeg,image/webp,image/bmp,image/gif";
  picker.hidden = true;
  picker.addEventListener("change", async () => {
    const file = picker.files[0];
    picker.value = "";
    if (!file) return;
    if (file.size > MAX_UPLOAD) { showBanner("error", file.name + ": the file is larger than 16 MB"); return; }
    const data = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
    const res = await server.upload_image({ name: file.name, data });
    if (!res || !res.ok) { showBanner("error", (res && res.message) || "upload failed"); return; }
    setCatalogue(await server.refresh_catalogue(null));
    set(res.name);
    renderAll();
    setStatus(res.message);
  });
  button.addEventListener("click", () => picker.click());
  const box = el("span", "fw-upload-box");
  box.appendChild(button);
  box.appendChild(picker);
  return box;
}

function widgetControl(n, inp) {
  const w = inp.widget;
  const has = Object.prototype.hasOwnProperty.call(n.widgets, inp.name);
  const value = has ? n.widgets[inp.name] : w.default;
  const wrap = el("span", "fw-widget fw-widget-" + w.kind);
  const set = (v) => setWidget(n.id, inp.name, v);
  let control;
  if (w.kind === "int" || w.kind === "float") {
    control = el("input");
    control.type = "number";
    if (w.min !== null && w.min !== undefined) control.min = String(w.min);
    if (w.max !== null && w.max !== undefined) control.max = String(w.max);
    control.step = w.kind === "int" ? String(w.step || 1) : String(w.step || "any");
    control.value = value === null || value === undefined ? "" : String(value);
    const parse = (text) => {
      const v = w.kind === "int" ? Number.parseInt(text, 10) : Number.parseFloat(text);
      return Number.isFinite(v) ? v : null;
    };
    if (w.display === "slider" && w.min !== null && w.max !== null && w.min !== undefined && w.max !== undefined) {
      const slider = el("input");
      slider.type = "range";
      slider.min = String(w.min); slider.max = String(w.max); slider.step = control.step;
      slider.value = control.value;
      slider.dataset.widget = inp.name + ".slider";
      slider.addEventListener("input", () => { control.value = slider.value; });
      slider.addEventListener("change", () => { const v = parse(slider.value); if (v !== null) set(v); });
      wrap.appendChild(slider);
    }
    control.addEventListener("change", () => {
      const v = parse(control.value);
      if (v === null) { control.value = value === undefined || value === null ? "" : String(value); return; }
      set(v);
    });
    wrap.appendChild(control);
    if (w.seed) {
      const dice = el("button", "fw-dice", "\u2684");
      dice.type = "button";
      dice.title = "New random seed";
      dice.dataset.action = "randomize";
      dice.addEventListener("click", () => set(randomSeed(w)));
      wrap.appendChild(dice);
      // ComfyUI's "control after generate": a seed marked random gets a new value before every run
      const mode = el("select", "fw-seed-mode");
      for (const m of SEED_MODES) { const o = el("option", null, m); o.value = m; mode.appendChild(o); }
      mode.value = seedMode(n, inp.name);
      mode.dataset.widget = inp.name + ".mode";
      mode.title = "before every run: fixed keeps this seed, increment adds 1, decrement subtracts 1, random draws a new one";
      mode.addEventListener("change", () => {
        const before = snapshot();
        n.properties = Object.assign({}, n.properties);
        n.properties.seed_modes = Object.assign({}, n.properties.seed_modes, { [inp.name]: mode.value });
        commit(before);
      });
      wrap.appendChild(mode);
    }
  } else if (w.kind === "boolean") {
    control = el("input");
    control.type = "checkbox";
    control.checked = !!value;
    control.addEventListener("change", () => set(control.checked));
    wrap.appendChild(control);
  } else if (w.kind === "combo") {
    control = el("select");
    const choices = Array.isArray(w.choices) ? w.choices.slice() : [];
    if (value !== null && value !== undefined && !choices.includes(value)) {
      const o = el("option", null, String(value) + " (missing)");
      o.value = String(value);
      control.appendChild(o);
    }
    if (!choices.length && (value === null || value === undefined)) {
      const o = el("option", null, "(nothing to choose)");
      o.value = "";
      control.appendChild(o);
    }
    for (const c of choices) {
      const o = el("option", null, c);
      o.value = c;
      control.appendChild(o);
    }
    control.value = value === null || value === undefined ? "" : String(value);
    control.addEventListener("change", () => set(control.value));
    wrap.appendChild(control);
    if (w.upload === "image") {
      wrap.appendChild(uploadButton(set));
      wrap.appendChild(maskEditorButton(set, () => control.value));
    }
  } else {
    control = el(w.multiline ? "textarea" : "input");
    if (!w.multiline) control.type = "text";
    else control.rows = 3;
    if (w.placeholder) control.placeholder = w.placeholder;
    control.value = value === null || value === undefined ? "" : String(value);
    control.addEventListener("change", () => set(control.value));
    wrap.appendChild(control);
  }
  control.dataset.widget = inp.name;
  control.name = inp.name;
  control.setAttribute("aria-label", inp.label || inp.name);
  return wrap;
}
function randomSeed(w) {
  const lo = Math.max(0, Number(w.min || 0));
  const hi = Math.min(Number(w.max === null || w.max === undefined ? 2 ** 32 - 1 : w.max), 2 ** 32 - 1);
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}
const SEED_MODES = ["fixed", "increment", "decrement", "random"];
function seedMode(n, name) {
  const modes = n.properties && n.properties.seed_modes;
  return modes && SEED_MODES.includes(modes[name]) ? modes[name] : "fixed";
}
function nextSeed(w, mode, current) {
  // ComfyUI's "control after generate", applied before the run so the document names the seed used
  const lo = Math.max(0, Number(w.min || 0));
  const hi = Math.min(Number(w.max === null || w.max === undefined ? 2 ** 32 - 1 : w.max), 2 ** 32 - 1);
  const v = Number.isFinite(Number(current)) ? Number(current) : lo;
  if (mode === "random") return randomSeed(w);
  if (mode === "increment") return v >= hi ? lo : v + 1;  // wraps around at the ends of the range
  if (mode === "decrement") return v <= lo ? hi : v - 1;
  return v;
}
function reseed() {
  // new values for seeds not marked "fixed", recorded in the document so saved files say which seed was used
  const changing = [];  // [node, input, mode]; found first, so a graph of fixed seeds costs no snapshot at Run
  for (const n of graph.nodes) {
    for (const inp of declOf(n).inputs || []) {
      const mode = inp.widget && inp.widget.seed ? seedMode(n, inp.name) : "fixed";
      if (mode !== "fixed" && !linkInto(n.id, inp.name)) changing.push([n, inp, mode]);
    }
  }
  if (!changing.length) return;
  const before = snapshot();
  for (const [n, inp, mode] of changing) {
    const has = Object.prototype.hasOwnProperty.call(n.widgets, inp.name);
    n.widgets[inp.name] = nextSeed(inp.widget, mode, has ? n.widgets[inp.name] : inp.widget.default);
    const ctl = nodeEls.get(n.id) && nodeEls.get(n.id).querySelector('[data-widget="' + CSS.escape(inp.name) + '"]');
    if (ctl) ctl.value = String(n.widgets[inp.name]);
  }
  if (before !== snapshot()) commit(before);
}
function setWidget(id, name, value) {
  const n = nodeById(id);
  if (!n) return;
  const before = snapshot();
  n.widgets[name] = value;
  if (n.widgets[name] === value) {
    const ctl = nodeEls.get(id) && nodeEls.get(id).querySelector('[data-widget="' + CSS.escape(name) + '"]');
    if (ctl && ctl.type === "number" && String(ctl.value) !== String(value)) ctl.value = String(value);
  }
  commit(before);
}

// ------------------------------------------------------------------ wires
function socketEl(id, dir, name) {
  const e = nodeEls.get(id);
  return e && e.querySelector('[data-socket-dir="' + dir + '"][data-socket-name="' + CSS.escape(name) + '"]');
}
function socketPos(s) {
  const w = world.getBoundingClientRect();
  const folded = s.closest(".fw-collapsed");  // a collapsed node's wires meet the ends of its title bar
  if (folded) {
    const t = folded.querySelector(".fw-title").getBoundingClientRect();
    return [((s.dataset.socketDir === "out" ? t.right : t.left) - w.left) / view.zoom, (t.top + t.height / 2 - w.top) / view.zoom];
  }
  const r = s.getBoundingClientRect();
  return [(r.left + r.width / 2 - w.left) / view.zoom, (r.top + r.height / 2 - w.top) / view.zoom];
}
function curve(a, b) {
  const dx = Math.max(40, Math.abs(b[0] - a[0]) / 2);
  return "M" + a[0] + "," + a[1] + " C" + (a[0] + dx) + "," + a[1] + " " + (b[0] - dx) + "," + b[1] + " " + b[0] + "," + b[1];
}
let wireEls = new Map();  // link key -> its <path>, so a drag updates only the wires of the moved nodes
function wireKey(l) { return l.from + "\u0000" + l.output + "\u0000" + l.to + "\u0000" + l.input; }
function drawWires(onlyNodes) {
  // every position is read before any path is written: one layout per call, not one per wire.
  // `onlyNodes` (a Set of ids): update just the wires touching those nodes (dragging)
  if (!(onlyNodes instanceof Set)) onlyNodes = null;  // e.g. a frame time from requestAnimationFrame(drawWires)
  fitRooms(onlyNodes);  // rooms of nodes drawn without a height, new or near moved nodes, first (results.js)
  // node boxes, read before any write, and the other wires a moved or resized node may re-route (routing.js)
  const around = routeObstacles(!onlyNodes);
  const want = [];
  for (const l of graph.links) {
    if (onlyNodes && !onlyNodes.has(l.from) && !onlyNodes.has(l.to) && !routeStale(l, around)) continue;
    const a = socketEl(l.from, "out", l.output), b = socketEl(l.to, "in", l.input);
    if (a && b) want.push([l, socketPos(a), socketPos(b), a.dataset.socketType]);
  }
  if (!onlyNodes) { wires.textContent = ""; wireEls = new Map(); }
  const routes = routeIndex();  // reroute points (reroutes.js)
  for (const [l, pa, pb, type] of want) {
    const key = wireKey(l);
    let p = wireEls.get(key);
    if (!p || !p.isConnected) {
      p = document.createElementNS(SVGNS, "path");
      p.setAttribute("class", "fw-wire");
      p.setAttribute("stroke", typeColor(type));
      p.dataset.from = l.from; p.dataset.output = l.output; p.dataset.to = l.to; p.dataset.input = l.input;
      wires.appendChild(p);
      wireEls.set(key, p);
    }
    p.setAttribute("d", wirePath(l, pa, pb, routes, around));
    markVia(p, l, routes);
  }
  routeKept(around);
  if (!onlyNodes) drawReroutePoints();
  minimapDirty();  // minimap.js
}
function wouldCycle(from, to) {
  // a link from -> to makes a cycle when `from` is already reachable from `to`
  const stack = [to], seen = new Set();
  while (stack.length) {
    const id = stack.pop();
    if (id === from) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const l of graph.links) if (l.from === id) stack.push(l.to);
  }
  return false;
}
function connect(from, output, outType, to, input, inType, via) {
  if (output === NEW_SOCKET || input === NEW_SOCKET) return connectNewSocket(from, output, outType, to, input, inType);
  const reason = from === to ? "a node cannot feed itself" : whyNot(outType, inType) ||
    (wouldCycle(from, to) ? "that link would make a cycle" : null);
  if (reason) return reason;
  const before = snapshot();
  graph.links = graph.links.filter((l) => !(l.to === to && l.input === input));
  graph.links.push({ from, output, to, input });
  routeLink(to, input, via);  // through reroute point `via`, or straight (reroutes.js)
  rerenderNode(to);
  drawWires();
  commit(before);
  return null;
}
function showToast(text, x, y) {
  toast.textContent = text;
  toast.hidden = false;
  const r = stage.getBoundingClientRect();
  toast.style.left = Math.max(4, x - r.left + 12) + "px";
  toast.style.top = Math.max(4, y - r.top + 12) + "px";
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, 4000);
}
