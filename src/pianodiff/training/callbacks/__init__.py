"""Lightning callbacks of pianodiff: timed and on-stop checkpoints, demo sampling, the
history panel, reference losses, a CPU-time limit (the export at the end of fit is
``checkpoint/from_training.py``)."""
