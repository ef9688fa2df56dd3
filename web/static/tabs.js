// fluxwire canvas, tabs: several open workflows, each with its own document, undo history, view (kept in
// the document's extra.view), name in the workflows folder, run state and autosave. The active tab lives in
// the canvas's usual variables (graph, undoStack, docName, ...) and in the usual autosave; the other tabs
// are kept here and in localStorage["fluxwire:tabs:" + location.pathname], so every tab comes back after a
// reload. Run runs the active tab's document (it is the component's value); a run's updates are shown in
// the tab that started it. Copy in one tab and paste in another: the copies and the links between them.
// Runs last (JS_PARTS): the active document is already restored by persist.js.

const TABS_KEY = "fluxwire:tabs:" + location.pathname;
const TAB_UNDO_KEPT = 30;
const tabBar = el("div", "fw-tabs");
tabBar.dataset.role = "tabs";
root.insertBefore(tabBar, part("breadcrumb"));
var tabs = [];          // [{id, stash}]: stash is null for the active tab, else its saved state
var activeTab = null;   // var: hooks in other parts may run before this part
var tabCounter = 0;
var runTabs = new Map(), runTabQueue = [];

function activeTabId() { return activeTab; }
function newTabId() { tabCounter += 1; return "t" + Date.now().toString(36) + tabCounter; }
function tabById(id) { return tabs.find((t) => t.id === id); }
function stashActive() {
  // the active tab's state, as kept while another tab is shown (inside a subgraph: the whole document; the
  // undo history of an inner level is dropped, as on reload)
  send();
  const inner = navStack.length > 0;
  const doc = clone(theDocument());
  const page = takePage();  // its elements, kept for the way back (tab_pages.js)
  leaveSubgraphs();
  return { doc, name: docName, dirty: isDirty(), savedState, undo: inner ? [] : undoStack.slice(),
    redo: inner ? [] : redoStack.slice(), status: statusById, title: tabTitleOf(doc, docName), page };
}
function showStash(s) {
  const kept = pageUsable(s.page);
  graph = kept ? s.page.graph : normalise(s.doc);
  undoStack = (s.undo || []).slice();
  redoStack = (s.redo || []).slice();
  docName = typeof s.name === "string" ? s.name : null;
  statusById = s.status || {};
  selected.clear();
  closePalette();
  const v = graph.extra && graph.extra.view;
  const hasView = v && isFinite(v.x) && isFinite(v.y) && isFinite(v.zoom) && v.zoom > 0;
  if (hasView) view = { x: v.x, y: v.y, zoom: v.zoom };
  if (kept) putPage(s.page);  // the elements left there (tab_pages.js)
  else { renderAll(); builtPage(); }
  s.page = null;
  if (!hasView) fitView();
  refindAfterSwitch();
  send();  // (adds the view to the document, which "unsaved changes" ignores)
  savedState = s.savedState !== undefined ? s.savedState : s.dirty ? null : comparableText(graph);
  showDocName();
  if (s.runState) applyRunState(s.runState);
}
function tabTitleOf(doc, name) {
  return name || (doc && doc.metadata && doc.metadata.title) || "untitled";
}
function switchTab(id) {
  const target = tabById(id);
  if (!target || id === activeTab) return;
  const current = tabById(activeTab);
  current.stash = stashActive();
  const s = target.stash;
  target.stash = null;
  activeTab = id;
  showStash(s);
  trimPages();
  persistTabs();
  setStatus("tab: " + tabTitleOf(s.doc, s.name));
}
function newTab(doc) {
  const current = tabById(activeTab);
  current.stash = stashActive();
  const t = { id: newTabId(), stash: null };
  tabs.splice(tabs.indexOf(current) + 1, 0, t);
  activeTab = t.id;
  const fresh = doc || { format: FORMAT, version: 1, metadata: { title: "untitled" }, nodes: [], links: [] };
  showStash({ doc: fresh, name: null, dirty: false, undo: [], redo: [] });
  trimPages();
  hideBanner();
  persistTabs();
  return t.id;
}
function closeTab(id) {
  const t = tabById(id);
  if (!t) return false;
  const dirty = id === activeTab ? isDirty() : t.stash && t.stash.dirty;
  const title = id === activeTab ? tabTitleOf(theDocument(), docName) : tabTitleOf(t.stash.doc, t.stash.name);
  if (dirty && !window.confirm("\u201c" + title + "\u201d has changes that are not saved. Close it anyway?")) return false;
  const at = tabs.indexOf(t);
  if (t.stash) t.stash.page = null;  // a closed tab's elements go with it
  if (tabs.length === 1) {  // the last tab: an empty one takes its place
    const fresh = { id: newTabId(), stash: null };
    tabs = [fresh];
    activeTab = fresh.id;
    leaveSubgraphs();
    showStash({ doc: { format: FORMAT, version: 1, metadata: { title: "untitled" }, nodes: [], links: [] }, name: null, dirty: false });
  } else if (id === activeTab) {
    const next = tabs[at + 1] || tabs[at - 1];
    tabs.splice(at, 1);
    const s = next.stash;
    next.stash = null;
    activeTab = next.id;
    leaveSubgraphs();
    showStash(s);
  } else {
    tabs.splice(at, 1);
  }
  persistTabs();
  renderTabs();
  setStatus("closed " + title);
  return true;
}
async function openInNewTab(name) {
  newTab();
  await openFromFolder(name);
  undoStack = [];  // the tab starts with this document, not with the empty one before it
  redoStack = [];
  refreshToolbar();
  persistNow();
  persistTabs();
}

// ------------------------------------------------------------------ the tab bar
function renderTabs() {
  tabBar.textContent = "";
  for (const t of tabs) {
    const active = t.id === activeTab;
    const title = active ? tabTitleOf(theDocument(), docName) : t.stash.title || tabTitleOf(t.stash.doc, t.stash.name);
    const dirty = active ? isDirty() : !!t.stash.dirty;
    const tab = el("div", "fw-tab");
    tab.dataset.tab = t.id;
    tab.dataset.active = active ? "1" : "0";
    tab.dataset.dirty = dirty ? "1" : "0";
    const label = el("button", "fw-tab-label", title + (dirty ? " \u2022" : ""));
    label.type = "button";
    label.dataset.action = "switch-tab";
    label.title = title + (dirty ? " (unsaved changes)" : "");
    label.addEventListener("click", () => switchTab(t.id));
    tab.appendChild(label);
    const x = el("button", "fw-tab-close", "\u00d7");
    x.type = "button";
    x.dataset.action = "close-tab";
    x.title = "Close this tab";
    x.addEventListener("click", () => closeTab(t.id));
    tab.appendChild(x);
    tabBar.appendChild(tab);
  }
  const add = el("button", "fw-tab-new", "+");
  add.type = "button";
  add.dataset.action = "new-tab";
  add.title = "A new tab with an empty workflow";
  add.addEventListener("click", () => newTab());
  tabBar.appendChild(add);
}

// ------------------------------------------------------------------ kept in the browser
function persistTabs() {
  // the inactive tabs (the active one is the usual autosave, written by persistNow)
  const record = { active: tabs.findIndex((t) => t.id === activeTab), tabs: tabs.map((t) => ({ id: t.id,
    stash: t.stash ? { doc: t.stash.doc, name: t.stash.name, dirty: t.stash.dirty,
      undo: (t.stash.undo || []).slice(-TAB_UNDO_KEPT), redo: (t.stash.redo || []).slice(-TAB_UNDO_KEPT) } : null })) };
  for (const keepUndo of [true, false]) {
    if (!keepUndo) for (const t of record.tabs) if (t.stash) { t.stash.undo = []; t.stash.redo = []; }
    try {
      localStorage.setItem(TABS_KEY, JSON.stringify(record));
      persistNow();
      renderTabs();
      return true;
    } catch (err) { /* storage full: try without the undo histories of the inactive tabs */ }
  }
  setStatus("could not keep the tabs in the browser: its storage is full");
  renderTabs();
  return false;
}
function restoreTabs() {
  let record = null;
  try { record = JSON.parse(localStorage.getItem(TABS_KEY) || "null"); } catch (err) { record = null; }
  const list = record && Array.isArray(record.tabs) ? record.tabs : [];
  const at = record && Number.isInteger(record.active) ? record.active : -1;
  if (!list.length || at < 0 || at >= list.length || list[at].stash) {  // nothing (valid) kept: one tab
    tabs = [{ id: newTabId(), stash: null }];
    activeTab = tabs[0].id;
    return;
  }
  const strings = (a) => (Array.isArray(a) ? a.filter((x) => typeof x === "string") : []);
  tabs = [];
  list.forEach((t, i) => {
    const id = typeof t.id === "string" ? t.id : newTabId();
    if (i === at) { tabs.push({ id, stash: null }); activeTab = id; return; }
    const s = t.stash;
    if (!s || !s.doc || !Array.isArray(s.doc.nodes)) return;  // an unreadable tab is left out
    tabs.push({ id, stash: { doc: s.doc, name: typeof s.name === "string" ? s.name : null, dirty: !!s.dirty,
      undo: strings(s.undo), redo: strings(s.redo), title: tabTitleOf(s.doc, s.name) } });
  });
}

// ------------------------------------------------------------------ runs belong to the tab that started them
function noteRunTab() { runTabQueue.push(activeTab); }
function runShownHere(state) {
  // runs of one page are served in the order they were asked for: the first update of a new run tells
  // which tab asked for it
  if (!runTabs.has(state.run_id)) runTabs.set(state.run_id, runTabQueue.length ? runTabQueue.shift() : activeTab);
  const owner = runTabs.get(state.run_id);
  if (owner === activeTab) return true;
  const t = tabById(owner);  // undefined when that tab was closed: its run is only counted
  if (t && t.stash) t.stash.runState = state;  // shown when that tab is active again
  if (FINAL_STATUSES.includes(state.status) && !finishedRuns.has(state.run_id)) {
    finishedRuns.add(state.run_id);
    pendingRuns = Math.max(0, pendingRuns - 1);
    setStatus("a run of " + (t && t.stash ? "the tab \u201c" + t.stash.title + "\u201d" : "a closed tab") + " ended: " + state.status);
    refreshToolbar();
  }
  return false;
}

// ------------------------------------------------------------------ start
restoreTabs();
renderTabs();
// the active tab's name and dirty mark follow the toolbar's document name
new MutationObserver(() => renderTabs()).observe(docNameEl, { attributes: true, childList: true, characterData: true, subtree: true });
window.addEventListener("beforeunload", (e) => {
  if (!root.isConnected) return;
  if (tabs.some((t) => t.stash && t.stash.dirty)) { e.preventDefault(); e.returnValue = ""; }
});
root.addEventListener("keydown", (e) => {
  // Alt+T: new tab, Alt+W: close it, Ctrl+Tab-like switching with Alt+PageDown / Alt+PageUp
  if (!e.altKey || e.ctrlKey || e.metaKey || isTyping(e.target)) return;
  const k = e.key.toLowerCase();
  const at = tabs.findIndex((t) => t.id === activeTab);
  if (k === "t") { e.preventDefault(); newTab(); }
  else if (k === "w") { e.preventDefault(); closeTab(activeTab); }
  else if (e.key === "PageDown") { e.preventDefault(); switchTab(tabs[(at + 1) % tabs.length].id); }
  else if (e.key === "PageUp") { e.preventDefault(); switchTab(tabs[(at + tabs.length - 1) % tabs.length].id); }
});
