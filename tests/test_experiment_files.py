"""Experiment files: one file per recipe, variants selected big_vision style (``--config FILE.py:VARIANT``).

Checks that every recipe file and every variant it declares loads and validates, that ``load_experiment``'s
``:VARIANT`` selection fails clearly, and that the files named in fixed interfaces give exactly the config of the
recipe variant they stand for. Configs are only built, never trained: the whole module takes seconds.
"""

import pathlib
import runpy

import pytest

from jaxrobot import config as C

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"

# Files that outside scripts name: they stay plain files, loadable with no variant, under these names.
FIXED_NAMES = ("bc_synthetic.py", "bc_pick_cube.py", "act_aloha_defaults.py", "diffusion_pusht_defaults.py",
               "grasp_maps.py", "act_pick_cube_state.py", "diffusion_push_t_state.py")
# Fixed-name files that are one variant of a recipe file (and delegate to it rather than copy it).
FIXED_VARIANTS = {
    "act_pick_cube_state.py": "act_pick_cube.py:state",
    "diffusion_push_t_state.py": "diffusion_push_t.py:state",
    "act_aloha_defaults.py": "act_synthetic.py:full",
    "diffusion_pusht_defaults.py": "diffusion_synthetic.py:full",
}
# Spec strings that docs, tests and benchmarks use: they must keep working.
KNOWN_SPECS = ("act_pick_cube.py:image", "act_pick_cube.py:full", "act_push_t.py:image",
               "diffusion_pick_cube.py:image", "diffusion_push_t.py:image", "act_synthetic.py:small",
               "diffusion_synthetic.py:small", "act_bridge.py:mixture", "bc_bridge.py:mixture",
               "diffusion_bridge.py:mixture", "grasp_synthetic.py:maps", "grasp_synthetic.py:candidates",
               "servo.py:synthetic", "servo.py:target", "servo.py:peg")


def _declared_variants(path: pathlib.Path) -> tuple[str, ...]:
    """The file's module-level ``VARIANTS`` (defined there or imported from a shared recipe), by running the file:
    experiment files only build configs, so this is cheap even at collection time."""
    return tuple(runpy.run_path(str(path)).get("VARIANTS", ()))


FILES = sorted(EXPERIMENTS.glob("*.py"))
RECIPES = [p for p in FILES if _declared_variants(p)]
SPECS = [f"{p.name}:{v}" for p in RECIPES for v in _declared_variants(p)]


def load(spec: str, overrides=()) -> C.Config:
    return C.load_experiment(f"{EXPERIMENTS}/{spec}", overrides)


@pytest.mark.parametrize("spec", SPECS)
def test_every_variant_loads_and_validates(spec):
    cfg = load(spec)
    assert C.validate(cfg) is cfg and cfg.name
    assert C.from_json(C.to_json(cfg)) == cfg


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_file_declares_and_documents_its_variants(path):
    variants = _declared_variants(path)
    module = runpy.run_path(str(path))
    assert tuple(module["VARIANTS"]) == variants and len(set(variants)) == len(variants) > 1
    # no variant means the first one
    assert C.to_json(load(path.name)) == C.to_json(load(f"{path.name}:{variants[0]}"))
    # each variant is its own experiment: distinct names keep checkpoints and logs apart
    names = [load(f"{path.name}:{v}").name for v in variants]
    assert len(set(names)) == len(names), names
    # the docstring opens with the commands that run each variant
    doc = path.read_text().split('"""')[1]
    for v in variants:
        assert f"experiments/{path.name}:{v} " in doc or (v == variants[0] and f"experiments/{path.name} " in doc), v
    # called directly (not through load_experiment), an unknown variant still fails naming the known ones
    with pytest.raises(C.ConfigError, match=", ".join(variants)):
        module["get_config"]("no_such_variant")


@pytest.mark.parametrize("spec", KNOWN_SPECS)
def test_specs_used_in_docs_and_tests_resolve(spec):
    assert spec in SPECS


@pytest.mark.parametrize("name", FIXED_NAMES)
def test_fixed_name_files_stay_plain_files(name):
    path = EXPERIMENTS / name
    assert path.is_file() and not _declared_variants(path)
    cfg = C.load_experiment(path)
    assert cfg.name == path.stem
    assert "jaxrobot " in path.read_text().split('"""')[1]


@pytest.mark.parametrize("name, spec", sorted(FIXED_VARIANTS.items()))
def test_fixed_name_file_is_its_recipe_variant(name, spec):
    assert C.to_json(C.load_experiment(EXPERIMENTS / name)) == C.to_json(load(spec))
    assert f'load_variant(__file__, "{spec}")' in (EXPERIMENTS / name).read_text()  # delegates, does not copy


def test_overrides_apply_to_the_selected_variant():
    cfg = load("act_pick_cube.py:image", ["train.steps=5", "model.dim_model=64"])
    assert cfg.name == "act_pick_cube_image" and cfg.train.steps == 5 and cfg.model.dim_model == 64
    assert cfg.data.cameras == ("front",)


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(C.ConfigError, match=r"unknown variant 'bogus'; known: state, image, full"):
        load("act_pick_cube.py:bogus")


def test_variant_of_a_file_without_variants_is_refused():
    with pytest.raises(C.ConfigError, match=r"has no variants \(its get_config\(\) takes no argument\)"):
        load("bc_synthetic.py:small")


def test_empty_variant_is_refused():
    with pytest.raises(C.ConfigError, match="empty variant"):
        load("act_pick_cube.py:")


def test_file_must_be_python(tmp_path):
    (tmp_path / "exp.txt").write_text("def get_config():\n    return None\n")
    with pytest.raises(C.ConfigError, match=r"is not a \.py file"):
        C.load_experiment(tmp_path / "exp.txt")
    with pytest.raises(C.ConfigError, match=r"is not a \.py file"):  # forgot the .py before the variant
        load("act_pick_cube:image")


def test_missing_file_with_or_without_variant(tmp_path):
    with pytest.raises(C.ConfigError, match=r"missing\.py does not exist"):
        C.load_experiment(tmp_path / "missing.py")
    with pytest.raises(C.ConfigError, match=r"missing\.py does not exist"):
        C.load_experiment(f"{tmp_path}/missing.py:state")


def test_file_without_get_config(tmp_path):
    (tmp_path / "bad.py").write_text("VARIANTS = ('a',)\n")
    for spec in ("bad.py", "bad.py:a"):
        with pytest.raises(C.ConfigError, match="defines no get_config"):
            C.load_experiment(f"{tmp_path}/{spec}")


def test_recipe_without_variants_tuple_gets_the_raw_argument(tmp_path):
    """big_vision-style free-form args: with no ``VARIANTS`` the argument goes to ``get_config`` unchecked."""
    (tmp_path / "free.py").write_text(
        "from jaxrobot.config import ConfigError, load_experiment\n"
        f"BC = {str(EXPERIMENTS / 'bc_synthetic.py')!r}\n"
        "def get_config(arg=None):\n"
        "    if arg not in (None, 'steps=7'):\n"
        "        raise ConfigError(f'free.py: unknown arg {arg!r}')\n"
        "    return load_experiment(BC, ['train.steps=7'] if arg else [])\n")
    assert C.load_experiment(f"{tmp_path}/free.py:steps=7").train.steps == 7
    assert C.load_experiment(f"{tmp_path}/free.py").train.steps == 2000
    with pytest.raises(C.ConfigError, match="unknown arg 'x'"):
        C.load_experiment(f"{tmp_path}/free.py:x")


def test_colon_selects_a_variant_only_after_dot_py(tmp_path):
    """A folder whose name holds a colon is a plain path: only ``.py:`` starts a variant."""
    folder = tmp_path / "runs:1"
    folder.mkdir()
    (folder / "exp.py").write_text(
        "from jaxrobot.config import load_variant\n"
        f"HERE = {str(EXPERIMENTS / 'x.py')!r}\n"
        "def get_config():\n"
        "    return load_variant(HERE, 'act_pick_cube.py:image')\n")
    cfg = C.load_experiment(f"{folder}/exp.py")
    assert cfg.name == "act_pick_cube_image"


def test_load_variant_resolves_next_to_the_calling_file(tmp_path):
    with pytest.raises(C.ConfigError, match="does not exist"):
        C.load_variant(tmp_path / "caller.py", "act_pick_cube.py:state")
    assert C.load_variant(EXPERIMENTS / "anything.py", "act_pick_cube.py:state").name == "act_pick_cube_state"
