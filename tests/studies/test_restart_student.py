"""The restart-student study on a tiny export: its walk, its pairs, its training loop and its
judge, each end to end on real files."""

from __future__ import annotations

import math

import soundfile as sf
import torch
from safetensors.torch import load_file, save_file
from test_generate import make_export as tiny_export

from pianodiff.checkpoint.export import load_export
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import ddpm_plan
from pianodiff.diffusion.sampler import check_walk
from pianodiff.diffusion.solvers.dpmpp_2m import dpmpp_2m
from studies import restart_student as study

LEVELS = "1,3,5,7"  # training steps of the tiny 8-step schedule


def test_the_ideal_walk_restarts_at_each_level_and_counts_its_calls(tmp_path):
    model = load_export(tiny_export(tmp_path / "tiny"))
    plan = ddpm_plan(model.schedule, solver=dpmpp_2m)
    walker = study.TeacherRestarts([6, 4, 2])
    walk = walker.walk(plan)
    check_walk(walk, plan.num_levels)
    assert walker.nfe(plan) == 8 + 6 + 4 + 2
    assert study.student_walk(model, (1, 3, 5, 7)).net_steps.tolist() == [0.0, 1.0, 3.0, 5.0, 7.0]


def test_pairs_keep_the_levels_of_one_ode_path_and_its_end(tmp_path):
    export = tiny_export(tmp_path / "tiny")
    out = tmp_path / "pairs"
    common = ["--checkpoint", str(export), "--levels", LEVELS, "--seconds", "0.05", "--fp32"]
    study.main(["pairs", *common, "--out", str(out), "--count", "2", "--threads", "1"])
    files = sorted(out.glob("traj_*.pt"))
    assert [f.name for f in files] == ["traj_100000.pt", "traj_100001.pt"]
    path = torch.load(files[0])
    assert sorted(path["x"]) == [1, 3, 5, 7]
    assert all(x.shape == path["x0"].shape == (1102,) for x in path["x"].values())
    # The end is the ODE's from the kept start: the same seed run again gives it exactly.
    model = load_export(export)
    again, _ = study.clip(Denoiser(model.net), ddpm_plan(model.schedule, solver=dpmpp_2m),
                          100000, 1102)  # fmt: skip
    assert torch.equal(again, path["x0"])
    assert not torch.equal(path["x"][1], path["x"][7])


def test_context_pairs_continue_a_recording_through_the_default_extender(tmp_path):
    export = tiny_export(tmp_path / "tiny")
    prompts, out = tmp_path / "prompts", tmp_path / "pairs"
    prompts.mkdir()
    t = torch.arange(22050) / 22050
    sf.write(prompts / "a.wav", (0.3 * torch.sin(2 * math.pi * 440 * t)).numpy(), 22050)
    common = ["--checkpoint", str(export), "--levels", LEVELS, "--seconds", "0.05", "--fp32"]
    args = ["--out", str(out), "--count", "1", "--threads", "1", "--prompts", str(prompts)]
    study.main(["pairs", *common, *args, "--context-seconds", "0.02"])
    path = torch.load(out / "traj_100000.pt")
    assert path["known_samples"] == 441
    # The known head of the least noisy kept x holds the recording (interpolation's paste,
    # carried down the path), so it follows the recording far more closely than the new part.
    known = study.known_head(prompts, 100000, 1102, 22050)[:441]
    x = path["x"][1]
    head = float(torch.corrcoef(torch.stack([x[:441], known]))[0, 1])
    new = float(torch.corrcoef(torch.stack([x[441:882], known]))[0, 1])
    assert head > 0.5 and head > 5 * abs(new), (head, new)


def test_training_fits_the_pairs_saves_and_resumes(tmp_path, capsys):
    export = tiny_export(tmp_path / "tiny")
    pairs, run = tmp_path / "pairs", tmp_path / "run"
    common = ["--checkpoint", str(export), "--levels", LEVELS, "--seconds", "0.05", "--fp32"]
    study.main(["pairs", *common, "--out", str(pairs), "--count", "1", "--threads", "1"])
    train = ["train", *common, "--pairs", str(pairs), "--run", str(run), "--batch", "4",
             "--crop-seconds", "0.05", "--lr", "3e-3", "--warmup", "1", "--ema", "0.0",
             "--save", "40", "--log-every", "40", "--threads", "1"]  # fmt: skip
    study.main([*train, "--steps", "40"])
    assert (run / "ema_40.safetensors").is_file() and (run / "state.pt").is_file()

    def error(weights: dict | None) -> float:
        model = load_export(export)
        if weights is not None:
            model.net.load_state_dict(weights)
        path = torch.load(next(pairs.glob("traj_*.pt")))
        total = 0.0
        for step, x in path["x"].items():
            ab = float(model.schedule.alpha_bar[step])
            eps = model.net(x.unsqueeze(0), torch.tensor([float(step)]))[0]
            total += float(((x - (1 - ab) ** 0.5 * eps) / ab**0.5 - path["x0"]).pow(2).mean())
        return total

    assert error(load_file(run / "ema_40.safetensors")) < 0.5 * error(None)
    capsys.readouterr()
    study.main([*train, "--steps", "42"])
    assert "resumed at step 40" in capsys.readouterr().out
    assert (run / "ema_42.safetensors").is_file()
    assert torch.load(run / "state.pt")["step"] == 42


def test_judge_and_ideal_print_a_row_each(tmp_path, capsys):
    export = tiny_export(tmp_path / "tiny")
    common = ["--checkpoint", str(export), "--levels", LEVELS, "--seconds", "1.0", "--fp32",
              "--seeds", "1", "--threads", "1"]  # fmt: skip
    weights = tmp_path / "w.safetensors"
    save_file(dict(load_export(export).net.state_dict()), str(weights))
    study.main(["judge", *common, "--teacher", "--weights", str(weights)])
    study.main(["ideal", *common])
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| ")]
    assert len(rows) == 2 + 2 + 1  # header, rule, teacher, weights, ideal
    teacher_row, weights_row = rows[2].split("|")[3:6], rows[3].split("|")[3:6]
    assert teacher_row == weights_row  # the teacher's own weights walk the same clips
    assert "ideal restart student (7, 5, 3, 1)" in rows[4] or "[7, 5, 3, 1]" in rows[4]
