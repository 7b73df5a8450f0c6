"""The checkpoint room: every read and write of model weights and their configs.

export.py          export folders (model.safetensors + config.yaml): write, load, the
                   allow-list of ``_target_``s a config may name
ckpt_io.py         the trainer's .ckpt files: atomic writes, weights-only reads, the
                   key of the config stored inside
from_training.py   .ckpt -> export (a script, or the callback at the end of a fit)
warm_start.py      a run's weights into a fresh network (fresh optimiser)
model_card.py      the MODEL_CARD.md of an export folder, rendered from its files
plain_yaml.py      reading a config.yaml from anyone: plain values, no anchors or aliases,
                   size and depth capped while parsing
build_limits.py    sizes checked before a network or schedule from a file is built
"""
