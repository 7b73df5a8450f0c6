"""Neural networks: the ε-predictors. No diffusion maths lives here."""

from pianodiff.nets.diffwave import DiffWave

__all__ = ["DiffWave"]
