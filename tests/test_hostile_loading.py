"""The hostile files of ``hostile.py`` are real (loaded the unsafe way, their payload runs),
and the allow-list of checkpoint targets covers exactly what the shipped configs build."""

from __future__ import annotations

import pickle
import sys

import pytest
import torch
import yaml
from hostile import CODE_KINDS, PICKLE_KINDS, evil_checkpoint, evil_export, victim_file
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf

from pianodiff.checkpoint.export import NETWORK_TARGETS, SCHEDULE_TARGETS, plain_sections
from pianodiff.conf import group_choices
from pianodiff.training.run import compose_train_config


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
            plain_sections(cfg, trusted=True)  # raises if a shipped option were refused
            targets.add(cfg[group]._target_)
    assert targets <= NETWORK_TARGETS | SCHEDULE_TARGETS
    for name in NETWORK_TARGETS | SCHEDULE_TARGETS:  # and every allowed name is ours and real
        assert name.startswith("pianodiff.") and callable(get_object(name))
