"""The hostile files of ``hostile.py`` are real (loaded the unsafe way, their payload runs),
and the allow-list of checkpoint targets covers exactly what the shipped configs build."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
import torch
import yaml
from hostile import (
    CODE_KINDS,
    PICKLE_KINDS,
    alias_bomb,
    bomb_checkpoint,
    evil_checkpoint,
    evil_export,
    victim_file,
)
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf

from pianodiff.checkpoint.build_limits import network_size_problem, schedule_steps_problem
from pianodiff.checkpoint.export import (
    NETWORK_TARGETS,
    SCHEDULE_TARGETS,
    CheckpointError,
    build_network,
    plain_sections,
)
from pianodiff.checkpoint.from_training import load_training_checkpoint
from pianodiff.checkpoint.plain_yaml import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    PlainYamlError,
    read_plain_yaml,
    size_problem,
)
from pianodiff.conf import group_choices
from pianodiff.training.run import compose_train_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kind", PICKLE_KINDS)
def test_hostile_pickles_are_real(kind, tmp_path):
    marker = tmp_path / "marker"
    path = evil_checkpoint(tmp_path / "evil.ckpt", marker, kind)
    if kind == "raw_pickle":
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)  # what the loaders used to do
    assert marker.exists()


@pytest.mark.parametrize("kind", CODE_KINDS)
def test_hostile_configs_are_real(kind, tmp_path, monkeypatch):
    """Built the unsafe way (Hydra instantiate of the file's config), each payload runs."""
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    export = evil_export(tmp_path / "evil", kind, marker, victim)
    monkeypatch.syspath_prepend(str(export))
    try:
        if kind == "yaml_python_tag":
            yaml.unsafe_load((export / "config.yaml").read_text())
        else:
            config = OmegaConf.load(export / "config.yaml")
            instantiate(config.diffusion)
            instantiate(config.model)
    except Exception:
        pass  # the payload ran before the build failed
    finally:
        sys.modules.pop("evilmod", None)
    assert marker.exists() or victim.read_text() != "precious\n"


def test_allow_list_covers_every_shipped_model_and_schedule():
    targets = set()
    for group in ("model", "diffusion"):
        for option in group_choices(group):
            cfg = compose_train_config([f"{group}={option}"])
            model, diffusion = plain_sections(cfg, trusted=True)  # raises if refused
            assert schedule_steps_problem(diffusion, "diffusion") is None
            assert schedule_steps_problem(model, "model") is None
            assert network_size_problem(model, "model", SCHEDULE_TARGETS) is None
            targets.add(cfg[group]._target_)
    assert targets <= NETWORK_TARGETS | SCHEDULE_TARGETS
    for name in NETWORK_TARGETS | SCHEDULE_TARGETS:  # and every allowed name is ours and real
        assert name.startswith("pianodiff.") and callable(get_object(name))


# -- the plain YAML reader ------------------------------------------------------------------


def test_every_shipped_export_config_reads_as_omegaconf_reads_it():
    """The safe reader agrees with OmegaConf on real files (numbers, dates, text)."""
    configs = sorted((ROOT / "checkpoints").glob("*/config.yaml"))
    assert configs
    for path in configs:
        assert OmegaConf.create(read_plain_yaml(path)) == OmegaConf.load(path)


def test_values_are_read_as_omegaconf_reads_them(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: 1e-4\nb: 1e9\nc: 2026-01-02\nd: yes\ne: 0x10\nf: null\ng: .5\n")
    assert read_plain_yaml(path) == OmegaConf.to_container(OmegaConf.load(path))


BAD_YAML = [
    # (YAML text, what the one-line problem says)
    (alias_bomb(), "line 1: YAML anchors and aliases (&a0) are refused"),
    ("a: 1\nb: *x\n", "line 2: YAML anchors and aliases (*x) are refused"),
    ("base: &b {x: 1}\nmore: {<<: *b}\n", "(&b) are refused"),
    ("model: " + "[" * 100 + "]" * 100 + "\n", f"nested deeper than {MAX_DEPTH} levels"),
    ("x: [" + ", ".join(["1"] * (MAX_NODES + 1)) + "]\n", f"more than {MAX_NODES:,} values"),
    ("a: 1\na: 2\n", "line 2: duplicate key 'a'"),
    ("a: !!python/object/apply:os.system [ls]\n", "line 1: could not determine a constructor"),
    ("a: [1,\n", "line 2:"),
]


@pytest.mark.parametrize("text,expect", BAD_YAML, ids=[str(i) for i in range(len(BAD_YAML))])
def test_plain_reader_refuses_before_expanding(text, expect, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(PlainYamlError) as info:
        read_plain_yaml(path)
    assert expect in str(info.value) and "\n" not in str(info.value)


def test_plain_reader_refuses_a_large_file_unread(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("notes: " + "x" * MAX_BYTES + "\n")
    with pytest.raises(PlainYamlError, match="more than the 1,048,576 a config may hold"):
        read_plain_yaml(path)


def test_shared_references_count_as_expanded():
    shared: list = [0] * 9
    for _ in range(9):
        shared = [shared] * 9
    assert f"more than {MAX_NODES:,} values" in size_problem({"x": shared})
    deep: list = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    assert f"deeper than {MAX_DEPTH}" in size_problem(deep)
    assert size_problem({"model": {"a": [1, 2, 3]}}) is None


def test_a_pickled_bomb_is_refused_by_the_checkpoint_reader(tmp_path):
    path = bomb_checkpoint(tmp_path / "bomb.ckpt")
    with pytest.raises(CheckpointError, match="more than 10,000 values; refused, nothing was run"):
        load_training_checkpoint(path)


# -- sizes checked before building --------------------------------------------------------

TINY = {"_target_": "pianodiff.nets.DiffWave", "residual_layers": 2, "residual_channels": 8,
        "dilation_cycle": 2}  # fmt: skip
HUGE = [
    # (model section, the key the one line names)
    ({**TINY, "residual_channels": 100_000_000}, "model.residual_channels = 100000000"),
    ({**TINY, "residual_channels": 20_000}, "model.residual_channels = 20000"),  # 9.6 GB
    ({**TINY, "residual_layers": 10**9}, "model.residual_layers = 1000000000"),
    (
        {"_target_": "pianodiff.diffusion.preconditioning.PreconditionedEps", "data_std": 0.1,
         "schedule": {"_target_": "pianodiff.diffusion.schedule.linear_schedule",
                      "num_steps": 8},
         "net": {"_target_": "pianodiff.nets.MultiRateDiffWave", "frame": 10**8}},
        "model.net.frame = 100000000",
    ),
    (
        {"_target_": "pianodiff.diffusion.preconditioning.PreconditionedEps", "data_std": 0.1,
         "schedule": {"_target_": "pianodiff.diffusion.schedule.cosine_schedule",
                      "num_steps": 10**9},
         "net": TINY},
        "model.schedule.num_steps = 1000000000 is not a number of steps",
    ),
]  # fmt: skip


@pytest.mark.parametrize("model,expect", HUGE, ids=[h[1].split(" =")[0] for h in HUGE])
def test_a_network_too_large_is_refused_before_it_is_built(model, expect):
    with pytest.raises(CheckpointError) as info:
        build_network(model, "config.yaml")
    line = str(info.value)
    assert line.startswith(f"config.yaml: {expect}") and "refused, nothing was run" in line
    assert "\n" not in line


def test_the_size_count_leaves_no_hook_behind():
    """The meta build's registration hooks are removed: a later real build is untouched."""
    assert network_size_problem({**TINY, "residual_layers": 10**9}, "model", SCHEDULE_TARGETS)
    net = build_network(TINY)
    assert all(p.device.type == "cpu" for p in net.parameters())
    assert sum(p.numel() for p in net.parameters()) == net.num_parameters() > 0
