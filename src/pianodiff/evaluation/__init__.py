"""The pieces of the ``python -m pianodiff.evaluate`` harness.

One concept per module (definitions in docs/evaluation.md; the signal measures themselves
live in ``pianodiff.measures``):

    harness.py         the body of ``python -m pianodiff.evaluate``: every case, every
                       (extender, sampler), the outputs and the W&B run
    cases.py           held-out extension and gap cases
    models.py          the models a run compares, loaded from their exports
    run_cases.py       one case through the public API, measured
    influence.py       prompt influence: same-seed continuations of two different prompts
    reference_loss.py  "predict zero" and Wiener-filter reference losses for ε-prediction
    report.py          summaries, tables, plots and the W&B table of a run

This package imports nothing heavy on purpose: import the module you need.
"""
