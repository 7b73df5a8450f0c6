"""The experiment recipes read in one or two files and compose to what they always did.

``fixtures/legacy_experiments`` holds the recipes as they were before they were flattened
(a chain four files deep), renamed ``legacy_<name>``; composed through today's
``train.yaml`` and config groups, each must equal the recipe of the same name now, and the
default model's recipe ``piano14_ctx`` must equal the last leg that trained
``checkpoints/piano14-ctx`` except for its run name and its precision (measured now, fp32
then).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pianodiff.conf import CONF_DIR
from pianodiff.training.run import compose_train_config

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_experiments"
RECIPES = sorted(p.stem.removeprefix("legacy_") for p in (LEGACY / "experiment").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def composed(name: str, legacy: bool = False) -> dict:
    overrides = [f"experiment={'legacy_' if legacy else ''}{name}"]
    if legacy:
        overrides.insert(0, f"hydra.searchpath=[file://{LEGACY}]")
    return OmegaConf.to_container(compose_train_config(overrides))


def test_the_fixture_holds_every_recipe_of_the_old_chain():
    assert RECIPES == [
        "piano14_cpu",
        "piano14_cpu_anneal",
        "piano14_cpu_ctx",
        "piano14_melodies_cpu_ctx",
        "piano14_melodies_cpu_ctx_long",
    ]


@pytest.mark.parametrize("name", RECIPES)
def test_every_old_name_composes_as_before(name):
    before, now = composed(name, legacy=True), composed(name)
    assert before["name"] == now["name"] == name
    changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    assert not changed, f"experiment={name} composes differently in: {changed}"


def test_the_default_recipe_is_the_last_leg_of_the_default_model():
    before, now = composed("piano14_melodies_cpu_ctx_long", legacy=True), composed("piano14_ctx")
    assert now.pop("name") == "piano14_ctx" and before.pop("name") != "piano14_ctx"
    # The one change: the recipe now measures its precision on the host (the leg ran fp32).
    assert (before["trainer"].pop("precision"), now["trainer"].pop("precision")) == (
        "32-true",
        "auto",
    )
    assert now == before
    assert now["model"]["net"]["context"] is True and now["data"]["segment_seconds"] == 2.5


def experiments_named(name: str) -> list[str]:
    """The other experiments ``conf/experiment/<name>.yaml`` builds on (its defaults list)."""
    raw = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "experiment" / f"{name}.yaml"))
    return [e for e in raw.get("defaults") or [] if isinstance(e, str) and e in EXPERIMENTS]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_a_recipe_reads_in_at_most_two_files(name):
    parents = experiments_named(name)
    assert len(parents) <= 1
    for parent in parents:
        assert not experiments_named(parent), f"{name} -> {parent} -> {experiments_named(parent)}"
