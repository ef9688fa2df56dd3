// fluxwire canvas, right-click menus: on the canvas (add, paste, group, fit), a node (rename, bypass, mute,
// collapse, colour, duplicate, delete), a socket (disconnect an input; add a node fed by an output), a
// wire (delete) and a group's title (arrange.js: rename, colour, pin, select, fit, remove). Each item is a button with data-menu="<what>"; the menu is [data-role="menu"].

const NODE_COLORS = ["", "#3f5a7a", "#4a6b3f", "#7a5a3f", "#6b3f6b", "#7a3f3f"];
const menu = el("div", "fw-menu");
menu.dataset.role = "menu";
menu.hidden = true;
stage.appendChild(menu);

function closeMenu() { menu.hidden = true; menu.textContent = ""; }
function menuItem(what, text, run, disabled) {
  const b = el("button", "fw-menu-item", text);
  b.type = "button";
  b.dataset.menu = what;
  b.disabled = !!disabled;
  // the canvas keeps the keyboard (the clicked button goes away with the menu): Ctrl+Z right after works
  b.addEventListener("click", () => { closeMenu(); root.focus({ preventScroll: true }); run(); });
  menu.appendChild(b);
}
function openMenu(e, fill) {
  e.preventDefault();
  closeMenu();
  fill();
  if (!menu.childNodes.length) return;
  const r = stage.getBoundingClientRect();
  menu.hidden = false;
  menu.style.left = Math.min(e.clientX - r.left, r.width - menu.offsetWidth - 4) + "px";
  menu.style.top = Math.min(e.clientY - r.top, r.height - menu.offsetHeight - 4) + "px";
}
function removeLinks(match) {
  const before = snapshot();
  const gone = graph.links.filter(match);
  if (!gone.length) return;
  graph.links = graph.links.filter((l) => !match(l));
  for (const id of new Set(gone.map((l) => l.to))) rerenderNode(id);
  drawWires();
  commit(before);
}
function recolourNodes(ids) {
  const before = snapshot();
  for (const id of ids) {
    const n = nodeById(id);
    const next = NODE_COLORS[(NODE_COLORS.indexOf(n.ui.color || "") + 1) % NODE_COLORS.length];
    if (next) n.ui.color = next; else delete n.ui.color;
    rerenderNode(id);
  }
  drawWires();
  commit(before);
}

stage.addEventListener("contextmenu", (e) => {
  if (isTyping(e.target) || palette.contains(e.target) || menu.contains(e.target)) return;
  const at = toWorld(e.clientX, e.clientY);
  const wireEl = e.target.closest("path.fw-wire");
  const sock = e.target.closest("[data-socket-dir]");
  const nodeEl = e.target.closest(".fw-node");
  const groupEl = !nodeEl && e.target.closest(".fw-group-title") && e.target.closest(".fw-group");
  if (groupEl) {
    openMenu(e, () => groupMenuItems(Number(groupEl.dataset.group)));
  } else if (wireEl && !wireEl.classList.contains("fw-wire-temp")) {
    const d = wireEl.dataset;
    const link = graph.links.find((l) => l.from === d.from && l.output === d.output && l.to === d.to && l.input === d.input);
    openMenu(e, () => {
      menuItem("delete-wire", "Delete wire", () => removeLinks((l) => l === link));
      menuItem("insert-reroute", "Insert reroute point (Alt+click)", () => insertReroute(link, at), !link);  // reroutes.js
    });
  } else if (sock && nodeEl) {
    const id = nodeEl.dataset.nodeId, name = sock.dataset.socketName, type = sock.dataset.socketType;
    openMenu(e, () => {
      if (sock.dataset.socketDir === "in") {
        menuItem("disconnect", "Disconnect", () => removeLinks((l) => l.to === id && l.input === name), !linkInto(id, name));
        convertMenuItems(id, name);  // widget <-> input (node_tools.js)
      } else {
        menuItem("add-fed-node", "Add a node fed by " + name, () => openPalette([at[0] + 120, at[1]], { from: id, output: name, type }));
        menuItem("disconnect", "Disconnect all", () => removeLinks((l) => l.from === id && l.output === name),
          !graph.links.some((l) => l.from === id && l.output === name));
      }
    });
  } else if (nodeEl) {
    const id = nodeEl.dataset.nodeId;
    if (!selected.has(id)) select([id]);
    const ids = [...selected].filter((x) => !BOUNDARY_IDS.includes(x));
    const n = nodeById(id);
    openMenu(e, () => {
      menuItem("rename", "Rename", () => renameNode(id));
      menuItem("bypass", n && n.mode === "bypass" ? "Stop bypassing (Ctrl+B)" : "Bypass (Ctrl+B)", () => toggleMode("bypass"));
      menuItem("mute", n && n.mode === "mute" ? "Unmute (Ctrl+M)" : "Mute (Ctrl+M)", () => toggleMode("mute"));
      menuItem("collapse", n && n.ui.collapsed ? "Expand (Alt+C)" : "Collapse (Alt+C)", toggleCollapse);
      menuItem("color", "Next colour", () => recolourNodes(ids));
      menuItem("pin", n && n.ui.pinned ? "Unpin" : "Pin", () => togglePin(ids));
      menuItem("properties", "Properties", () => openProperties(id));
      menuItem("help", "Help", () => showHelp(id));
      menuItem("group", "Group (Ctrl+G)", groupSelected);
      menuItem("duplicate", "Duplicate (Ctrl+D)", duplicateSelected);
      menuItem("delete", "Delete (Del)", deleteSelected);
    });
  } else {
    openMenu(e, () => {
      menuItem("add-node", "Add node here", () => openPalette(at));
      menuItem("paste", "Paste (Ctrl+V)", () => { pointerWorld = at; paste(false); }, !clipboard);
      menuItem("group", "Group the selection (Ctrl+G)", groupSelected, !selected.size);
      menuItem("fit", "Fit the workflow", () => fitView());
    });
  }
});
window.addEventListener("pointerdown", (e) => { if (!menu.hidden && !menu.contains(e.target)) closeMenu(); }, true);
root.addEventListener("keydown", (e) => { if (e.key === "Escape" && !menu.hidden) closeMenu(); });
