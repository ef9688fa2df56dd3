// fluxwire canvas: the memory manager's decisions of the current run (policy per model, evictions,
// streaming, RAM releases, budgets), from run_state.memory (web/memory_status.py), next to the run status.
// A chip in the toolbar shows the headline; clicking it opens the list of decisions.

const memoryChip = document.createElement("button");
memoryChip.type = "button";
memoryChip.className = "fw-btn fw-memory";
memoryChip.dataset.role = "memory";
memoryChip.hidden = true;
statusEl.after(memoryChip);
const memoryPanel = document.createElement("div");
memoryPanel.className = "fw-memory-panel";
memoryPanel.dataset.role = "memory-panel";
memoryPanel.hidden = true;
root.appendChild(memoryPanel);
memoryChip.addEventListener("click", () => {
  memoryPanel.style.top = (root.querySelector(".fw-toolbar").offsetHeight + 4) + "px";  // below a wrapped toolbar
  memoryPanel.hidden = !memoryPanel.hidden;
});

function showMemory(memory) {
  if (!memory || typeof memory !== "object" || !Array.isArray(memory.lines)) {
    memoryChip.hidden = true;
    memoryPanel.hidden = true;
    return;
  }
  memoryChip.hidden = false;
  memoryChip.textContent = "memory: " + String(memory.headline || "");
  memoryChip.title = String(memory.budgets || "") + " (click for the decisions)";
  memoryChip.dataset.kinds = (memory.kinds || []).join(" ");
  memoryPanel.replaceChildren();
  const head = document.createElement("div");
  head.className = "fw-memory-budgets";
  head.textContent = String(memory.budgets || "") + (memory.peak_device ? "; device peak " + memory.peak_device : "");
  memoryPanel.appendChild(head);
  const list = document.createElement("ol");
  for (const line of memory.lines) {
    const item = document.createElement("li");
    item.textContent = String(line);
    list.appendChild(item);
  }
  memoryPanel.appendChild(list);
}
onRunState((s) => {  // run_feed.js
  if (s && s.run_id && (s.run_id === currentRun || !currentRun)) showMemory(s.memory);
});
