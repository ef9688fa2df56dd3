// fluxwire canvas, bypass (Ctrl+B) and mute (Ctrl+M) of the selected nodes: the document's node `mode`
// ("bypass": the node is passed through, each output fed by its input of the same type; "mute": the node
// and what only feeds it are left out). The executor applies them (flux_core/node_modes.py), inside opened
// subgraphs too: the mode is part of the definition's node, written back like any edit (subgraphs.js).

function toggleMode(mode) {
  const ids = [...selected].filter((id) => !BOUNDARY_IDS.includes(id));
  if (!ids.length) return;
  const before = snapshot();
  const on = ids.some((id) => nodeById(id).mode !== mode);  // mixed selection: set it on all of them
  for (const id of ids) {
    const n = nodeById(id);
    if (on) n.mode = mode; else delete n.mode;
    const e = nodeEls.get(id);
    if (e) { if (n.mode) e.dataset.mode = n.mode; else delete e.dataset.mode; }
  }
  commit(before);
  setStatus((on ? (mode === "bypass" ? "bypassed " : "muted ") : "back to normal: ") + ids.length + " node(s)");
}
root.addEventListener("keydown", (e) => {
  if (isTyping(e.target) || !(e.ctrlKey || e.metaKey) || e.shiftKey || e.altKey) return;
  const k = e.key.toLowerCase();
  if (k === "b") { e.preventDefault(); toggleMode("bypass"); }
  else if (k === "m") { e.preventDefault(); toggleMode("mute"); }
});
