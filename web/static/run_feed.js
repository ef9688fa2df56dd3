// fluxwire canvas, run states: one place where they arrive, from Gradio's run_state prop (the documented,
// cumulative state) or from this page's own run feed (web/run_feed.py): a stream of the page's runs that
// carries only the nodes whose state changed, merged here into the same cumulative state. Gradio copies the
// whole component (the document) for every prop update, ~150-250 ms with 500 nodes; the feed costs what
// changed. Parts that react to run states register with onRunState(fn) and read lastRunState(); fn gets
// the cumulative state. The feed key (random, 128 bits) goes with each Run (run.js); without an open feed
// the server sends the states as the prop, as before.

var runStateListeners = [];  // var: parts before this one may register during start-up
let latestRunState = props.run_state || null;
const FEED_HEADER = "X-Fluxwire-Feed";
const runFeedKey = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
let runFeedOpen = false;
const feedRuns = new Map();  // run id -> cumulative state built from the feed's messages (the last few runs)

function onRunState(fn) { runStateListeners.push(fn); }
function lastRunState() { return latestRunState; }
function runStateArrived(state) {
  if (!state || typeof state !== "object") return;
  latestRunState = state;
  for (const fn of runStateListeners) {
    try { fn(state); } catch (err) { console.error("fluxwire: a run state handler failed", err); }
  }
}
function runFeedKeyForRun() { return runFeedOpen ? runFeedKey : null; }
function mergeFeedMessage(msg) {
  // a message holds the run's fields and the nodes that changed since the previous one (their whole state)
  if (!msg || typeof msg !== "object" || !msg.run_id) return null;
  let run = feedRuns.get(msg.run_id);
  if (!run) {
    run = { nodes: {} };
    feedRuns.set(msg.run_id, run);
    while (feedRuns.size > 8) feedRuns.delete(feedRuns.keys().next().value);
  }
  for (const [k, v] of Object.entries(msg)) if (k !== "nodes" && k !== "seq" && k !== "delta") run[k] = v;
  Object.assign(run.nodes, msg.nodes || {});
  // a new object each time, as the prop is: handlers may keep the state they were given
  return Object.assign({}, run, { nodes: Object.assign({}, run.nodes) });
}
const resultsAsked = new Set();  // runs whose pictures the gallery was asked for (a reopened stream repeats a state)
let galleryShows = null;  // the pictures (JSON) the gallery was last asked to show
function feedStateArrived(state) {
  runStateArrived(state);
  // the run event has no outputs (web/canvas.py wire): once the run has ended, the gallery is asked for its
  // pictures -- unless they are the ones it shows already (a cached run makes the same files: Gradio would
  // redraw the gallery for nothing)
  if (state && state.status && state.status !== "running" && !resultsAsked.has(state.run_id)) {
    resultsAsked.add(state.run_id);
    if (resultsAsked.size > 64) resultsAsked.delete(resultsAsked.values().next().value);
    // (as with run_graph: a run that failed without pictures leaves the gallery as it is)
    const pictures = JSON.stringify(state.images || []);
    if ((state.status !== "success" && pictures === "[]") || pictures === galleryShows) return;
    galleryShows = pictures;
    trigger("show_results", { feed: runFeedKey, run_id: state.run_id });
  }
}
function runFeedUrl(path) {
  const cfg = window.gradio_config || {};
  return (cfg.root ? String(cfg.root).replace(/\/+$/, "") : ".") + path;
}
async function followRunFeed(path) {
  let wait = 500;
  while (root.isConnected) {
    try {
      const res = await fetch(runFeedUrl(path), { headers: { [FEED_HEADER]: runFeedKey }, cache: "no-store" });
      if (!res.ok || !res.body) throw new Error("the run feed answered " + res.status);
      runFeedOpen = true;
      root.dataset.runFeed = "1";
      wait = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) feedStateArrived(mergeFeedMessage(JSON.parse(data)));
        }
        if (!root.isConnected) { reader.cancel(); return; }
      }
    } catch (err) {
      // no feed (an app that does not serve it, a server restarting): runs come as the prop meanwhile
    }
    runFeedOpen = false;
    root.dataset.runFeed = "0";
    await new Promise((done) => setTimeout(done, wait));
    wait = Math.min(wait * 2, 10000);
  }
}
watch(["run", "state"].join("_"), () => runStateArrived(props.run_state));  // built, not quoted: see run.js
// only where the app serves the feed (an app embedding the canvas may not): asked first, so no request fails
server.run_feed_path(null).then((path) => { if (typeof path === "string" && path.startsWith("/")) followRunFeed(path); })
  .catch(() => {});
