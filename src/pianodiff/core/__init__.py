"""The core room: what every other room may use.

    audio.py            the only module that reads or writes sound files (soundfile)
    safe_writes.py      atomic writes, temps of killed writers, no folder for a refused run
    allocator.py        keep freed conv buffers in glibc's heap (the entrypoints call it)
    resolvers.py        the ``${pd.*}`` OmegaConf resolvers of the shipped configs
    known_warnings.py   library warnings that do not apply to pianodiff, filtered once

It imports no other room (docs/architecture.md).
"""
