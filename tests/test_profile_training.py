"""Training the pitch-profile pathway: the module hands the data's profiles to the net and
drops some; a smoke-sized run trains the profile layer; a warm start from an export
without that layer (the bundled piano14-ctx included) reproduces the export exactly.
"""

from __future__ import annotations

import functools

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pianodiff.checkpoint.export import CheckpointError, load_export
from pianodiff.checkpoint.warm_start import adds_profile, initial_weights, warm_start
from pianodiff.data.dataset import stream_seed
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.paths import BUNDLED_CHECKPOINT
from pianodiff.nets import DiffWave, MultiRateDiffWave
from pianodiff.training.lit_module import DiffWaveModule, ProfileNotAcceptedError
from pianodiff.training.run import compose_train_config, train

TINY = [  # framed16_ctx(_profile) shrunk to a few thousand weights
    "model.net.frame=2",
    "model.net.residual_layers=2",
    "model.net.residual_channels=8",
    "model.net.dilation_cycle=2",
]
PROFILE_DATA = [  # what experiment=piano14_ctx_profile adds to the data, for the smoke set-up
    "+data.profile._target_=pianodiff.measures.past_profile.PastProfile",
    "+data.profile.seconds=${model.net.profile_seconds}",
    "+data.profile.bins=${model.net.profile_bins}",
    "+module.profile_drop=0.3",
]


def module_for(net: torch.nn.Module, **kw) -> DiffWaveModule:
    opt = functools.partial(torch.optim.Adam, lr=1e-3)
    return DiffWaveModule(net, linear_schedule(8, 1e-4, 0.25), opt, **kw)


def test_the_module_drops_a_share_of_the_profiles_from_its_own_stream():
    net = MultiRateDiffWave(frame=2, residual_layers=2, residual_channels=4, profile_bins=12)
    module = module_for(net, profile_drop=0.3, seed=4)
    profiles = torch.ones(4000, 12)
    kept = module.dropped_profiles(profiles, index=7)
    zeroed = ~kept.any(dim=1)
    assert torch.equal(kept[~zeroed], profiles[~zeroed])  # a row is kept whole or zeroed
    assert 0.27 < float(zeroed.float().mean()) < 0.33
    assert torch.equal(kept, module.dropped_profiles(profiles, index=7))  # seeded by the step
    assert not torch.equal(kept, module.dropped_profiles(profiles, index=8))
    gen = torch.Generator().manual_seed(stream_seed(4 + 3, 7))
    assert torch.equal(zeroed, torch.rand(4000, generator=gen) < 0.3)
    assert not module_for(net, profile_drop=0.0).dropped_profiles(profiles, 1).eq(0).any()
    with pytest.raises(ValueError, match="profile_drop must lie in"):
        module_for(net, profile_drop=1.5)


def test_profiles_for_a_net_without_the_input_are_one_line():
    module = module_for(DiffWave(residual_layers=2, residual_channels=4, dilation_cycle=2))
    with pytest.raises(ProfileNotAcceptedError, match="set data.profile=null") as err:
        module.dropped_profiles(torch.ones(2, 12), index=0)
    assert "\n" not in str(err.value)


def test_the_profile_reaches_the_loss():
    torch.manual_seed(0)
    net = MultiRateDiffWave(
        frame=2, residual_layers=2, residual_channels=8, context=True, profile_bins=12
    )
    torch.nn.init.normal_(net.framed.output_projection.weight, std=0.2)
    module = module_for(net)
    x0, t, eps = torch.randn(2, 400) * 0.1, torch.tensor([2, 5]), torch.randn(2, 400)
    plain = module.diffusion_loss(net, x0, t, eps)
    assert torch.equal(module.diffusion_loss(net, x0, t, eps, profile=torch.zeros(2, 12)), plain)
    profile = torch.nn.functional.normalize(torch.rand(2, 12), dim=1)
    loss = module.diffusion_loss(net, x0, t, eps, profile=profile).sum()
    loss.backward()
    assert net.profile_projection.weight.grad.abs().sum() > 0  # the zero layer learns


def smoke_profile_run(smoke_overrides, run_dir, model: str, *extra: str) -> dict:
    overrides = smoke_overrides(
        f"model={model}",
        *TINY,
        "model.net.profile_seconds=0.6" if model.endswith("profile") else "model.net.context=true",
        "data.segment_seconds=0.2",
        f"paths.run_dir={run_dir}",
        *(PROFILE_DATA if model.endswith("profile") else []),
        *extra,
    )
    return train(compose_train_config(overrides))


def test_a_smoke_run_with_the_profile_on_trains_the_profile_layer(tmp_path, smoke_overrides):
    result = smoke_profile_run(smoke_overrides, tmp_path / "run", "framed16_ctx_profile")
    net = result["module"].net.net
    assert result["global_step"] == 8 and net.accepts_profile
    assert net.profile_projection.weight.abs().sum() > 0  # profiles reached it: it moved
    exported = load_export(tmp_path / "run" / "export")
    assert exported.config.model.net.profile_bins == 12
    assert exported.net.net.profile_projection.weight.abs().sum() > 0


def test_a_warm_start_from_an_export_without_the_layer_reproduces_it(tmp_path, smoke_overrides):
    smoke_profile_run(smoke_overrides, tmp_path / "source", "framed16_ctx")
    source = tmp_path / "source" / "export"
    result = smoke_profile_run(
        smoke_overrides,
        tmp_path / "warm",
        "framed16_ctx_profile",
        f"init_from={source}",
        "trainer.max_steps=1",
        "module.optimizer.lr=0",
    )
    assert result["global_step"] == 1
    cfg = compose_train_config(
        smoke_overrides("model=framed16_ctx_profile", *TINY, "model.net.profile_seconds=0.6")
    )
    wanted = OmegaConf.to_container(cfg.model, resolve=True)
    net, ema = instantiate(cfg.model), instantiate(cfg.model)  # fresh profile nets
    warm_start(net, ema, source, wanted)
    original = load_export(source).net.eval()
    x, t = torch.randn(2, 600), torch.tensor([3.0, 30.0])
    known, mask = torch.randn(2, 600), (torch.arange(600) < 200).float().expand(2, -1)
    profile = torch.nn.functional.normalize(torch.rand(2, 12), dim=1)
    with torch.no_grad():
        expected = original(x, t, known=known, mask=mask)
        for warm in (net.eval(), ema.eval()):
            assert torch.equal(warm(x, t, known=known, mask=mask), expected)
            assert torch.equal(warm(x, t, known=known, mask=mask, profile=profile), expected)


def test_the_upgrade_is_only_a_profile_layer(tmp_path, smoke_overrides):
    smoke_profile_run(smoke_overrides, tmp_path / "source", "framed16_ctx")
    source = tmp_path / "source" / "export"
    other = compose_train_config(
        smoke_overrides("model=framed16_ctx_profile", *TINY, "model.net.residual_channels=4")
    )
    net = instantiate(other.model)
    with pytest.raises(CheckpointError, match="warm-start with the same model"):
        warm_start(net, net, source, OmegaConf.to_container(other.model, resolve=True))


def test_the_recipe_warm_starts_from_the_bundled_model_exactly():
    """experiment=piano14_ctx_profile's model is the bundled piano14-ctx plus the profile
    layer: its init_from loads, and the warm-started net gives the export's outputs."""
    cfg = compose_train_config(["experiment=piano14_ctx_profile"])
    assert str(cfg.init_from).endswith(str(BUNDLED_CHECKPOINT))
    wanted = OmegaConf.to_container(cfg.model, resolve=True)
    weights = initial_weights(cfg.init_from)
    assert adds_profile(weights[2], wanted)
    assert cfg.module.profile_drop == 0.3 and cfg.data.profile.bins == 12
    assert cfg.data.profile.seconds == cfg.model.net.profile_seconds == 6.0
    net, ema = instantiate(cfg.model), instantiate(cfg.model)
    warm_start(net, ema, cfg.init_from, wanted, weights=weights)
    bundled = load_export(cfg.init_from).net.eval()
    torch.manual_seed(0)
    x, t = torch.randn(1, 8192) * 0.3, torch.tensor([20.0])
    known, mask = torch.randn(1, 8192) * 0.1, (torch.arange(8192) < 2048).float()[None]
    profile = torch.nn.functional.normalize(torch.rand(1, 12), dim=1)
    with torch.no_grad():
        expected = bundled(x, t, known=known, mask=mask)
        assert torch.equal(net.eval()(x, t, known=known, mask=mask, profile=profile), expected)
