"""pianodiff: DiffWave diffusion models for piano audio, and long-form generation by inpainting."""

__version__ = "0.1.0"

SAMPLE_RATE = 22050
"""The sample rate (Hz) every model, data set and output of pianodiff uses."""

from pianodiff.core import known_warnings  # noqa: E402, F401  (library warnings that do not apply)
