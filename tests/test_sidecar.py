"""The sidecar and the progress bar tell the truth: every network call, the walk that ran."""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir
from test_generate import CONF, FAST, config, make_export

from pianodiff.generation.plugins import GenerationPlugin
from pianodiff.generation.progress import ProgressBar
from pianodiff.generation.run import run_generation
from pianodiff.inpaint.repaint import repaint_walk


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return make_export(tmp_path_factory.mktemp("sidecar") / "tiny")


class NetworkCalls(GenerationPlugin):
    """Counts what the network really evaluated: each batched call × its batch size."""

    def __init__(self) -> None:
        self.evaluations = self.moves = self._calls = 0

    def on_step(self, payload) -> None:
        calls, self._calls = payload["nfe"] - self._calls, payload["nfe"]
        self.evaluations += calls * payload["x_t"].shape[0]
        self.moves += 1


@pytest.mark.parametrize("candidates", [1, 3])
def test_cost_fields_count_every_candidate(tmp_path, checkpoint, candidates):
    calls = NetworkCalls()
    out = tmp_path / "c.wav"
    cfg = config(
        f"checkpoint={checkpoint}", "seconds=0.7", f"candidates={candidates}", f"output={out}"
    )
    result = run_generation(cfg, plugins=[calls])
    meta = json.loads(out.with_suffix(".json").read_text())
    windows = len(meta["seams_samples"])  # 0.7 s after the 0.5 s base: 2 extension windows
    assert windows == 2 and meta["nfe_per_walk"] == 2  # ddim2 (FAST) walks 2 levels
    assert meta["nfe"] == calls.evaluations == 2 + windows * 2 * candidates
    assert meta["nfe_per_window"] == 2 * candidates
    # Network-audio-seconds: the base window once, each extension window once per candidate
    # (a full 0.5 s window adding 0.4 s, then one trimmed to 0.1 s of context + 0.3 s).
    expected = 2 * 0.5 + 2 * candidates * (0.5 + 0.4)
    assert meta["network_audio_seconds"] == pytest.approx(expected)
    assert meta["forward_equivalents"] == meta["nfe"]  # no backward passes in this extender
    assert meta["steady_state_cost"] == pytest.approx(2 * candidates * 0.5 / 0.4)
    assert result.meta == meta


def test_repaint_sidecar_records_the_walk_that_ran_and_the_bar_counts_nfe(tmp_path, checkpoint):
    bar, calls = ProgressBar(), NetworkCalls()
    out = tmp_path / "r.wav"
    overrides = [*(o for o in FAST if not o.startswith("sampler")), "sampler=fast"]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(
            "generate",
            overrides=[
                *overrides,  # fast: 6 levels, so the paper's j = 10 is clamped to 2
                f"checkpoint={checkpoint}",
                "extender=repaint",
                "seconds=0.4",
                "candidates=2",
                f"output={out}",
            ],
        )
    run_generation(cfg, plugins=[bar, calls])
    meta = json.loads(out.with_suffix(".json").read_text())
    walk = repaint_walk(6, 2, 10)
    assert meta["extender_config"]["jump_length"] == 10  # asked for
    params = meta["extender_params"]
    assert params["jump_length"] == 2 and params["n_resample"] == 10  # what ran
    assert params["walk_moves"] == len(walk) - 1
    assert params["up_moves"] == sum(1 for a, b in zip(walk, walk[1:]) if b > a)
    assert calls.moves == 6 + params["walk_moves"]  # the plain base walk + one extension
    # One unit on the bar: network evaluations, ending on the sidecar's count.
    (task,) = bar.progress.tasks
    assert task.completed == task.total == meta["nfe"] == calls.evaluations
    assert meta["nfe"] == 6 + 2 * meta["nfe_per_walk"]
    rendered = bar.progress.columns[2].render(task).plain
    assert rendered == f"{meta['nfe']}/{meta['nfe']} NFE"


def test_interpolation_sidecar_records_its_lambdas(tmp_path, checkpoint):
    out = tmp_path / "i.wav"
    run_generation(config(f"checkpoint={checkpoint}", "seconds=0.2", f"output={out}"))
    params = json.loads(out.with_suffix(".json").read_text())["extender_params"]
    assert params["schedule"] == "original" and len(params["lambdas"]) == 2  # ddim2
    assert params["lambdas"][-1] == 1.0  # the known region ends as the model's own version
