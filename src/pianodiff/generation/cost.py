"""Cost accounting: network evaluations and network-audio-seconds per output second.

DESIGN "Measuring": network-audio-seconds per output second = NFE × window seconds ÷ new
seconds per window. It counts how much audio the network has to process for each second it
adds, whatever the hardware, so runs on different machines compare.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


def steady_state_cost(nfe_per_window: float, window_seconds: float, new_seconds: float) -> float:
    """Network-audio-seconds per output second of a full extension window."""
    if new_seconds <= 0:
        raise ValueError("new_seconds must be > 0")
    return nfe_per_window * window_seconds / new_seconds


@dataclass
class CostMeter:
    """Accumulates the cost of a run, window by window."""

    nfe: int = 0
    forward_equivalents: float = 0.0
    network_audio_seconds: float = 0.0
    new_seconds: float = 0.0
    windows: list[dict] = field(default_factory=list)

    def add(self, nfe: int, forward_equivalents: float, window_s: float, new_s: float) -> None:
        """Record one window: its NFE (per batch), forward-pass equivalents and lengths."""
        self.nfe += nfe
        self.forward_equivalents += forward_equivalents
        self.network_audio_seconds += nfe * window_s
        self.new_seconds += new_s
        self.windows.append({"nfe": nfe, "window_s": window_s, "new_s": new_s})

    def summary(self) -> dict:
        """Totals plus network-audio-seconds per generated second (NaN when none)."""
        per_s = self.network_audio_seconds / self.new_seconds if self.new_seconds else float("nan")
        out = asdict(self)
        out.pop("windows")
        out["network_audio_seconds_per_output_second"] = per_s
        return out
