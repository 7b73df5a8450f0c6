"""The training room: everything Lightning knows about pianodiff.

    run.py          the body of ``python -m pianodiff.train``: compose, check, build, fit
    lit_module.py   the LightningModule (t sampling, loss, optimiser, EMA, checkpoint config)
    ema.py          the EMA weights
    callbacks/      checkpoints on time and on stop, demo samples, history panel,
                    reference losses, CPU-time limit

Reading and writing checkpoints (the .ckpt format, exports, warm starts, the export at
the end of a fit) is the checkpoint room's (``pianodiff/checkpoint/``).

Nothing below this room imports it (docs/architecture.md).
"""
