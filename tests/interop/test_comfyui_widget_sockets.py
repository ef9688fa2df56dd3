"""Widgets shown as input sockets in ComfyUI become fluxwire's ``ui.widget_inputs`` and are written back.

Before frontend 1.16 a widget input entry (``widget: {name}``) existed only for a widget the user converted
("Convert to input"), linked or not, and the canvas showed it as a socket. From 1.16 every widget has an
entry and is a socket only while linked; the workflow embedded in pictures drops the unlinked entries and
carries ``extra.frontendVersion``. The documents here are the same FLUX dev graph in each form (the newer
ones written by ComfyUI's own frontend 1.27.10)."""
import copy

from flux_core.interop.comfyui import comfyui_to_document
from flux_core.interop.comfyui.export_ui import to_ui_workflow
from flux_core.interop.comfyui.ui import widget_sockets_listed
from flux_core.graph.registry import default_registry
from flux_core.graph.workflow import parse_document

from .conftest import fixture
from .test_comfyui_export_ui import chains, without_reroute_ids


def old_frontend() -> dict:
    """ui_dev_split as a frontend before 1.16 saves it with three converted widgets: the prompt text (no
    link yet), the latent width (no link yet) and the noise seed (fed by a PrimitiveNode, as in the fixture)."""
    data = fixture("ui_dev_split.json")
    nodes = {n["id"]: n for n in data["nodes"]}
    nodes[5]["inputs"].append({"name": "text", "type": "STRING", "link": None,
                               "widget": {"name": "text", "config": ["STRING", {"multiline": True}]}})
    nodes[14]["inputs"] = [{"name": "width", "type": "INT", "link": None, "widget": {"name": "width"},
                            "slot_index": 0}]
    return data


def new_frontend_saved() -> dict:
    """ui_dev_split as ComfyUI's frontend 1.27.10 saves it after loading it (graph.serialize(), made by
    tools/comfyui_frontend_check.py's ComfyUI): an input entry for every widget, no version stamp."""
    return fixture("ui_dev_split_frontend_1_27.json")


def new_frontend_in_picture() -> dict:
    """What the same frontend embeds in a picture (graphToPrompt's workflow): unlinked widget entries
    dropped, links renumbered to the remaining slots, ``extra.frontendVersion`` stamped."""
    return fixture("ui_dev_split_frontend_1_27_picture.json")


def sockets(doc: dict) -> dict:
    return {n["id"]: n["ui"]["widget_inputs"] for n in doc["nodes"] if "widget_inputs" in n.get("ui", {})}


def without_sockets(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    for n in doc["nodes"]:
        n.get("ui", {}).pop("widget_inputs", None)
    return doc


def test_old_frontend_converted_widgets_are_sockets_linked_or_not():
    assert not widget_sockets_listed(old_frontend())
    doc = comfyui_to_document(old_frontend())
    # fluxwire's names: RandomNoise's noise_seed is fluxwire's seed
    assert sockets(doc) == {"5": ["text"], "14": ["width"], "12": ["seed"]}
    by_id = {n["id"]: n for n in doc["nodes"]}
    # still the widgets' values until a link feeds them; the primitive's value went into the seed
    assert by_id["5"]["widgets"]["text"] == "a lighthouse at night, (stormy sea:1.2)"
    assert by_id["14"]["widgets"]["width"] == 64 and by_id["12"]["widgets"]["seed"] == 42


def test_new_frontend_shows_only_linked_widgets_as_sockets():
    saved, embedded = new_frontend_saved(), new_frontend_in_picture()
    assert widget_sockets_listed(saved) and widget_sockets_listed(embedded)
    for data in (saved, embedded):
        assert sockets(comfyui_to_document(data)) == {"12": ["seed"]}
    # the same graph as the old frontend's file: only which widgets are sockets differs
    assert without_sockets(comfyui_to_document(saved)) == without_sockets(comfyui_to_document(old_frontend()))
    assert comfyui_to_document(embedded) == comfyui_to_document(saved)


def test_the_stamped_frontend_version_decides():
    old_stamped = old_frontend()
    old_stamped["extra"]["frontendVersion"] = "1.15.13"
    assert sockets(comfyui_to_document(old_stamped)) == {"5": ["text"], "14": ["width"], "12": ["seed"]}
    # a 1.16 save of the old file without its converted widgets linked: they are plain widgets again
    new_stamped = old_frontend()
    new_stamped["extra"]["frontendVersion"] = "1.16.0"
    assert sockets(comfyui_to_document(new_stamped)) == {"12": ["seed"]}


def export_ui(doc: dict) -> dict:
    return to_ui_workflow(parse_document(doc), default_registry())


def test_round_trip_keeps_the_sockets():
    for data in (old_frontend(), new_frontend_saved(), new_frontend_in_picture()):
        first = comfyui_to_document(data)
        exported = export_ui(first)
        again = comfyui_to_document(exported)
        assert sockets(again) == sockets(first)
        assert without_reroute_ids(again) == without_reroute_ids(first) and chains(again) == chains(first)
    exported = export_ui(comfyui_to_document(old_frontend()))
    nodes = {n["id"]: n for n in exported["nodes"]}
    # written as ComfyUI reads a converted widget: an input entry naming the widget, linked or not
    assert {"name": "text", "type": "STRING", "widget": {"name": "text"}, "link": None} in nodes[5]["inputs"]
    assert {"name": "width", "type": "INT", "widget": {"name": "width"}, "link": None} in nodes[14]["inputs"]
    seed = next(x for x in nodes[12]["inputs"] if x.get("widget") == {"name": "noise_seed"})
    assert seed["link"] is None  # the primitive is not written back; its value is the widget's
    assert nodes[12]["widgets_values"][0] == 42
    assert not any(x.get("widget") for x in nodes[6]["inputs"])  # guidance: a plain widget


def test_a_canvas_made_socket_is_written_for_comfyui():
    """A fluxwire document whose user turned KSampler's steps and cfg into sockets, one fed by a value node."""
    doc = comfyui_to_document(fixture("api_dev_checkpoint.json"))
    sampler = next(n for n in doc["nodes"] if n["type"] == "KSampler")
    sampler.setdefault("ui", {})["widget_inputs"] = ["steps", "cfg", "no_such_widget"]
    doc["nodes"].append({"id": "steps", "type": "IntValue", "widgets": {"value": 3}})
    doc["links"].append({"from": "steps", "output": "value", "to": sampler["id"], "input": "steps"})
    exported = export_ui(doc)
    node = next(n for n in exported["nodes"] if n["type"] == "KSampler")
    entries = {x["widget"]["name"]: x for x in node["inputs"] if x.get("widget")}
    assert set(entries) == {"steps", "cfg"} and entries["cfg"]["link"] is None
    assert entries["steps"]["link"] is not None and entries["steps"]["type"] == "INT"
    again = comfyui_to_document(exported)
    assert sockets(again) == {str(node["id"]): ["steps", "cfg"]}
