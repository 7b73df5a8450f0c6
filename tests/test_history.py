"""Diffusion history: the recorder (fake and real sampler streams), the renderer, the plugin."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from PIL import Image
from system_parts import uses_ffmpeg

from pianodiff.checkpoint.export import export_model
from pianodiff.conf import CONF_DIR
from pianodiff.diffusion.plan import ddim_plan, fast_plan
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.configs import build_extender
from pianodiff.history import HistoryRecorder, history_path, render_history, snapshot_strip
from pianodiff.inpaint import Denoiser, InpaintContext
from pianodiff.nets.diffwave import DiffWave

CONF = CONF_DIR


def tiny_export(folder: Path) -> Path:
    """A tiny DiffWave export (safetensors + config) with a non-zero output layer."""
    torch.manual_seed(0)
    net = DiffWave(2, 8, 2)
    torch.nn.init.normal_(net.output_projection.weight, std=0.2)
    model = {"_target_": "pianodiff.nets.DiffWave", "residual_layers": 2,
             "residual_channels": 8, "dilation_cycle": 2}  # fmt: skip
    diffusion = {"_target_": "pianodiff.diffusion.schedule.linear_schedule", "num_steps": 8,
                 "beta_start": 1e-4, "beta_end": 0.25}  # fmt: skip
    return export_model(folder, net.state_dict(), model, diffusion, {"sample_rate": 22050})


def fake_walk(recorder, moves: int, length: int, up_every: int = 0, batch: int = 1) -> None:
    """Feed ``moves`` sampler-like payloads of a (batch, length) window to ``recorder``."""
    mask = torch.zeros(batch, length)
    mask[:, : length // 4] = 1.0
    level = moves
    for i in range(moves):
        up = up_every and i % up_every == up_every - 1
        x = torch.full((batch, length), float(i))
        recorder(
            {
                "index": i,
                "level": level,
                "next_level": level + 1 if up else level - 1,
                "direction": "up" if up else "down",
                "t": float(level),
                "alpha_bar": 0.5,
                "x_t": x,
                "x0_hat": None if up else x * 0.5,
                "known_mask": mask,
                "nfe": i,
                "lambda": i / moves,
                "window": 0,
            }
        )


def test_recorder_keeps_a_bounded_even_history_with_the_last_move():
    rec = HistoryRecorder(max_frames=10)
    rec.start_window(0, 0)
    fake_walk(rec, moves=97, length=64, up_every=5)
    rec.finish()
    assert 5 < len(rec.frames) <= 10
    assert rec.frames[0].step == 0 and rec.frames[-1].step == 96  # first and final move
    steps = [f.step for f in rec.frames]
    assert steps == sorted(steps)
    f = rec.frames[3]
    assert f.x_t.shape == (64,) and f.x_t.dtype == torch.float16 and f.x_t.device.type == "cpu"
    assert float(f.x_t[0]) == f.step  # the values of that move, copied
    assert set(f.params) == {"lambda"}  # the inpainter's own parameter, not "window"
    assert f.params["lambda"] == pytest.approx(f.step / 97)
    downs = [f for f in rec.frames if f.direction == "down"]
    assert all(f.x0_hat is not None and f.x0_hat.shape == (64,) for f in downs)
    assert rec.windows[0].seams == [16]  # the edge of the known region


def test_recorder_expect_spreads_frames_exactly():
    rec = HistoryRecorder(max_frames=20)
    rec.expect(200)
    fake_walk(rec, moves=200, length=32)
    rec.finish()
    steps = [f.step for f in rec.frames]
    assert steps[:-1] == list(range(0, 200, 11)) and steps[-1] == 199  # 200 / (20 - 1)


def test_recorder_keeps_the_chosen_candidate():
    rec = HistoryRecorder(max_frames=8, batch_index=None)
    rec.start_window(0, 0)
    mask = torch.zeros(3, 16)
    for i in range(5):
        x = torch.arange(3.0)[:, None].expand(3, 16) + 10 * i
        payload = {"index": i, "level": 5 - i, "next_level": 4 - i, "direction": "down"}
        rec({**payload, "t": 1.0, "x_t": x, "x0_hat": x, "known_mask": mask, "nfe": i})
    rec.choose(2)
    assert all(f.x_t.shape == (16,) and float(f.x_t[0]) == 2 + 10 * f.step for f in rec.frames)


def test_recorder_memory_is_independent_of_output_length():
    """Ten times more windows (a 10× longer output): same frame count, same bytes bound."""
    window, frames = 2048, 12
    sizes = {}
    for windows in (3, 30):
        rec = HistoryRecorder(max_frames=frames)
        for w in range(windows):
            rec.start_window(w, w * window // 2)
            fake_walk(rec, moves=40, length=window)
        rec.finish()
        assert len(rec.frames) <= frames
        bound = frames * 2 * window * 2 + frames * window  # two fp16 tensors + a mask each
        assert rec.nbytes <= bound
        sizes[windows] = (len(rec.frames), rec.nbytes)
    assert sizes[30][0] >= frames // 2
    assert sizes[30][1] <= 1.5 * sizes[3][1]
    # Past windows with no frame left keep no mask.
    assert sum(w.known_mask is not None for w in rec.windows) <= frames


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    net = DiffWave(2, 8, 2).eval()
    torch.nn.init.normal_(net.output_projection.weight, std=0.1)
    return net, linear_schedule(20, 1e-4, 0.2)


@pytest.mark.parametrize("name", ["replacement", "repaint", "interpolation"])
def test_recorder_on_a_real_sample_run(tiny, name):
    net, schedule = tiny
    plan = ddim_plan(schedule, 8)
    n = 2205
    known = torch.randn(1, n) * 0.1
    mask = torch.zeros(1, n)
    mask[:, :600] = 1.0
    inpainter = build_extender(name)
    rec = HistoryRecorder(max_frames=16, label=name)
    ctx = InpaintContext(known, mask, plan, torch.Generator().manual_seed(0))
    with torch.no_grad():
        sample(Denoiser(net), inpainter, ctx, callback=rec)
    rec.finish()
    moves = len(inpainter.walk(plan)) - 1
    assert rec.num_moves == moves
    assert min(moves, 8) <= len(rec.frames) <= 16
    assert all(f.x_t.shape == (n,) for f in rec.frames)
    assert rec.frames[-1].step == moves - 1 and rec.frames[-1].next_level == 0
    assert rec.windows[0].seams == [600]
    if name == "repaint":  # its walk goes back up: the recorder sees both directions
        assert any(f.direction == "up" for f in rec.frames)
    if name == "interpolation":
        assert all("lambda" in f.params for f in rec.frames if f.direction == "down")


@uses_ffmpeg
def test_renderer_writes_a_gif_with_one_frame_per_recorded_frame(tmp_path, tiny):
    net, schedule = tiny
    rec = HistoryRecorder(max_frames=9, label="replacement")
    n = 4410
    for w in range(2):  # two windows: the animation follows the window being generated
        rec.start_window(w, w * n // 2, seams=[n // 2], label=f"window {w}")
        mask = torch.zeros(1, n)
        mask[:, : n // 2] = 1.0
        ctx = InpaintContext(torch.zeros(1, n), mask, fast_plan(schedule), torch.Generator())
        with torch.no_grad():
            sample(Denoiser(net), build_extender("replacement"), ctx, callback=rec)
    written = render_history(rec, tmp_path / "out.wav", width_px=400, height_px=300)
    gif = history_path(tmp_path / "out.wav")
    assert gif.name == "out.history.gif" and written[0] == gif
    assert (len(written) == 2) == (shutil.which("ffmpeg") is not None)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.size == (400, 300)
        assert im.n_frames == len(rec.frames) and 5 <= im.n_frames <= 9  # 12 moves
    strip = snapshot_strip(rec, tmp_path / "strip.png", count=3, width_px=200, height_px=150)
    with Image.open(strip) as im:
        assert im.size == (600, 150)


def test_renderer_refuses_an_empty_recorder(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        render_history(HistoryRecorder(), tmp_path / "x.wav")
    assert not (tmp_path / "x.history.gif").exists()


@pytest.mark.slow
def test_generate_history_true_writes_the_animation(tmp_path, tiny):
    """Real Hydra composition of conf/generate.yaml; the plugin is found by the hook list."""
    from pianodiff.generation.run import run_generation

    ckpt = tiny_export(tmp_path / "ckpt")
    out = tmp_path / "gen.wav"
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(
            "generate",
            overrides=[
                f"checkpoint={ckpt}", f"output={out}", "seconds=0.6", "history={frames:12}",
                "extender=repaint", "sampler=ddim", "sampler.num_steps=4", "progress=false",
                "geometry.window_seconds=0.5", "geometry.context_seconds=0.1",
            ],
        )  # fmt: skip
    result = run_generation(cfg)
    gif = out.with_suffix(".history.gif")
    assert result.meta["history_files"][0] == str(gif)
    with Image.open(gif) as im:
        assert 6 <= im.n_frames <= 12  # every window's RePaint walk, thinned to <= 12


def test_up_moves_show_the_latest_clean_estimate():
    from pianodiff.history.renderer import carried_x0

    rec = HistoryRecorder(max_frames=50)
    fake_walk(rec, moves=12, length=8, up_every=3)  # moves 2, 5, 8, 11 go up
    rec.finish()
    up = next(f for f in rec.frames if f.direction == "up")
    before = [f for f in rec.frames if f.move < up.move and f.x0_hat is not None][-1]
    assert up.x0_hat is None and torch.equal(carried_x0(rec.frames, up), before.x0_hat)
