// fluxwire canvas, part 4 of 5: open, drop, save and the shipped-workflows menu.

// ------------------------------------------------------------------ files: open, drop, save, shipped
async function openFile(file) {
  if (!file) return;
  const name = file.name || "upload";
  if (!/\.(json|png)$/i.test(name)) { showBanner("error", name + ": only .json workflows and .png images carrying a workflow can be opened"); return; }
  if (file.size > MAX_UPLOAD) { showBanner("error", name + ": the file is larger than 16 MB"); return; }
  const data = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
  setStatus("opening " + name);
  const res = await server.read_workflow_file({ name, data });
  acceptLoaded(res, name);
}
function acceptLoaded(res, what) {
  if (!res || !res.ok) {
    showBanner("error", (res && res.message) || "cannot open " + what);
    setStatus("");
    return;
  }
  loadGraph(res.workflow, { undoable: true });
  markSaved(null);  // as it is in the file just opened (not in the workflows folder: no name there)
  markProblems(res.problems || []);
  if (res.problems && res.problems.length) showBanner("warning", res.message || "the workflow has problems");
  else hideBanner();
  setStatus("opened " + what);
}
function saveJson() {
  send();
  downloadText(JSON.stringify(lastSent, null, 2) + "\n", ".json");
}
async function exportComfy(fmt = "api") {
  send();
  const res = await (fmt === "ui" ? server.export_comfyui_ui(withShownSizes(lastSent)) : server.export_comfyui(lastSent));
  if (!res || !res.ok) { showBanner("error", (res && res.message) || "cannot export"); markProblems((res && res.problems) || []); return; }
  downloadText(res.text, fmt === "ui" ? ".comfyui.json" : ".comfyui-api.json");
  setStatus(fmt === "ui" ? "exported a ComfyUI UI workflow" : "exported a ComfyUI API prompt");
}
function downloadText(text, suffix) {
  const title = String((graph.metadata && graph.metadata.title) || "workflow").replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 80) || "workflow";
  const a = el("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  a.download = title + suffix;
  root.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
fileInput.addEventListener("change", () => { const f = fileInput.files[0]; fileInput.value = ""; openFile(f).catch(reportError); });
shippedSelect.addEventListener("change", async () => {
  const name = shippedSelect.value;
  shippedSelect.value = "";
  if (!name) return;
  acceptLoaded(await server.shipped_workflow(name), name);
});
stage.addEventListener("dragover", (e) => {
  if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) { e.preventDefault(); root.classList.add("fw-dropping"); }
});
stage.addEventListener("dragleave", () => root.classList.remove("fw-dropping"));
stage.addEventListener("drop", (e) => {
  root.classList.remove("fw-dropping");
  if (!e.dataTransfer || !e.dataTransfer.files.length) return;
  e.preventDefault();
  openFile(e.dataTransfer.files[0]).catch(reportError);
});
