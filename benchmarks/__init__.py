"""pianodiff benchmarks: ``make bench`` = ``python -m benchmarks.run [--quick]``.

Each module offers ``main(quick: bool) -> list[dict]`` of rows
{name, value, baseline, ratio, unit}; every ratio is against a baseline measured in the
same run. ``run.py`` gathers them into one report.
"""
