"""Training data: the piano14 render (``prepare``, ``piano14``, ``render``), folder conversion
(``convert``), and the dataset / datamodule used by training."""
