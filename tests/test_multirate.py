"""The multi-rate DiffWave: framing, receptive field, context input, and a real training run."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch
from conftest import tone
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pianodiff.api import Generator
from pianodiff.checkpoint.export import load_export
from pianodiff.data.context_masks import ContextMasks
from pianodiff.diffusion.preconditioning import accepts_context
from pianodiff.generation.geometry import Geometry
from pianodiff.nets import DiffWave, MultiRateDiffWave
from pianodiff.nets.multirate import from_frames, to_frames
from pianodiff.training.run import compose_train_config, train

SR = 22050
SMALL = Geometry(window_seconds=0.5, context_seconds=0.1, crossfade_seconds=0.02)


def _randomised(net: MultiRateDiffWave) -> MultiRateDiffWave:
    """The zero-initialised output makes ε̂ ≡ 0; weights make the tests see the stack."""
    torch.manual_seed(0)
    for stack in (net.framed, net.fine):
        if stack is not None:
            torch.nn.init.normal_(stack.output_projection.weight, std=0.2)
    return net.eval()


def test_frames_round_trip_and_layout():
    x = torch.arange(24.0).reshape(2, 12)
    frames = to_frames(x, 4)
    assert frames.shape == (2, 4, 3)
    assert frames[0, :, 1].tolist() == [4.0, 5.0, 6.0, 7.0]  # one frame = 4 consecutive samples
    assert torch.equal(from_frames(frames), x)


@pytest.mark.parametrize("name", ["framed4", "framed8", "framed16", "framed16_ctx"])
def test_shipped_sizes_see_the_context_plus_a_second(name):
    cfg = compose_train_config([f"model={name}", "diffusion=logsnr50"])
    model = instantiate(cfg.model)
    context = compose_train_config([]).get("geometry", {}).get("context_seconds", 1.0)
    assert model.receptive_field / SR >= context + 1.0
    small = DiffWave(20, 32, 10)
    # Cost per sample ∝ layers · C² / k: within 25 % of the full-rate small net's.
    net = model.net
    cost = net.residual_layers * net.framed.blocks[0].dilated_conv.in_channels ** 2 / net.frame
    assert cost == pytest.approx(small.residual_layers * 32**2, rel=0.25)
    assert accepts_context(model) == name.endswith("_ctx")


@pytest.mark.parametrize("fine_layers", [0, 2])
def test_any_length_and_a_local_field(fine_layers):
    net = _randomised(
        MultiRateDiffWave(frame=4, residual_layers=3, residual_channels=8, dilation_cycle=3,
                          fine_layers=fine_layers)
    )  # fmt: skip
    x = torch.randn(1, 1001)
    step = torch.full((1,), 3.0)
    with torch.no_grad():
        out = net(x, step)
        y = x.clone()
        y[:, -1] += 1.0  # a change at the end reaches back one receptive field, no further
        moved = (net(y, step) - out).abs()[0] > 0
    assert out.shape == (1, 1001)
    reach = 1001 - int(moved.nonzero().min())
    assert 0 < reach <= net.receptive_field


def test_context_input_is_used_and_an_empty_mask_is_unconditional():
    net = _randomised(
        MultiRateDiffWave(frame=4, residual_layers=3, residual_channels=8, dilation_cycle=3,
                          context=True)
    )  # fmt: skip
    x, known = torch.randn(2, 400), torch.randn(2, 400)
    step = torch.full((2,), 2.0)
    mask = torch.zeros(2, 400)
    mask[:, :100] = 1.0
    with torch.no_grad():
        plain = net(x, step)
        empty = net(x, step, known=known, mask=torch.zeros(2, 400))
        given = net(x, step, known=known, mask=mask)
        other = net(x, step, known=-known, mask=mask)
    assert torch.equal(plain, empty)
    assert not torch.allclose(given, other)
    with pytest.raises(ValueError, match="known audio"):
        net(x, step, mask=mask)


def test_context_masks_draw_prefixes_gaps_and_empties():
    masks = ContextMasks(probability=0.5, gap_share=0.5).draw(
        400, 1000, torch.Generator().manual_seed(0), torch.device("cpu")
    )
    empty = masks.sum(1) == 0
    starts_known = masks[:, 0] == 1
    ends_known = masks[:, -1] == 1
    prefix = starts_known & ~ends_known
    gap = starts_known & ends_known | (~starts_known & ends_known)
    assert 0.4 < empty.float().mean() < 0.6
    assert prefix.sum() > 50 and gap.sum() > 50
    assert bool((empty | prefix | gap).all())
    fractions = masks[prefix].mean(1)
    assert float(fractions.min()) > 0.09 and float(fractions.max()) < 0.61


def test_context_training_run_exports_a_conditioned_model(smoke_overrides, tmp_path):
    """The shipped context experiment's model and masks, shrunk, trained by the real trainer."""
    cfg = compose_train_config(
        smoke_overrides(
            "model=framed16_ctx",
            "model.net.residual_layers=2",
            "model.net.residual_channels=8",
            "+module.context_masks._target_=pianodiff.data.context_masks.ContextMasks",
            "trainer.max_steps=3",
            "trainer.val_check_interval=3",
            "data.segment_seconds=0.2",
        )
    )
    result = train(cfg)
    assert result["global_step"] == 3
    assert torch.isfinite(torch.tensor(result["metrics"]["val/loss"]))
    export = result["run_dir"] / "export"
    assert accepts_context(load_export(export).net)
    # The export continues a recording through the API with extender=conditioned, and makes
    # a base window from noise with the same net.
    gen = Generator.from_checkpoint(export, device="cpu")
    prompt = tmp_path / "prompt.wav"
    sf.write(prompt, tone(0.6), SR)
    audio, rate = gen.extend(prompt, 0.3, extender="conditioned", sampler="ddim", geometry=SMALL)
    assert rate == SR and torch.isfinite(audio).all() and len(audio) > int(0.3 * SR)
    base, _ = gen.generate(0.2, extender="conditioned", sampler="ddim", geometry=SMALL)
    assert torch.isfinite(base).all()


def test_context_masks_need_a_context_model(smoke_overrides):
    cfg = compose_train_config(
        smoke_overrides("+module.context_masks._target_=pianodiff.data.context_masks.ContextMasks")
    )
    with pytest.raises(ValueError, match="context-conditioned model"):
        train(cfg)


def test_ctx_experiment_composes():
    cfg = compose_train_config(["experiment=piano14_cpu_ctx"])
    assert cfg.model.net.context is True
    masks = instantiate(cfg.module.context_masks)
    assert isinstance(masks, ContextMasks) and masks.probability == 0.5
    # The same audio per step as the unconditional recipe.
    base = compose_train_config(["experiment=piano14_cpu"])
    per_step = cfg.data.segment_seconds * cfg.data.batch_size
    assert per_step == base.data.segment_seconds * base.data.batch_size
    assert OmegaConf.select(base, "module.context_masks") is None


def test_compile_net_keeps_parameter_names_and_an_eager_ema():
    cfg = compose_train_config(["experiment=smoke", "module.compile_net=true"])
    module = instantiate(cfg.module, _partial_=True)(
        net=instantiate(cfg.model), schedule=instantiate(cfg.diffusion)
    )
    eager = instantiate(compose_train_config(["experiment=smoke"]).model)
    assert list(module.net.state_dict()) == list(eager.state_dict())
    assert module.net._compiled_call_impl is not None  # compiled lazily, on the first call
    assert module.ema.net._compiled_call_impl is None


def test_cpu_time_limit_stops_a_run_early(smoke_overrides):
    cfg = compose_train_config(
        smoke_overrides("trainer.max_steps=50", "callbacks.cpu_time_limit.seconds=0.000001")
    )
    result = train(cfg)
    assert result["global_step"] == 1  # stopped after the first step, checkpointed as usual
    assert (result["run_dir"] / "checkpoints" / "last.ckpt").exists()


def test_cpu_time_budget_carries_over_a_resume(smoke_overrides):
    first = train(compose_train_config(smoke_overrides("trainer.max_steps=3")))
    ckpt = torch.load(
        first["run_dir"] / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True
    )
    used = next(v for k, v in ckpt["callbacks"].items() if "CpuTimeLimit" in k)["cpu_seconds"]
    assert used > 0
    # A budget already spent by the first run stops the resumed one after one more step.
    resumed = train(
        compose_train_config(
            smoke_overrides(
                "trainer.max_steps=50",
                f"callbacks.cpu_time_limit.seconds={used}",
                f"ckpt_path={first['run_dir']}",
                "name=smoke_resumed",  # a run folder of its own (the run id is per process)
            )
        )
    )
    assert resumed["global_step"] == 4
