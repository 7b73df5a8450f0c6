"""Signal measures of audio: a leaf room that generation and the evaluation harness share.

One concept per module (definitions in docs/evaluation.md):

    seam.py            the seam score (log-mel frame-to-frame change)
    natural.py         the seam statistic at random cut points of real audio, percentiles
    spectral.py        STFT power, log-spectral distance and SNR (gap filling)
    chroma.py          12-bin chroma and harmonic continuity across a point
    tonality.py        spectral flatness against a median envelope: notes vs shaped noise
    onsets.py          spectral-flux onset detection and onset rate
    notes.py           basic-pitch's transcriber (ONNX, optional extra): note frames, notes/s
    note_events.py     basic-pitch's note creation from its activations, in numpy
    listening.py       a sample's tonality, onset rate and note measures (training's demos)

These modules read tensors and ``pianodiff.core.audio`` only (docs/architecture.md). Nothing
heavy is imported here: import the module you need.
"""
