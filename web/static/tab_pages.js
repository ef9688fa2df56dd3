// fluxwire canvas, kept tab pages: the page elements of inactive tabs (node elements, group boxes, wire paths)
// and the maps that find them (nodeEls, wireEls) are kept, detached from the page, so switching back to a tab
// moves its elements in again instead of building them from the document (a 500-node tab: ~470 ms of the
// canvas's own work -> ~20 ms; Chrome's restyle, layout and paint of the moved elements remain, see
// docs/performance.md). Detached, not hidden in the page, so the node and wire hooks only ever see the shown tab.
// The layers themselves (nodesLayer, wires) stay put, with the listeners other parts put on them; only their
// children change hands. Which tab's elements are shown is swapped here, in one place.
// Kept: the KEPT_PAGES most recently left tabs; the others (and every tab after a reload, a tab left inside a
// subgraph, every tab after the catalogue changed) are built from their document when shown, as before.

const KEPT_PAGES = 4;
let pageUse = 0;  // counts tab switches: a kept page's `used` says how recently it was shown

function detachChildren(layer) {
  // the layer leaves the page, gives up its children in one step and comes back empty (one removal from
  // the live page instead of one per child), with the listeners other parts put on it
  const parent = layer.parentNode, next = layer.nextSibling;
  layer.remove();
  const range = document.createRange();
  range.selectNodeContents(layer);
  const kept = range.extractContents();
  parent.insertBefore(layer, next);
  return kept;
}
function takePage() {
  // the shown elements, detached and reset to how an unselected, unsearched page looks; null when they
  // cannot be shown again as they are (inside a subgraph they show one level, not the tab's document)
  if (navStack.length) return null;
  for (const id of selected) { const e = nodeEls.get(id); if (e) delete e.dataset.selected; }
  for (const e of nodesLayer.querySelectorAll('[data-found="1"]')) delete e.dataset.found;
  selectReroutes([]);
  const page = { graph, nodeEls, wireEls, catalogue, used: ++pageUse,
    nodes: detachChildren(nodesLayer), wires: detachChildren(wires) };
  nodeEls = new Map();
  wireEls = new Map();
  return page;
}
function pageUsable(page) {
  // built with the catalogue shown now (the node declarations and model lists the elements show)
  return !!page && page.catalogue === catalogue;
}
function putPage(page) {
  // show a kept page (pageUsable): its document becomes `graph`, the very object its widgets edit
  graph = page.graph;
  nodeEls = page.nodeEls;
  wireEls = page.wireEls;
  nodesLayer.replaceChildren(page.nodes);
  wires.replaceChildren(page.wires);
  page.nodes = page.wires = null;
  applyView();
  drawReroutePoints();  // the dots are few: drawn again rather than kept (reroutes.js)
  refreshToolbar();
  root.dataset.tabPage = "kept";  // a test and bench hook: how the shown tab got its elements
}
function builtPage() { root.dataset.tabPage = "built"; }
function trimPages() {
  // keep the elements of the KEPT_PAGES most recently left tabs; the others are dropped (built again on show)
  const keeping = tabs.filter((t) => t.stash && t.stash.page).sort((a, b) => b.stash.page.used - a.stash.page.used);
  for (const t of keeping.slice(KEPT_PAGES)) t.stash.page = null;
}
function refindAfterSwitch() {
  // the find bar (Ctrl+F), when open, marks the matches in the tab now shown
  if (findBox.hidden) return;
  findHits = findMatches(findInput.value);
  findAt = findHits.length ? 0 : -1;
  showFound();
}
