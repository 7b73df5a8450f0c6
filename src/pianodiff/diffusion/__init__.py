"""Diffusion maths: noise schedules, the forward/reverse process, sampling plans and the loop."""
