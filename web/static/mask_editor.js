// fluxwire canvas: the mask editor. Paint (or erase) a mask over a LoadImage picture with a round brush,
// clear or invert it, and save: the server writes "<picture>-mask.png" into the input folder with the mask
// as its alpha channel (transparent = paint), and the node's picture choice switches to it.

function maskEditorButton(set, current) {
  const button = el("button", "fw-mask-open", "\u270e");
  button.type = "button";
  button.title = "paint a mask over this picture (saved as <name>-mask.png, transparent = to paint)";
  button.dataset.maskEditor = "open";
  button.addEventListener("click", () => openMaskEditor(current(), set).catch(reportError));
  return button;
}

function loadPng(base64) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser cannot show this picture"));
    img.src = "data:image/png;base64," + base64;
  });
}

async function openMaskEditor(name, set) {
  const res = await server.input_picture(name);
  if (!res || !res.ok) { showBanner("error", (res && res.message) || "cannot open the picture"); return; }
  const [picture, initial] = await Promise.all([loadPng(res.picture), loadPng(res.mask)]);
  const w = res.width, h = res.height;
  // the mask lives in its own canvas: white = paint, transparent = keep
  const mask = el("canvas");
  mask.width = w;
  mask.height = h;
  const mctx = mask.getContext("2d");
  mctx.drawImage(initial, 0, 0);
  toAlphaMask(mctx, w, h);

  const overlay = el("div", "fw-mask-editor");
  overlay.dataset.maskEditor = "dialog";
  const bar = el("div", "fw-mask-bar");
  const view = el("canvas", "fw-mask-view");
  view.width = w;
  view.height = h;
  view.dataset.maskEditor = "canvas";
  const vctx = view.getContext("2d");
  let mode = "paint";
  const modeButtons = {};
  const size = el("input");
  size.type = "range";
  size.min = "1";
  size.max = String(Math.max(8, Math.round(Math.max(w, h) / 4)));
  size.value = String(Math.max(2, Math.round(Math.max(w, h) / 24)));
  size.dataset.maskEditor = "brush";
  size.title = "brush size (pixels of the picture)";

  function redraw() {
    vctx.globalCompositeOperation = "source-over";
    vctx.clearRect(0, 0, w, h);
    vctx.drawImage(picture, 0, 0);
    const tint = el("canvas");
    tint.width = w;
    tint.height = h;
    const t = tint.getContext("2d");
    t.drawImage(mask, 0, 0);
    t.globalCompositeOperation = "source-in";
    t.fillStyle = "rgba(255, 40, 80, 0.55)";
    t.fillRect(0, 0, w, h);
    vctx.drawImage(tint, 0, 0);
  }
  function button(label, action, title) {
    const b = el("button", "fw-mask-button", label);
    b.type = "button";
    b.dataset.maskEditor = action;
    b.title = title;
    bar.appendChild(b);
    return b;
  }
  function setMode(m) {
    mode = m;
    for (const [k, b] of Object.entries(modeButtons)) b.classList.toggle("fw-active", k === m);
  }
  modeButtons.paint = button("Paint", "paint", "paint the area to repaint");
  modeButtons.erase = button("Erase", "erase", "erase painted areas");
  modeButtons.paint.addEventListener("click", () => setMode("paint"));
  modeButtons.erase.addEventListener("click", () => setMode("erase"));
  bar.appendChild(size);
  button("Clear", "clear", "remove the whole mask").addEventListener("click", () => {
    mctx.clearRect(0, 0, w, h);
    redraw();
  });
  button("Invert", "invert", "swap painted and kept areas").addEventListener("click", () => {
    const data = mctx.getImageData(0, 0, w, h);
    for (let i = 3; i < data.data.length; i += 4) data.data[i] = 255 - data.data[i];
    for (let i = 0; i < data.data.length; i += 4) data.data[i] = data.data[i + 1] = data.data[i + 2] = 255;
    mctx.putImageData(data, 0, 0);
    redraw();
  });
  const save = button("Save", "save", "save the picture with this mask as <name>-mask.png");
  button("Cancel", "cancel", "close without saving").addEventListener("click", () => overlay.remove());
  setMode("paint");

  function at(e) {
    const r = view.getBoundingClientRect();
    return [(e.clientX - r.left) * w / r.width, (e.clientY - r.top) * h / r.height];
  }
  function dab(from, to) {
    mctx.globalCompositeOperation = mode === "paint" ? "source-over" : "destination-out";
    mctx.strokeStyle = mctx.fillStyle = "#fff";
    mctx.lineWidth = Number(size.value);
    mctx.lineCap = "round";
    mctx.beginPath();
    mctx.moveTo(from[0], from[1]);
    mctx.lineTo(to[0], to[1]);
    mctx.stroke();
    mctx.beginPath();
    mctx.arc(to[0], to[1], Number(size.value) / 2, 0, 2 * Math.PI);
    mctx.fill();
    mctx.globalCompositeOperation = "source-over";
    redraw();
  }
  let last = null;
  view.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    view.setPointerCapture(e.pointerId);
    last = at(e);
    dab(last, last);
  });
  view.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = at(e);
    dab(last, p);
    last = p;
  });
  const stop = () => { last = null; };
  view.addEventListener("pointerup", stop);
  view.addEventListener("pointercancel", stop);

  save.addEventListener("click", async () => {
    // send the mask as a grey picture: white = paint
    const out = el("canvas");
    out.width = w;
    out.height = h;
    const o = out.getContext("2d");
    o.fillStyle = "#000";
    o.fillRect(0, 0, w, h);
    o.drawImage(mask, 0, 0);
    const data = out.toDataURL("image/png").replace(/^data:[^,]*,/, "");
    const saved = await server.save_mask({ name, mask: data });
    if (!saved || !saved.ok) { showBanner("error", (saved && saved.message) || "cannot save the mask"); return; }
    overlay.remove();
    setCatalogue(await server.refresh_catalogue(null));
    set(saved.name);
    renderAll();
    setStatus(saved.message);
  });

  const frame = el("div", "fw-mask-frame");
  frame.appendChild(view);
  overlay.appendChild(bar);
  overlay.appendChild(frame);
  root.appendChild(overlay);
  redraw();
}

function toAlphaMask(ctx, w, h) {
  // a grey mask picture (white = paint) -> white pixels whose alpha is the mask value
  const data = ctx.getImageData(0, 0, w, h);
  for (let i = 0; i < data.data.length; i += 4) {
    data.data[i + 3] = data.data[i];
    data.data[i] = data.data[i + 1] = data.data[i + 2] = 255;
  }
  ctx.putImageData(data, 0, 0);
}
