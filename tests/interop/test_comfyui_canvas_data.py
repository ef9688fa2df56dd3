"""Canvas data of ComfyUI UI workflows kept on import: reroutes (legacy Reroute nodes and 0.4 native
reroutes, as points in extra.reroutes / extra.link_reroutes), pinned and collapsed flags, colours, titles,
sizes, groups. Nothing here changes what runs, so no models are needed."""
import copy

from flux_core.interop.comfyui import comfyui_to_document

from .conftest import fixture


def with_reroutes() -> dict:
    """ui_dev_split plus: a second Reroute node (21) after 10 on the way to 9.model, native reroutes 1 -> 2 on
    the link into 8.model, native 4 after Reroute node 21, a floating native reroute 3 and a stale extension."""
    data = fixture("ui_dev_split.json")
    nodes = {n["id"]: n for n in data["nodes"]}
    nodes[10]["outputs"][0]["links"] = [6]
    nodes[9]["inputs"][0]["link"] = 20
    data["nodes"].append({"id": 21, "type": "Reroute", "pos": [760, 90], "size": [75, 26], "flags": {}, "mode": 0,
                          "inputs": [{"name": "", "type": "*", "link": 6}],
                          "outputs": [{"name": "", "type": "MODEL", "links": [20]}], "properties": {}})
    for link in data["links"]:
        if link[0] == 6:
            link[3] = 21
    data["links"].append([20, 21, 0, 9, 0, "MODEL"])
    data["extra"]["reroutes"] = [{"id": 1, "pos": [900, 100], "linkIds": [5]},
                                 {"id": 2, "parentId": 1, "pos": [1000, 150], "linkIds": [5]},
                                 {"id": 3, "pos": [5, 5], "linkIds": [], "floating": {"slotType": "output"}},
                                 {"id": 4, "pos": [1100, 300], "linkIds": [20]}]
    data["extra"]["linkExtensions"] = [{"id": 5, "parentId": 2}, {"id": 20, "parentId": 4},
                                       {"id": 999, "parentId": 1}]
    return data


EXPECTED_POINTS = {"r1": ([900, 100], None), "r2": ([1000, 150], "r1"), "r4": ([1100, 300], "n21"),
                   "n10": ([720, 60], None), "n21": ([760, 90], "n10")}
EXPECTED_LINKS = {"8/model": "r2", "9/model": "r4"}


def points(doc: dict) -> dict:
    return {p["id"]: (p["pos"], p["parent"]) for p in doc["extra"]["reroutes"]}


def test_legacy_native_and_mixed_reroutes_become_points_with_the_same_chains():
    doc = comfyui_to_document(with_reroutes())
    assert points(doc) == EXPECTED_POINTS  # the floating reroute 3 and the stale extension are dropped
    assert doc["extra"]["link_reroutes"] == EXPECTED_LINKS
    assert not any(n["id"] in ("10", "21") for n in doc["nodes"])  # Reroute nodes are still not nodes
    assert {"from": "4", "output": "model", "to": "9", "input": "model"} in doc["links"]


def test_object_links_with_parent_ids_and_top_level_reroutes_read_the_same():
    """Schema-1 style: links as objects carrying parentId, reroutes at the top level."""
    data = with_reroutes()
    extensions = {e["id"]: e["parentId"] for e in data["extra"].pop("linkExtensions")}
    data["reroutes"] = data["extra"].pop("reroutes")
    data["links"] = [dict(id=l[0], origin_id=l[1], origin_slot=l[2], target_id=l[3], target_slot=l[4], type=l[5],
                          **({"parentId": extensions[l[0]]} if l[0] in extensions else {})) for l in data["links"]]
    doc = comfyui_to_document(data)
    assert points(doc) == EXPECTED_POINTS and doc["extra"]["link_reroutes"] == EXPECTED_LINKS


def test_fan_out_shares_points_and_unused_chains_are_dropped():
    data = with_reroutes()
    # the same model output also reaches the scheduler-free guider input through native 1 only
    data["extra"]["linkExtensions"] = [{"id": 5, "parentId": 1}, {"id": 20, "parentId": 4}]
    doc = comfyui_to_document(data)
    assert doc["extra"]["link_reroutes"] == {"8/model": "r1", "9/model": "r4"}
    assert "r2" not in points(doc)  # no link ends at or passes through it any more


def test_pinned_collapsed_colours_titles_sizes_and_groups():
    data = fixture("ui_dev_split.json")
    nodes = {n["id"]: n for n in data["nodes"]}
    nodes[5]["flags"] = {"collapsed": True, "pinned": True}
    nodes[6]["title"] = "Guidance!"
    data["groups"].append({"id": 2, "title": "Pinned", "bounding": [10, 20, 30, 40], "color": "#a1309b",
                           "font_size": 18, "flags": {"pinned": True}})
    doc = comfyui_to_document(data)
    by_id = {n["id"]: n for n in doc["nodes"]}
    assert by_id["5"]["ui"] == {"pos": [380, 200], "size": [400, 200], "color": "#232", "bgcolor": "#353",
                                "collapsed": True, "pinned": True, "title": "Prompt"}
    assert by_id["6"]["ui"]["title"] == "Guidance!" and "pinned" not in by_id["6"]["ui"]
    assert doc["groups"][1] == {"title": "Pinned", "bounding": [10, 20, 30, 40], "color": "#a1309b",
                                "font_size": 18, "pinned": True}


def test_a_reroute_cycle_in_a_hand_edited_file_does_not_hang():
    data = copy.deepcopy(with_reroutes())
    data["extra"]["reroutes"][0]["parentId"] = 2  # 1 -> 2 -> 1
    doc = comfyui_to_document(data)
    assert doc["extra"]["link_reroutes"]["8/model"] == "r2"
    chain = points(doc)
    assert chain["r2"][1] == "r1" and chain["r1"][1] is None  # the cycle is cut, the chain kept
