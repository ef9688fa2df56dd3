// fluxwire canvas, node search: ranks the catalogue against what the user typed, the way a ComfyUI user
// types it ("clip text encode", "ksampler", "empty latent"), for the palette and for a wire released on the
// empty canvas. Pure functions over the catalogue; the palette (editing.js) draws the result.

function searchWords(text) {
  // "CLIPTextEncode" -> "clip text encode"; "VAEDecode" -> "vae decode"; punctuation splits words
  return String(text || "")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}
function fieldScore(query, qWords, field) {
  // how well one name matches: whole name > name start > every word a word start, in order > substring >
  // the letters in order (typos of omission); 0 = no match
  const words = searchWords(field);
  if (!words.length) return 0;
  const compact = words.join(""), q = qWords.join("");
  if (!q) return 0;
  if (compact === q) return 1000;
  if (compact.startsWith(q)) return 850 - Math.min(50, compact.length - q.length);
  let at = 0, inOrder = true;
  for (const w of qWords) {
    let k = at;
    while (k < words.length && !words[k].startsWith(w)) k++;
    if (k === words.length) { inOrder = false; break; }
    at = k + 1;
  }
  if (inOrder) return 700 - Math.min(50, words.length - qWords.length) * 5;
  if (qWords.every((w) => words.some((x) => x.startsWith(w)))) return 600;
  const idx = compact.indexOf(q);
  if (idx >= 0) return 500 - Math.min(100, idx * 5);
  // subsequence: each query letter later in the name than the one before
  let pos = -1, gaps = 0;
  for (const ch of q) {
    const next = compact.indexOf(ch, pos + 1);
    if (next < 0) return 0;
    if (pos >= 0) gaps += next - pos - 1;
    pos = next;
  }
  return q.length >= 3 && gaps <= q.length * 2 ? Math.max(1, 300 - gaps * 10) : 0;
}
function nodeScore(query, d) {
  const qWords = searchWords(query);
  if (!qWords.length) return 0;
  let best = 0;
  for (const name of [d.display_name, d.type, ...(d.comfy_classes || [])]) best = Math.max(best, fieldScore(query, qWords, name));
  // the category and the description only count when every query word is in them
  const cat = searchWords(d.category), desc = searchWords(d.description);
  if (qWords.every((w) => cat.some((x) => x.startsWith(w)))) best = Math.max(best, 250);
  if (qWords.every((w) => desc.some((x) => x.startsWith(w)))) best = Math.max(best, 150);
  return best;
}
function rankNodes(query, nodes, accepts) {
  // the nodes matching `query` (all when empty), best first; `accepts(d)` filters (e.g. takes this wire)
  const out = [];
  for (const d of nodes) {
    if (accepts && !accepts(d)) continue;
    const score = query.trim() ? nodeScore(query, d) : 1;
    if (score > 0) out.push([score, d]);
  }
  out.sort((a, b) => b[0] - a[0] || String(a[1].display_name).length - String(b[1].display_name).length ||
    String(a[1].display_name).localeCompare(String(b[1].display_name)));
  return out.map((x) => x[1]);
}
function inputTaking(d, outType) {
  // the first input of declaration `d` a wire of `outType` can feed (socket first, then widget inputs)
  const ins = (d.inputs || []).filter((i) => canConnect(outType, i.type));
  return ins.find((i) => !i.widget) || ins[0] || null;
}
