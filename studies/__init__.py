"""Studies behind the shipped defaults: one-off experiments and the figure makers of
studies/README.md and studies/history.md. Not part of the pianodiff package; run each
from the repository root as ``python -m studies.<name>``."""
