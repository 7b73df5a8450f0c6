"""Extenders: the inpainting strategies that implement the reverse loop's hooks.

``conf/extender/<name>.yaml`` is the registry: each file's ``_target_`` names a class here,
and ``generation.configs.build_extender(name)`` (or Hydra's ``extender=<name>``) builds
it. Adding one is a file here plus a YAML file there (docs/architecture.md).

    replacement.py     paste q_sample(known, t) into the known region at every step
    repaint.py         replacement plus RePaint's jumps back up the chain
    interpolation.py   a rising blend of the re-noised known audio and the sample
    guidance.py        reconstruction guidance through the network, data consistency
    conditioned.py     a context-conditioned network sees the known audio itself
    base.py            the shared known-region edits (and the hook protocol, re-exported)
"""

from pianodiff.inpaint.base import Denoiser, InpaintContext, Inpainter

__all__ = ["Denoiser", "InpaintContext", "Inpainter"]
