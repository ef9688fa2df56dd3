"""Node packs: built-ins, a user folder, installed entry points; broken and clashing packs."""
import sys
import textwrap

from flux_core.graph.registry import Registry, discover

PACK = '''
from flux_core.graph.node import Node, Output, Float
class {name}(Node):
    """A node from a user pack."""
    category = "user"
    inputs = [Float("v", 1.0)]
    outputs = [Output("v", "FLOAT")]
    def run(self, ctx, v):
        return v
NODES = [{name}]
'''


def write_pack(folder, filename, text):
    path = folder / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_packs_load():
    reg = Registry()
    reg.load_builtin()
    assert reg.get("Math") is not None and reg.get("Math").pack == "basic"
    assert not reg.failures


def test_user_folder_packs_broken_pack_is_reported_and_others_still_load(tmp_path):
    write_pack(tmp_path, "good_pack.py", PACK.format(name="UserNode"))
    write_pack(tmp_path, "pkg_pack/__init__.py", PACK.format(name="PkgNode"))
    write_pack(tmp_path, "broken_pack.py", "import not_a_real_module_xyz\n")
    write_pack(tmp_path, "skipped.py.disabled", "raise SystemExit\n")
    write_pack(tmp_path, "clash.py", PACK.format(name="Math"))
    reg = discover(tmp_path, entry_points=False)
    assert reg.get("UserNode").pack == "good_pack" and reg.get("PkgNode").pack == "pkg_pack"
    assert "broken_pack" in reg.failures and "not_a_real_module_xyz" in reg.failures["broken_pack"]
    assert reg.get("Math").pack == "basic"  # the built-in keeps its name
    assert any("clash" in p and "'Math'" in p and "basic" in p for p in reg.problems)


def test_badly_declared_node_is_refused_with_reason(tmp_path):
    write_pack(tmp_path, "bad_decl.py", '''
        from flux_core.graph.node import Node, Output, Int
        class Wrong(Node):
            inputs = [Int("n", 500, min=0, max=10)]
            outputs = [Output("x", "NOT_A_TYPE")]
            def run(self, ctx, n):
                return n
        NODES = [Wrong]
    ''')
    reg = discover(tmp_path, entry_points=False)
    assert reg.get("Wrong") is None
    (msg,) = reg.packs["bad_decl"].problems
    assert "NOT_A_TYPE" in msg and "between 0 and 10" in msg


def test_installed_pack_is_found_through_its_entry_point(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_pack(site, "ep_pack_mod.py", PACK.format(name="EntryPointNode"))
    dist = site / "ep_pack-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-pack\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[fluxwire.nodes]\nep_pack = ep_pack_mod\n")
    monkeypatch.syspath_prepend(str(site))
    reg = discover(tmp_path / "empty")
    assert reg.get("EntryPointNode") is not None and reg.get("EntryPointNode").pack == "ep_pack"
    sys.modules.pop("ep_pack_mod", None)


def test_catalogue_describes_every_node_from_its_class():
    reg = discover(None, entry_points=False)
    cat = {d["type"]: d for d in reg.describe()}
    math = cat["Math"]
    assert math["category"] == "values" and math["description"].startswith("Arithmetic")
    assert [i["name"] for i in math["inputs"]] == ["a", "b", "op"]
    assert math["inputs"][2]["widget"]["choices"] == ["add", "subtract", "multiply", "divide"]
    assert math["outputs"] == [{"name": "result", "type": "FLOAT", "description": ""}]
