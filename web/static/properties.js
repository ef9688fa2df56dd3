// fluxwire canvas, the properties panel ([data-role="properties"]) for the selected node: all its widgets
// (the same controls and rules as on the node, each with a switch to make it an input), its description,
// its inputs with their types and where each comes from, its outputs and where they go, the last run's
// state and timing, and the output it showed (pictures, text, live preview). Opened from the node menu
// ("Properties") or the toolbar; it follows the selection while open.

const propsPanel = el("div", "fw-properties");
propsPanel.dataset.role = "properties";
propsPanel.hidden = true;
stage.appendChild(propsPanel);
let propsFor = null;  // the node id shown; null: the single selected node

function openProperties(id) {
  propsFor = null;
  if (id && !selected.has(id)) select([id]);
  propsPanel.hidden = false;
  propertiesChanged();
}
function closeProperties() { propsPanel.hidden = true; propsPanel.textContent = ""; }
function propsSection(title, what) {
  propsPanel.appendChild(el("div", "fw-dialog-section", title));
  const box = el("div", "fw-props-section");
  box.dataset.propSection = what;
  propsPanel.appendChild(box);
  return box;
}
function sourceText(l) {
  const src = nodeById(l.from);
  const name = src ? src.ui.title || declOf(src).display_name || src.type : "missing node";
  return "\u2190 " + name + " [" + l.from + "]." + l.output;
}
function propertiesChanged() {
  // called after every change sent (state.js send), selection change and run update; cheap when closed
  if (propsPanel.hidden || propsPanel.contains(document.activeElement) && document.activeElement.matches("input, textarea")) return;
  const ids = [...selected].filter((x) => !BOUNDARY_IDS.includes(x));
  const n = ids.length === 1 ? nodeById(ids[0]) : null;
  propsPanel.textContent = "";
  const head = el("div", "fw-props-head");
  head.appendChild(el("span", "fw-dialog-title", n ? n.ui.title || declOf(n).display_name || n.type : "Properties"));
  const close = el("button", "fw-banner-close", "\u00d7");
  close.type = "button";
  close.dataset.action = "close-properties";
  close.title = "Close the properties panel";
  close.addEventListener("click", closeProperties);
  head.appendChild(close);
  propsPanel.appendChild(head);
  if (!n) {
    propsPanel.appendChild(el("div", "fw-palette-empty", ids.length ? "select one node to see its properties" : "select a node"));
    return;
  }
  propsPanel.dataset.nodeId = n.id;
  const d = declOf(n);
  const about = el("div", "fw-props-about");
  about.dataset.propSection = "description";
  about.appendChild(el("div", "fw-help-type", n.type + " [" + n.id + "]" + (d.category ? " \u00b7 " + d.category : "")));
  about.appendChild(el("p", "fw-help-description", d.description || "No description."));
  propsPanel.appendChild(about);

  const widgets = propsSection("Widgets", "widgets");
  const inputs = propsSection("Inputs", "inputs");
  for (const inp of d.inputs || []) {
    if (inp.name === NEW_SOCKET) continue;
    const link = linkInto(n.id, inp.name);
    if (inp.widget) {
      const row = el("div", "fw-props-row");
      row.dataset.input = inp.name;
      row.appendChild(el("span", "fw-dialog-label", inp.label || inp.name));
      if (link) row.appendChild(el("span", "fw-linked", sourceText(link)));
      else if (widgetAsInput(n, inp.name)) row.appendChild(el("span", "fw-hint", "an input now (no wire yet)"));
      else row.appendChild(widgetControl(n, inp));
      const swap = el("button", "fw-btn fw-props-swap", widgetAsInput(n, inp.name) ? "\u21c4 widget" : "\u21c4 input");
      swap.type = "button";
      swap.dataset.action = widgetAsInput(n, inp.name) ? "widget-back" : "widget-to-input";
      swap.title = widgetAsInput(n, inp.name) ? "Convert back to a widget" : "Convert this widget to an input socket";
      swap.addEventListener("click", () => convertWidget(n.id, inp.name, !widgetAsInput(n, inp.name)));
      row.appendChild(swap);
      widgets.appendChild(row);
    }
    const row = el("div", "fw-props-row");
    row.dataset.input = inp.name;
    row.appendChild(el("span", "fw-dialog-label", inp.label || inp.name));
    row.appendChild(el("span", "fw-props-type", inp.type));
    row.appendChild(el("span", "fw-props-source", link ? sourceText(link) :
      inp.widget && !widgetAsInput(n, inp.name) ? "widget" : inp.optional ? "not connected (optional)" : "not connected"));
    if (inp.description) row.title = inp.description;
    inputs.appendChild(row);
  }
  if (!widgets.childNodes.length) widgets.appendChild(el("div", "fw-help-none", "none"));
  if (!inputs.childNodes.length) inputs.appendChild(el("div", "fw-help-none", "none"));
  const outputs = propsSection("Outputs", "outputs");
  for (const out of d.outputs || []) {
    if (out.name === NEW_SOCKET) continue;
    const row = el("div", "fw-props-row");
    row.dataset.output = out.name;
    row.appendChild(el("span", "fw-dialog-label", out.name));
    row.appendChild(el("span", "fw-props-type", out.type));
    const to = graph.links.filter((l) => l.from === n.id && l.output === out.name).map((l) => "\u2192 [" + l.to + "]." + l.input);
    row.appendChild(el("span", "fw-props-source", to.length ? to.join(", ") : "not used"));
    outputs.appendChild(row);
  }
  if (!outputs.childNodes.length) outputs.appendChild(el("div", "fw-help-none", "none"));

  const st = statusById[n.id] || {};
  const run = propsSection("Last run", "timing");
  run.dataset.status = st.status || "idle";
  run.appendChild(el("div", null, !st.status ? "not run yet (on this page)" :
    st.status + (st.seconds !== undefined && st.seconds !== null ? ", " + (st.seconds < 0.01 ? "<0.01" : Number(st.seconds).toFixed(2)) + " s" : "") +
    (st.error ? ": " + (st.input ? st.input + ": " : "") + st.error : "")));
  const preview = propsSection("Output", "preview");
  if (st.images && st.images.length) {
    for (const im of st.images) {
      const img = el("img", "fw-props-image");
      img.src = fileUrl(im.path);
      img.alt = im.name || "result";
      img.addEventListener("click", () => openLightbox(n.id, img.src, img.alt));
      preview.appendChild(img);
    }
  } else if (st.preview && String(st.preview).startsWith("data:image/")) {
    const img = el("img", "fw-props-image");
    img.src = st.preview;
    img.alt = "live preview";
    preview.appendChild(img);
  } else if (st.text) {
    preview.appendChild(el("pre", "fw-text", st.text));
  } else preview.appendChild(el("div", "fw-help-none", "nothing shown yet"));
}
// a widget changed in the panel: the node shows the new value too
propsPanel.addEventListener("change", (e) => {
  const id = propsPanel.dataset.nodeId;
  if (!e.target.matches("[data-widget]") || !id) return;
  setTimeout(() => { rerenderNode(id); drawWires(new Set([id])); propertiesChanged(); });
});
propsPanel.addEventListener("keydown", (e) => e.stopPropagation());  // typing here never deletes nodes
propsPanel.addEventListener("pointerdown", (e) => e.stopPropagation());
propsPanel.addEventListener("wheel", (e) => e.stopPropagation());
root.addEventListener("keydown", (e) => { if (e.key === "Escape" && !propsPanel.hidden && propsPanel.contains(e.target)) closeProperties(); });
root.querySelector('[data-action="properties"]').addEventListener("click", () => {
  if (propsPanel.hidden) openProperties(null); else closeProperties();
});
