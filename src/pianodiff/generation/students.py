"""Which network a sampling plan runs: the model's own, or its distilled restart student.

The restart walk (``diffusion/solvers/restart.py``) is made for a network distilled to map
x_t to the end of its teacher's ODE path; on an ordinary network it gives blurred, hissy
audio. So a plan whose solver is the restart move runs the model's **restart student**:

- an export folder may hold one as the export folder ``restart_student/`` inside it (the
  bundled ``checkpoints/piano14-ctx`` does), loaded on first use onto the model's device;
- an export that is itself a student (``meta.distilled_for: restart``) runs its own net.

A model with neither cannot run the walk. When the walk came from a preset that names a
``fallback`` sampler (``draft``), the request runs that sampler instead and the sidecar says
so; an explicit ``sampler=restart…`` is refused in one line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pianodiff.checkpoint.export import LoadedModel, load_export
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.solvers.restart import restart
from pianodiff.generation.configs import load_group_config
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.precision import Bf16Choice
from pianodiff.generation.presets import preset_record, resolve_preset

STUDENT_FOLDER = "restart_student"
DISTILLED_FOR = "restart"


def runs_a_student(plan: SamplingPlan) -> bool:
    """Whether ``plan`` is a restart walk, which runs a distilled student's network."""
    return plan.solver is restart


def is_student(model: LoadedModel) -> bool:
    """Whether ``model`` is itself a restart student (``meta.distilled_for: restart``)."""
    meta = model.config.get("meta") or {}
    return meta.get("distilled_for") == DISTILLED_FOR


def student_folder(model: LoadedModel) -> Path | None:
    """The export folder whose network the restart walk runs for ``model``: the model's own
    folder when it is a student, its ``restart_student/`` export when it has one, else None."""
    if is_student(model):
        return Path(model.path)
    inner = Path(model.path) / STUDENT_FOLDER
    return inner if (inner / "config.yaml").is_file() else None


def fit_to_model(request, model: LoadedModel):
    """``request`` as ``model`` can run it: a preset's restart walk on a model without a
    student becomes the preset's fallback sampler; an explicit one is refused in one line.

    ``request`` is a :class:`pipeline.GenerationRequest`; returns it, or a copy.
    """
    plan = request.plan(model.schedule)
    if not runs_a_student(plan) or student_folder(model) is not None:
        return request
    preset = resolve_preset(request.preset) if request.preset else None
    picked_by_preset = preset is not None and bool(
        preset_record(preset.name, request.sampler).get("preset_sampler_used")
    )
    if picked_by_preset and preset.fallback:
        sampler = load_group_config("sampler", preset.fallback)
        return replace(request, sampler=sampler, preset_fallback=True)
    raise no_student(plan, model)


def no_student(plan: SamplingPlan, model: LoadedModel) -> GenerationError:
    """The one-line refusal of a restart walk on a model without a student."""
    return GenerationError(
        f"sampler {plan.name} is the walk of a distilled restart student and {model.path} has "
        f"none (no {STUDENT_FOLDER}/ export inside it); choose another sampler, or a preset "
        "(preset=draft runs a 6-call sampler on such a model)"
    )


class Networks:
    """The denoisers a loaded model runs: its own, and its restart student's (loaded and its
    precision decided on first use, then kept).

    Args:
        model: the loaded export.
        make: (net, schedule) -> (Denoiser, Bf16Choice) with the caller's bf16 and compile
            settings (``pipeline.make_denoiser``).
        own: the model's own denoiser and precision choice, when already made.
    """

    def __init__(self, model: LoadedModel, make, own: tuple[Denoiser, Bf16Choice] | None = None):
        self.model, self._make = model, make
        self._own = own
        self._student: tuple[Denoiser, Bf16Choice, str] | None = None

    def own(self) -> tuple[Denoiser, Bf16Choice]:
        if self._own is None:
            self._own = self._make(self.model.net, self.model.schedule)
        return self._own

    def for_plan(self, plan: SamplingPlan) -> tuple[Denoiser, Bf16Choice, str]:
        """(denoiser, its precision choice, which network: "checkpoint" or the student's
        folder) for ``plan``; a restart walk on a model without a student is refused."""
        if not runs_a_student(plan) or is_student(self.model):
            denoiser, bf16 = self.own()
            return denoiser, bf16, "checkpoint"
        if self._student is None:
            folder = student_folder(self.model)
            if folder is None:
                raise no_student(plan, self.model)
            device = next(self.model.net.parameters()).device
            student = load_export(folder, device)
            if student.schedule.num_steps != self.model.schedule.num_steps:
                raise GenerationError(
                    f"{folder} has {student.schedule.num_steps} noise steps and its teacher "
                    f"{self.model.path} {self.model.schedule.num_steps}; export them together"
                )
            denoiser, bf16 = self._make(student.net, student.schedule)
            self._student = (denoiser, bf16, str(folder))
        return self._student
