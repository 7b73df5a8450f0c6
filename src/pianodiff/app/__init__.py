"""The web page: continue a recording, listen, and compare extenders (``python -m pianodiff.app``).

A Gradio page over the one generation pipeline (``generation/run.run_generation``), with
one model loaded per process and one generation at a time. Gradio is an optional extra
(``pip install 'pianodiff[app]'``); only ``page.py`` and ``server.py`` import it, so the rest
of this room (limits, the model list, the progress plugin, the studio that runs the
generations) is plain Python and is tested without a browser.
"""

EXTRA_HINT = "the web page needs the optional 'app' extra: pip install 'pianodiff[app]'"
