// fluxwire canvas, its CSS: installed once per page as one <style> in <head>, scoped to the component's
// element by the attribute data-fw-canvas (nested CSS, as Gradio scopes a css_template to its element id).
// Why not css_template: Gradio writes that <style>'s text again on every prop update (each run-state
// update, each edit sent as the value), and a rewritten style sheet makes Chrome recompute the style of
// every element on the page: ~430 ms per update with 500 nodes. CANVAS_CSS is put before the parts by
// web/canvas.py (CSS_PARTS joined).

element.dataset.fwCanvas = "";
(() => {
  const text = "[data-fw-canvas] {\n" + CANVAS_CSS + "\n}";
  let sheet = document.getElementById("fluxwire-canvas-css");
  if (!sheet) {
    sheet = document.createElement("style");
    sheet.id = "fluxwire-canvas-css";
    document.head.appendChild(sheet);
  }
  if (sheet.textContent !== text) sheet.textContent = text;
})();
