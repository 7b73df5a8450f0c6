"""Solvers: one small function per reverse-step rule, all with one signature.

A solver takes a :class:`~pianodiff.diffusion.solvers.step.SolverStep` (the sample at one
level, the model's estimates there, the next level's ᾱ, and the previous estimate for
multistep rules) and returns the sample at the next level. The reverse loop
(``diffusion/sampler.py``) calls ``plan.solver`` for every denoising move, after the
inpainter's hooks, and reports the move to its per-step callback.

    ddim.py       the generalised DDIM/DDPM step with η (first order)
    dpmpp_2m.py   DPM-Solver++(2M), multistep second order in log-SNR
    dpmpp_2m_sde.py  its SDE form with η: the 2M correction plus fresh noise every move
    lower_order_final.py  a multistep rule at first order on the move onto the last noisy
                  level (a plan's ``lower_order_final``)
    restart.py    x̂0, then fresh noise at the next level: the walk of a distilled student

Adding one: a new file here with a function of the same signature, and a
``conf/sampler/<name>.yaml`` whose plan node passes it as ``solver`` (docs/architecture.md).
"""
