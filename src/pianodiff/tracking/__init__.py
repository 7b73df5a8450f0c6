"""The tracking room: everything that talks to Weights & Biases (offline by default).

env.py            W&B stays off the network (and without telemetry) unless asked
generate_run.py   a generate run's W&B log and job record (plugins), offline run reading
evaluate_run.py   an evaluate run's W&B log
comparison.py     the multirun comparison of extenders (Hydra callback), its W&B table
"""
