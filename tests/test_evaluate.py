"""The evaluate entrypoint end to end: a tiny exported checkpoint and two short files."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import pytest
import soundfile as sf
import torch
from conftest import SR, tone
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from pianodiff.checkpoint.export import export_model
from pianodiff.conf import CONF_DIR
from pianodiff.evaluation.harness import evaluate
from pianodiff.evaluation.models import EvaluationError, load_model
from pianodiff.generation.errors import GenerationError
from pianodiff.measures.notes import unavailable_reason
from pianodiff.nets import DiffWave

QUICK = [
    "files=2",
    "cases_per_file=1",
    "samplers=[fast]",
    "gap.gaps_ms=[150,300]",
    "gap.case_seconds=1.0",
    "extension.ground_seconds=1.0",
    "extension.seconds=0.4",
    "extension.geometry.window_seconds=0.8",
    "extension.geometry.context_seconds=0.4",
    "extension.geometry.crossfade_seconds=0.02",
    "continuity_seconds=0.5",
    "natural.cuts_per_file=10",
    "influence.edges_s=[0.05,0.2]",
    "unconditional.seeds=[0,1]",
    "unconditional.seconds=0.5",
]


@pytest.fixture
def tiny_checkpoint(tmp_path):
    model_cfg = OmegaConf.load(CONF_DIR / "model" / "tiny.yaml")
    diffusion_cfg = OmegaConf.load(CONF_DIR / "diffusion" / "linear50.yaml")
    net = DiffWave(**{k: v for k, v in model_cfg.items() if k != "_target_"})
    return export_model(
        tmp_path / "ckpt", net.state_dict(), model_cfg, diffusion_cfg, {"sample_rate": SR}
    )


@pytest.fixture
def held_out(tmp_path):
    folder = tmp_path / "eval"
    folder.mkdir()
    sf.write(folder / "a.wav", tone(2.0, (220.0, 277.2)), SR, subtype="PCM_16")
    sf.write(folder / "b.wav", tone(2.0, (261.6, 329.6)), SR, subtype="PCM_16")
    return folder


def compose_cfg(overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("evaluate", overrides=overrides)


def test_evaluate_end_to_end(tiny_checkpoint, held_out, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # harmony guidance off: then only the network can carry a prompt into the new audio, and
    # this untrained one does not (the influence rows below)
    overrides = [f"checkpoint={tiny_checkpoint}", f"data_dir={held_out}", "harmony.strength=0"]
    cfg = compose_cfg([*overrides, "extenders=[replacement]", *QUICK])
    rows, table = evaluate(cfg, run_dir)
    with open(run_dir / "results.csv") as fh:
        saved = list(csv.DictReader(fh))
    assert len(saved) == len(rows)
    tasks = [r["task"] for r in rows]
    # 2 files × 1 excerpt × 2 gap lengths; 2 continuations with one seam each; the pair of
    # them compared; 2 unconditional seeds for the one sampler
    assert tasks.count("gap") == 4 and tasks.count("extend") == 2 and tasks.count("seam") == 2
    assert tasks.count("influence") == 1 and tasks.count("unconditional") == 2
    notes_on = unavailable_reason() is None
    for r in rows:
        if r["task"] == "gap":
            assert r["nfe"] == 6 and r["lsd_db"] > 0 and math.isfinite(r["snr_db"])
            assert math.isinf(r["known_snr_db"])  # replacement keeps the known audio exactly
        if r["task"] == "extend":
            assert r["nfe"] == 6
            # cost: 6 evaluations of a 0.8 s window per 0.4 s of new audio → 12
            assert abs(r["net_audio_s_per_s"] - 12.0) < 1e-6
            assert 0.0 <= r["tonality"] <= 1.0 and r["tonality_real"] < 0.2
            if notes_on:  # the untrained net makes noise; the real audio is a chord
                assert r["note_frames"] < 0.1 and r["note_frames_real"] > 0.5
                assert r["notes_per_s_real"] > 0
            else:
                assert "note_frames" not in r
        if r["task"] == "influence":
            assert (r["file"], r["file_b"]) == ("a.wav", "b.wav")
            # The untrained net's ε̂ is 0: what it adds after the cut never depends on the
            # prompt, so the two same-seed continuations are one audio past the crossfade,
            # and that one audio is closer to exactly one of the two prompts.
            assert r["corr_0.2s-end"] == pytest.approx(1.0, abs=1e-6)
            assert set(r) >= {"corr_0-0.05s", "corr_0.05-0.2s"}
            assert r["own_prompt_closer"] == 0.5
        if r["task"] == "unconditional":
            assert r["extender"] == "unconditional" and r["nfe"] == 6
            assert 0.0 <= r["tonality"] <= 1.0 and r["hiss_db"] < 0.0
            assert ("note_frames" in r) == notes_on
        if r["task"] == "seam":
            assert 0.0 <= r["seam_percentile"] <= 100.0
            assert r["chroma_real"] > 0.9  # the real audio continues the same chord
    assert (run_dir / "summary.md").read_text() == table
    assert "| replacement | fast |" in table and "150 ms" in table
    assert "| unconditional | fast |" in table and "same-seed corr 0.2s-end" in table
    assert "hiss floor dB" in table
    assert "own-prompt chroma closer" in table and ("note frames" in table) == notes_on
    assert (run_dir / "seam_scores.png").stat().st_size > 0
    assert (run_dir / "gap_lsd.png").stat().st_size > 0
    assert list((run_dir / "wandb").glob("offline-run-*")), "no offline W&B run written"


def test_evaluate_harmony_carries_each_prompt_into_its_continuation(
    tiny_checkpoint, held_out, tmp_path
):
    """With harmony guidance (evaluate's harmony node, as generate's), the same untrained
    network continues the two prompts differently: the push toward each prompt's pitch
    profile is all that differs, and it reaches past the cut."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    off = ["gap.enabled=false", "unconditional.enabled=false", "wandb.enabled=false"]
    cfg = compose_cfg(
        [f"checkpoint={tiny_checkpoint}", f"data_dir={held_out}", "extenders=[interpolation]"]
        + QUICK
        + off
        + ["harmony.strength=10", "harmony.cut=1.0"]
    )
    rows, _ = evaluate(cfg, run_dir)
    assert [r["harmony_strength"] for r in rows if r["task"] == "extend"] == [10.0, 10.0]
    (pair,) = [r for r in rows if r["task"] == "influence"]
    assert pair["corr_0.2s-end"] < 0.9  # no longer one audio whatever the prompt
    assert pair["own_prompt_closer"] == 1.0  # each continuation keeps its own prompt's chroma


def test_unconditional_rows_measure_generates_base_window(tiny_checkpoint):
    from pianodiff.api import Generator
    from pianodiff.evaluation.run_cases import Setup, run_unconditional_case
    from pianodiff.generation.configs import build_extender, build_plan
    from pianodiff.generation.geometry import Geometry
    from pianodiff.generation.plugins import GenerationPlugin
    from pianodiff.measures.hiss import hiss_floor
    from pianodiff.measures.tonality import tonality

    class BaseWindow(GenerationPlugin):
        def on_window(self, event) -> None:
            if event.phase == "end" and event.kind == "base":
                self.audio = event.audio.float().cpu()

    model = load_model(str(tiny_checkpoint))
    runner = Generator(model, "cpu")
    plan = build_plan("fast", model.schedule)
    setup = Setup(runner, build_extender("replacement"), plan, "replacement", "fast")
    row = run_unconditional_case(setup, seed=3, seconds=0.5)
    base = BaseWindow()
    runner.generate(0.1, seed=3, sampler="fast", geometry=Geometry(0.5, 0.25, 0.02), plugins=[base])
    assert row["tonality"] == tonality(base.audio)
    assert row["hiss_db"] == hiss_floor(base.audio)  # the hiss floor of the same window


def test_untrained_control_builds_the_named_size():
    model = load_model("untrained:tiny")
    assert model.net.residual_layers == 4 and model.net.residual_channels == 8
    assert model.schedule.num_steps > 0
    with pytest.raises((EvaluationError, GenerationError), match="unknown model .huge."):
        load_model("untrained:huge")


def test_untrained_preconditioned_control_uses_the_evaluation_schedule():
    model = load_model("untrained:small_precond")
    assert torch.allclose(model.net.sqrt_alpha_bar, model.schedule.alpha_bar.sqrt().float())


@pytest.mark.slow
def test_cli_missing_data_is_one_clear_line(tiny_checkpoint, tmp_path):
    missing = tmp_path / "nope"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pianodiff.evaluate",
            f"checkpoint={tiny_checkpoint}",
            f"data_dir={missing}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("error: held-out audio folder") and "make data" in err[-1]


def test_unknown_extender_lists_choices(tiny_checkpoint, held_out, tmp_path):
    cfg = compose_cfg(
        [f"checkpoint={tiny_checkpoint}", f"data_dir={held_out}", "extenders=[nosuch]"] + QUICK
    )
    with pytest.raises(GenerationError, match="unknown extender 'nosuch'; choose one of: .*repl"):
        evaluate(cfg, tmp_path)


def test_gap_filling_works_with_the_gradient_extender(tiny_checkpoint, held_out):
    """Guidance needs autograd inside the sampler: the gap runner must not block it."""
    from pianodiff.api import Generator
    from pianodiff.evaluation.cases import gap_cases, load_held_out
    from pianodiff.evaluation.run_cases import Setup, run_gap_case
    from pianodiff.generation.configs import build_extender, build_plan

    model = load_model(str(tiny_checkpoint))
    case = gap_cases(load_held_out(held_out, 1), [150], 0.5, 1)[0]
    plan = build_plan("ddim", model.schedule, num_steps=3)
    setup = Setup(Generator(model, "cpu"), build_extender("guidance"), plan, "guidance", "ddim")
    row = run_gap_case(setup, case)
    assert row["nfe"] == 3 and math.isfinite(row["lsd_db"])


def test_equal_cost_gives_each_extender_the_longest_plan_it_can_pay_for(tiny_checkpoint):
    from pianodiff.evaluation.equal_cost import plan_within_cost
    from pianodiff.generation.configs import build_extender

    schedule = load_model(str(tiny_checkpoint)).schedule
    plain = plan_within_cost(build_extender("interpolation"), "ddim", schedule, 12)
    assert plain.num_levels == 12
    # guidance: one forward and one backward (two forwards' worth) a step -> 4 steps
    guided = plan_within_cost(build_extender("guidance"), "ddim", schedule, 12)
    assert guided.num_levels == 4
    # RePaint r = 2 on ddim S: S + j·(jump points) moves; S = 6 (j = 2, 2 points) costs 10,
    # S = 7 (j = 2, 3 points) 13, so 12 buys 6 levels
    repaint = build_extender("repaint", n_resample=2)
    walked = plan_within_cost(repaint, "ddim", schedule, 12)
    assert walked.num_levels == 6 and repaint.cost_in_forwards(walked) == 10
    with pytest.raises(EvaluationError, match="fixed plan"):
        plan_within_cost(build_extender("replacement"), "fast", schedule, 12)
    with pytest.raises(EvaluationError, match="raise equal_cost"):
        plan_within_cost(build_extender("guidance"), "ddim", schedule, 2)


def test_equal_cost_run_labels_each_extender_with_its_plan(tiny_checkpoint, held_out, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    quick = [o for o in QUICK if not o.startswith("samplers=")]
    cfg = compose_cfg(
        [f"checkpoint={tiny_checkpoint}", f"data_dir={held_out}", "gap.enabled=false"]
        + ["extenders=[replacement,guidance]", "samplers=[ddim]", "equal_cost=6"]
        + quick
    )
    rows, table = evaluate(cfg, run_dir)
    extends = {r["extender"]: r for r in rows if r["task"] == "extend"}
    assert extends["replacement"]["sampler"] == "ddim6" and extends["replacement"]["nfe"] == 6
    assert extends["guidance"]["sampler"] == "ddim2" and extends["guidance"]["nfe"] == 2
    assert "≤ 6 forward passes per window" in table


@pytest.mark.parametrize("value", ["-3", "lots", "true"])
def test_equal_cost_refuses_a_bad_budget_in_one_line(tiny_checkpoint, held_out, tmp_path, value):
    cfg = compose_cfg(
        [f"checkpoint={tiny_checkpoint}", f"data_dir={held_out}", f"equal_cost={value}"] + QUICK
    )
    with pytest.raises(EvaluationError, match="equal_cost must be a positive number"):
        evaluate(cfg, tmp_path)
