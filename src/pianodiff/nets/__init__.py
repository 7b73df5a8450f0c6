"""Neural networks: the ε-predictors. No diffusion maths lives here."""

from pianodiff.nets.diffwave import DiffWave
from pianodiff.nets.multirate import MultiRateDiffWave

__all__ = ["DiffWave", "MultiRateDiffWave"]
