"""A restart walk runs the model's distilled student: the one inside its folder, or the model
itself when it is one; without a student a preset falls back and an explicit walk is refused.

Real exports (tiny DiffWaves over the bundled T = 50 schedule), the real API and command-line
pipeline; the bundled model's own student is checked as shipped.
"""

from __future__ import annotations

import pytest
import torch
from test_bench_presets import _tiny_export

from pianodiff.api import Generator
from pianodiff.checkpoint.export import load_export
from pianodiff.conf import compose
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.paths import BUNDLED_CHECKPOINT
from pianodiff.generation.presets import resolve_preset
from pianodiff.generation.run import run_generation
from pianodiff.generation.students import STUDENT_FOLDER, student_folder

SMALL = {"seed": 3, "geometry": Geometry(0.25, 0.05, 0.01)}


@pytest.fixture(scope="module")
def teacher_with_student(tmp_path_factory):
    teacher = _tiny_export(tmp_path_factory.mktemp("pair") / "teacher")
    # other weights than the teacher's, marked as a restart student
    _tiny_export(teacher / STUDENT_FOLDER, seed=1, distilled_for="restart")
    return teacher


def test_the_draft_preset_runs_the_student_inside_the_checkpoint(teacher_with_student):
    gen = Generator.from_checkpoint(teacher_with_student, device="cpu")
    draft, _ = gen.generate(0.2, preset="draft", **SMALL)
    record = gen.last_run.choices()
    assert record["preset_sampler"] == "restart4" and record["preset_sampler_used"] is True
    assert record["network"] == str(teacher_with_student / STUDENT_FOLDER)
    assert "preset_fallback_from" not in record
    windows = len(gen.last.seams) + 1
    assert gen.last.cost.nfe == 4 * windows  # one call per level of the 4-level walk
    # the same walk on the student export itself gives the same audio: the student's net ran
    alone = Generator.from_checkpoint(teacher_with_student / STUDENT_FOLDER, device="cpu")
    same, _ = alone.generate(0.2, sampler="restart4", **SMALL)
    assert alone.last_run.choices()["network"] == "checkpoint"
    assert torch.equal(draft, same)
    # any other sampler runs the checkpoint's own network
    gen.generate(0.2, preset="standard", **SMALL)
    assert gen.last_run.choices()["network"] == "checkpoint"


def test_without_a_student_the_draft_falls_back_and_says_so(tmp_path):
    gen = Generator.from_checkpoint(_tiny_export(tmp_path / "plain"), device="cpu")
    gen.generate(0.2, preset="draft", **SMALL)
    record = gen.last_run.choices()
    fallback = resolve_preset("draft").fallback
    assert fallback == "dpmpp_2m_sde6" and gen.last_run.plan.num_levels == 6
    assert record["preset_sampler"] == fallback and record["preset_sampler_used"] is True
    assert record["preset_fallback_from"] == "restart4" and record["network"] == "checkpoint"


@pytest.mark.parametrize("sampler", ["restart4", "restart6"])
def test_an_explicit_restart_walk_without_a_student_is_one_line(tmp_path, sampler):
    gen = Generator.from_checkpoint(_tiny_export(tmp_path / "plain"), device="cpu")
    with pytest.raises(GenerationError, match=r"walk of a distilled restart student .* has none"):
        gen.generate(0.2, sampler=sampler, **SMALL)
    out = tmp_path / "out.wav"
    cfg = compose(
        "generate",
        [f"checkpoint={tmp_path / 'plain'}", f"sampler={sampler}", f"output={out}", "seconds=0.2"],
    )
    with pytest.raises(GenerationError, match="restart student"):
        run_generation(cfg)
    assert not out.exists()  # refused before anything was written


def test_the_command_line_records_the_student_in_the_sidecar(teacher_with_student, tmp_path):
    out = tmp_path / "draft.wav"
    overrides = [f"checkpoint={teacher_with_student}", "preset=draft", f"output={out}"]
    overrides += ["seconds=0.2", "geometry.window_seconds=0.25", "geometry.context_seconds=0.05"]
    overrides += ["geometry.crossfade_seconds=0.01", "progress=false", "bf16=false"]
    result = run_generation(compose("generate", overrides))
    assert out.exists() and result.meta["network"] == str(teacher_with_student / STUDENT_FOLDER)
    assert result.meta["sampler"] == "restart4" and result.meta["preset_sampler_used"] is True


def test_the_bundled_model_ships_its_student_over_the_same_schedule():
    teacher = load_export(BUNDLED_CHECKPOINT)
    folder = student_folder(teacher)
    assert folder == BUNDLED_CHECKPOINT / STUDENT_FOLDER
    student = load_export(folder)
    assert student_folder(student) == folder  # it is a student itself
    assert torch.equal(student.schedule.alpha_bar, teacher.schedule.alpha_bar)
    first = next(iter(teacher.net.state_dict()))
    assert not torch.equal(teacher.net.state_dict()[first], student.net.state_dict()[first])
