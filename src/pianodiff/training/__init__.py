"""The training room: everything Lightning knows about pianodiff.

    run.py          the body of ``python -m pianodiff.train``: compose, check, build, fit
    lit_module.py   the LightningModule (t sampling, loss, optimiser, EMA, checkpoint config)
    ema.py          the EMA weights
    warm_start.py   start from another run's weights with a fresh optimiser
    callbacks/      checkpoints on time and on stop, demo samples, history panel, export,
                    reference losses, CPU-time limit

Nothing below this room imports it (docs/architecture.md).
"""
