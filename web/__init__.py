"""fluxwire's browser editor: a Gradio app whose centre is a node canvas.

`web.app.serve` starts it (``fluxwire serve``), `web.app.build_app` returns the Blocks, and
`web.canvas.NodeCanvas` is the component to embed in another Gradio app (see docs/canvas.md).
Nothing is imported here so that `import web.runner` stays cheap.
"""
