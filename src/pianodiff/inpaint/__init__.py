"""The Inpainter registry: every extension strategy by its config name.

``conf/extender/<name>.yaml`` selects one; a test checks the folder and this table agree.
"""

from __future__ import annotations

from pianodiff.inpaint.base import Denoiser, InpaintContext, Inpainter
from pianodiff.inpaint.conditioned import Conditioned
from pianodiff.inpaint.guidance import ReconstructionGuidance
from pianodiff.inpaint.interpolation import Interpolation
from pianodiff.inpaint.repaint import RePaint
from pianodiff.inpaint.replacement import Replacement

INPAINTERS: dict[str, type[Inpainter]] = {
    cls.name: cls
    for cls in (Replacement, RePaint, Interpolation, ReconstructionGuidance, Conditioned)
}


def get_inpainter_class(name: str) -> type[Inpainter]:
    """The class registered as ``name``; a clear error lists the choices."""
    try:
        return INPAINTERS[name]
    except KeyError:
        choices = ", ".join(sorted(INPAINTERS))
        raise ValueError(f"unknown extender '{name}'; choose one of: {choices}") from None


__all__ = ["INPAINTERS", "Denoiser", "InpaintContext", "Inpainter", "get_inpainter_class"]
