"""Long-form generation: windows of inpainting that continue a base window.

geometry.py   window / context / crossfade lengths and the window layout
windows.py    masks and the crossfade at a seam
cost.py       NFE and network-audio-seconds accounting
engine.py     the windowed loop (base window, extension windows, candidates)
plugins.py    hook list: step callbacks, window events, after-write actions
progress.py   the rich progress bar (a plugin)
ground.py     loading and checking a ground (prompt) recording
paths.py      project root, the bundled checkpoint, output names
run.py        run_generation(cfg) -> GenerationResult, used by ``pianodiff.generate``
"""

from pianodiff.generation.errors import GenerationError

__all__ = ["GenerationError"]
