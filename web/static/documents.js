// fluxwire canvas, documents on the server: Save (Ctrl+S), Save as, New, and "My workflows" (Ctrl+O) to
// open, rename or delete the documents in the user's workflows folder, most recently used first.
// The folder is reached through one server function, `user_workflows` (web/user_workflows.py), which
// re-checks every name; a replaced document always stays reachable with Undo.

const RECENT_KEY = "fluxwire:recent:" + location.pathname;

function recentNames() {
  try {
    const r = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(r) ? r.filter((x) => typeof x === "string") : [];
  } catch (err) {
    return [];
  }
}
function noteRecent(name, gone) {
  const list = recentNames().filter((x) => x !== name);
  if (!gone) list.unshift(name);
  try { localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, 8))); } catch (err) { /* not worth a message */ }
}
async function folderRequest(request) {
  const res = await server.user_workflows(request);
  if (!res || !res.ok) {
    showBanner("error", (res && res.message) || "the workflows folder did not answer");
    return null;
  }
  return res;
}
async function saveToFolder(name, overwrite) {
  send();
  const res = await folderRequest({ op: "save", name, workflow: lastSent, overwrite: !!overwrite });
  if (!res) return false;
  noteRecent(res.name);
  hideBanner();
  setStatus(res.message);
  theDocument().metadata = Object.assign({}, theDocument().metadata, { title: res.name });  // as the server stored it
  send();
  markSaved(res.name);
  persistNow();
  return true;
}
function saveDocument() {
  // Ctrl+S: the open document's own name, or ask for one
  if (docName) return saveToFolder(docName, true);
  return saveAsDialog();
}
function saveAsDialog() {
  const box = openDialog("Save as (in your workflows folder)");
  const title = (theDocument().metadata && theDocument().metadata.title) || "";
  const field = textField(docName || (title && title !== "untitled" ? title : ""), "field", "workflow-name");
  dialogRow(box, "name", field);
  const ok = () => {
    const name = field.value.trim();
    if (!name) { field.focus(); return; }
    saveToFolder(name, false).then((done) => { if (done) closeDialog(); }).catch(reportError);
  };
  field.addEventListener("keydown", (k) => { if (k.key === "Enter") ok(); else if (k.key === "Escape") closeDialog(); });
  dialogButtons("save-as-confirm", "Save", ok);
  field.focus();
  field.select();
}
function newDocument() {
  loadGraph({ format: FORMAT, version: 1, metadata: { title: "untitled" }, nodes: [], links: [] }, { undoable: true });
  docName = null;
  markSaved();
  hideBanner();
  setStatus("new workflow (Undo brings the previous one back)");
}
async function openFromFolder(name) {
  const res = await folderRequest({ op: "load", name });
  if (!res) return;
  const checked = await server.validate_graph(res.workflow);
  if (!checked || !checked.ok) { showBanner("error", (checked && checked.message) || "cannot open " + name); return; }
  loadGraph(checked.workflow, { undoable: true });
  markProblems(checked.problems || []);
  if (checked.problems && checked.problems.length) showBanner("warning", checked.message); else hideBanner();
  noteRecent(name);
  markSaved(name);
  setStatus("opened " + name);
  closeDialog();
}
function workflowRow(list, w) {
  const row = el("div", "fw-wf-item");
  row.dataset.workflow = w.name;
  const open = el("button", "fw-wf-open", w.name);
  open.type = "button";
  open.dataset.action = "open-workflow";
  open.title = "Open " + w.name;
  open.addEventListener("click", () => openFromFolder(w.name).catch(reportError));
  row.appendChild(open);
  const inTab = el("button", "fw-btn", "New tab");
  inTab.type = "button";
  inTab.dataset.action = "open-workflow-tab";
  inTab.title = "Open " + w.name + " in a new tab (tabs.js)";
  inTab.addEventListener("click", () => openInNewTab(w.name).catch(reportError));
  row.appendChild(inTab);
  if (w.modified) row.appendChild(el("span", "fw-wf-when", new Date(w.modified * 1000).toLocaleString()));
  const rename = el("button", "fw-btn", "Rename");
  rename.type = "button";
  rename.dataset.action = "rename-workflow";
  rename.addEventListener("click", () => {
    const field = textField(w.name, "field", "rename-workflow");
    open.replaceWith(field);
    field.focus();
    field.select();
    field.addEventListener("keydown", async (k) => {
      if (k.key === "Escape") { showWorkflows().catch(reportError); return; }
      if (k.key !== "Enter") return;
      const res = await folderRequest({ op: "rename", name: w.name, new_name: field.value });
      if (!res) return;
      noteRecent(w.name, true);
      noteRecent(res.name);
      if (docName === w.name) { docName = res.name; showDocName(); persistNow(); }
      setStatus(res.message);
      fillWorkflows(res.workflows);
    });
  });
  row.appendChild(rename);
  const del = el("button", "fw-btn fw-danger", "Delete");
  del.type = "button";
  del.dataset.action = "delete-workflow";
  del.addEventListener("click", async () => {
    if (del.dataset.confirm !== "1") { del.dataset.confirm = "1"; del.textContent = "Delete for good?"; return; }
    const res = await folderRequest({ op: "delete", name: w.name });
    if (!res) return;
    noteRecent(w.name, true);
    if (docName === w.name) { docName = null; savedState = null; showDocName(); persistNow(); }
    setStatus(res.message);
    fillWorkflows(res.workflows);
  });
  row.appendChild(del);
  list.appendChild(row);
}
function fillWorkflows(workflows) {
  const list = dialog.querySelector('[data-role="workflow-list"]');
  if (!list) return;
  list.textContent = "";
  const recent = recentNames();
  const rank = (w) => { const i = recent.indexOf(w.name); return i < 0 ? recent.length : i; };
  const sorted = workflows.slice().sort((a, b) => rank(a) - rank(b));  // recently used first, then newest
  if (!sorted.length) list.appendChild(el("div", "fw-palette-empty", "nothing saved yet: Save (Ctrl+S) puts the open workflow here"));
  for (const w of sorted) workflowRow(list, w);
}
async function showWorkflows() {
  const res = await folderRequest({ op: "list" });
  if (!res) return;
  const box = openDialog("My workflows");
  const list = el("div", "fw-wf-list");
  list.dataset.role = "workflow-list";
  box.appendChild(list);
  fillWorkflows(res.workflows);
  dialogButtons(null, null, null, "Close");  // subgraph_edits.js
}

root.querySelector(".fw-toolbar").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-action]");
  if (!b) return;
  const a = b.dataset.action;
  if (a === "save-server") Promise.resolve(saveDocument()).catch(reportError);
  else if (a === "save-as") saveAsDialog();
  else if (a === "new") newDocument();
  else if (a === "workflows") showWorkflows().catch(reportError);
});
root.addEventListener("keydown", (e) => {
  // Ctrl+S / Ctrl+O work while typing in a widget too, and never reach the browser's own Save/Open
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
  const k = e.key.toLowerCase();
  if (k === "s") {
    e.preventDefault();
    if (e.target.matches && e.target.matches("[data-widget]")) e.target.dispatchEvent(new Event("change"));
    if (e.shiftKey) saveAsDialog(); else Promise.resolve(saveDocument()).catch(reportError);
  } else if (k === "o") {
    e.preventDefault();
    showWorkflows().catch(reportError);
  }
});
showDocName();
