"""The model card is rendered from what loading accepts, with the built network's figures."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from pianodiff.checkpoint.export import CheckpointError, export_model
from pianodiff.checkpoint.model_card import render_model_card
from pianodiff.nets import DiffWave, MultiRateDiffWave

SCHEDULE = {"_target_": "pianodiff.diffusion.schedule.linear_schedule", "num_steps": 50}


def _framed_export(tmp_path):
    shape = {"frame": 8, "residual_layers": 3, "residual_channels": 8, "dilation_cycle": 3}
    net = MultiRateDiffWave(**shape)
    model_cfg = {"_target_": "pianodiff.nets.MultiRateDiffWave", **shape}
    return net, export_model(tmp_path / "framed", net.state_dict(), model_cfg, SCHEDULE, {})


def test_card_of_a_framed_net_states_its_own_receptive_field(tmp_path):
    net, out = _framed_export(tmp_path)
    card = render_model_card(out)
    assert f"| receptive field | {net.receptive_field} samples" in card
    assert net.receptive_field == 8 * (1 + 2 * (1 + 2 + 4))  # frames x k samples
    assert "8-sample frames" in card
    assert f"| parameters | {sum(p.numel() for p in net.parameters()):,} |" in card


def test_card_refuses_a_meta_value_that_would_read_the_environment(tmp_path):
    shape = {"residual_layers": 2, "residual_channels": 4, "dilation_cycle": 2}
    net = DiffWave(**shape)
    model_cfg = {"_target_": "pianodiff.nets.DiffWave", **shape}
    out = export_model(tmp_path / "plain", net.state_dict(), model_cfg, SCHEDULE, {})
    cfg = OmegaConf.load(out / "config.yaml")
    cfg.meta = {"secret": "${oc.env:HOME}"}
    OmegaConf.save(cfg, out / "config.yaml")
    with pytest.raises(CheckpointError, match="secret|interpolation"):
        render_model_card(out)
