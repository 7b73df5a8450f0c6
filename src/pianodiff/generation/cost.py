"""Cost accounting: network evaluations and network-audio-seconds per output second.

Network-audio-seconds per output second = NFE × window seconds ÷ new
seconds per window. It counts how much audio the network has to process for each second it
adds, whatever the hardware, so runs on different machines compare. Every figure counts
every network evaluation: a batched call over N candidates counts N times.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


def steady_state_cost(nfe_per_window: float, window_seconds: float, new_seconds: float) -> float:
    """Network-audio-seconds per output second of a full extension window.

    ``nfe_per_window`` counts every candidate's evaluations (walk NFE × candidates).
    """
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

    def add(
        self,
        nfe: int,
        forward_equivalents: float,
        window_s: float,
        new_s: float,
        batch: int = 1,
    ) -> None:
        """Record one window sampled as a batch of ``batch`` candidates.

        Args:
            nfe: batched network calls of the window's walk.
            forward_equivalents: the same in forward-pass equivalents (backward = 2).
            window_s: window length; new_s: the seconds it added.
            batch: candidates per call; every figure is multiplied by it.
        """
        self.nfe += nfe * batch
        self.forward_equivalents += forward_equivalents * batch
        self.network_audio_seconds += nfe * batch * window_s
        self.new_seconds += new_s
        self.windows.append(
            {"nfe": nfe * batch, "batch": batch, "window_s": window_s, "new_s": new_s}
        )

    def summary(self) -> dict:
        """Totals plus network-audio-seconds per generated second (NaN when none)."""
        per_s = self.network_audio_seconds / self.new_seconds if self.new_seconds else float("nan")
        out = asdict(self)
        out.pop("windows")
        out["network_audio_seconds_per_output_second"] = per_s
        return out
