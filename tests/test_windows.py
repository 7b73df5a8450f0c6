"""Windowed long audio: layout, masks, crossfade, exact lengths, candidates, events."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pianodiff.conf import CONF_DIR
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import ddim_plan, fast_plan
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.configs import build_extender
from pianodiff.generation.cost import steady_state_cost
from pianodiff.generation.engine import WindowedGenerator
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.geometry import Geometry, layout
from pianodiff.generation.plugins import GenerationPlugin
from pianodiff.generation.windows import context_batch, join

SR = 22050
CONF = CONF_DIR
SCHEDULE = linear_schedule(8, 1e-4, 0.25)
SMALL = Geometry(window_seconds=0.5, context_seconds=0.1, crossfade_seconds=0.02)


@pytest.fixture(scope="module")
def denoiser() -> Denoiser:
    torch.manual_seed(0)
    net = instantiate(OmegaConf.load(CONF / "model" / "tiny.yaml"))
    torch.nn.init.normal_(net.output_projection.weight, std=0.2)
    return Denoiser(net.eval())


def test_layout_adds_exactly_and_trims_last():
    spans = layout(existing=1000, new_total=2500, window=1000, context=200)
    assert [s.new for s in spans] == [800, 800, 800, 100]
    assert all(s.context == 200 for s in spans)
    # A short ground (100 samples < context) is used whole; the window stays full length.
    spans = layout(existing=100, new_total=2000, window=1000, context=200)
    assert spans[0].context == 100 and spans[0].length == 1000
    assert sum(s.new for s in spans) == 2000


def test_geometry_validation():
    with pytest.raises(GenerationError):
        Geometry(window_seconds=1.0, context_seconds=1.0)
    with pytest.raises(GenerationError):
        Geometry(window_seconds=1.0, context_seconds=0.2, crossfade_seconds=0.5)


def test_masks_and_join():
    tail = torch.arange(4.0)
    known, mask = context_batch(tail, 3, batch=2)
    assert known.shape == mask.shape == (2, 7)
    assert mask[0].tolist() == [1, 1, 1, 1, 0, 0, 0] and known[1, :4].tolist() == tail.tolist()
    existing = torch.ones(10)
    window = torch.full((7,), 3.0)
    hard = join(existing, window, context=4, crossfade=0)
    assert hard.tolist() == [1.0] * 10 + [3.0] * 3
    soft = join(existing, window, context=4, crossfade=4)
    assert soft.shape == (13,) and soft[:6].tolist() == [1.0] * 6
    assert bool((soft[6:10].diff() > 0).all()) and 1.0 < float(soft[6]) < float(soft[9]) < 3.0


def test_steady_state_cost_of_original_and_default():
    original = steady_state_cost(200, 5.0, 1.0)
    default = steady_state_cost(10, 5.0, 4.0)  # the standard preset's 10 calls a window
    assert original == 1000.0 and default == 12.5 and original / default >= 50


@pytest.mark.parametrize("seconds", [0.5, 1.0, 7.3])
def test_output_length_is_exact(denoiser, seconds):
    plan = ddim_plan(SCHEDULE, 2)
    geometry = Geometry(window_seconds=2.0, context_seconds=0.25, crossfade_seconds=0.05)
    engine = WindowedGenerator(
        denoiser, build_extender("replacement"), plan, geometry, torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        out = engine.generate(seconds)
    assert out.audio.shape == (round(2.0 * SR) + round(seconds * SR),)
    assert out.base_samples == 2 * SR
    assert out.seams[0] == 2 * SR and len(out.seams) == len(out.seam_scores)
    assert out.cost.nfe == plan.num_levels * (1 + len(out.seams))


class Recorder(GenerationPlugin):
    def __init__(self):
        self.events, self.steps, self.info = [], [], None

    def on_start(self, info):
        self.info = info

    def on_window(self, event):
        self.events.append((event.phase, event.index, event.kind))

    def on_step(self, payload):
        self.steps.append((payload["window"], payload["level"]))


def test_ground_continuation_keeps_the_whole_ground_and_reports_events(denoiser):
    ground = 0.2 * torch.sin(torch.arange(SR) / SR * 2 * torch.pi * 330)  # 1 s > a 0.5 s window
    recorder = Recorder()
    plan = fast_plan(SCHEDULE)
    engine = WindowedGenerator(
        denoiser, build_extender("repaint"), plan, SMALL, torch.Generator(), plugin=recorder
    )
    with torch.no_grad():
        out = engine.generate(0.8, ground)
    assert out.base_samples == SR and len(out.audio) == SR + round(0.8 * SR)
    # RePaint keeps the known audio; the crossfade blends identical signals: untouched.
    assert torch.allclose(out.audio[:SR], ground, atol=1e-6)
    assert recorder.events == [
        ("start", 0, "extend"),
        ("end", 0, "extend"),
        ("start", 1, "extend"),
        ("end", 1, "extend"),
    ]
    assert len(recorder.steps) == 2 * recorder.info["moves_per_window"]
    assert recorder.info["nfe_per_window"] == build_extender("repaint").nfe(plan)


def test_candidates_keep_the_best_seam(denoiser):
    class Scores(GenerationPlugin):
        ends = []

        def on_window(self, event):
            if event.phase == "end" and event.kind == "extend":
                self.ends.append((event.seam_scores, event.chosen))

    plugin = Scores()
    engine = WindowedGenerator(
        denoiser,
        build_extender("interpolation"),
        fast_plan(SCHEDULE),
        SMALL,
        torch.Generator().manual_seed(0),
        candidates=3,
        plugin=plugin,
    )
    with torch.no_grad():
        out = engine.generate(0.4)
    scores, chosen = plugin.ends[0]
    assert len(scores) == 3 and chosen == min(range(3), key=scores.__getitem__)
    assert out.seam_scores[0] == scores[chosen]
