"""The Gradio page: Continue, Compare and the model picker over one :class:`Studio`.

Every control is a key of ``conf/generate.yaml`` (extender, preset, sampler and its step
count, seconds, seed, candidates, ``harmony.strength`` where that option exists, history);
the handlers hand them to the studio, which composes the config and runs the one pipeline.
A request the studio refuses shows its one line in the page (a Gradio error toast), never
a traceback; an unexpected failure shows one line too and logs the traceback on the server.

Generate and Compare share one queue slot (``concurrency_id``), so one generation runs at a
time per process and the rest wait in line with their place shown; Cancel skips the queue.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: nothing leaves
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from pianodiff.app.errors import GenerationCancelled  # noqa: E402
from pianodiff.app.studio import TABLE_HEADERS, Settings, Studio  # noqa: E402
from pianodiff.core.errors import USER_ERRORS  # noqa: E402

log = logging.getLogger(__name__)

QUEUE_ID = "generation"  # Generate and Compare share it: one generation at a time
FROM_PRESET = "(preset)"
COMPARED = ("interpolation", "repaint", "replacement")  # ticked at start: any model runs them
HARMONY_MAX = 20.0  # the slider's top: twice the strength that holds the prompt's key
INTRO = (
    "Continue a piano recording with a diffusion model, listen, and compare extenders. "
    "Upload or record a prompt (or leave it empty to start from an unconditional base "
    "window), pick the settings and press **Generate**. Everything runs on this machine."
)


def one_line(err: BaseException) -> str:
    """An exception's first line (the page shows one line, never a traceback)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def page_error(err: BaseException) -> gr.Error:
    """The toast for a failed request: the user error's line, or one line for a crash."""
    if isinstance(err, USER_ERRORS):
        return gr.Error(one_line(err), print_exception=False)
    log.exception("the page's request failed")
    return gr.Error(
        f"internal error ({type(err).__name__}: {one_line(err)}); the server log has the details",
        print_exception=False,
    )


@dataclass
class SettingsControls:
    """The settings widgets of one tab, always the same ones in the same order (so the
    HTTP API has fixed parameters); an option this version lacks is a hidden widget."""

    components: list[gr.components.Component]  # preset, sampler, steps, seconds, seed,
    has_preset: bool  # candidates, harmony, history
    has_harmony: bool

    def settings(
        self,
        extender: str,
        preset: str | None,
        sampler: str | None,
        steps: float | None,
        seconds: float | None,
        seed: float | None,
        candidates: float | None,
        harmony: float | None,
        history: bool | None,
    ) -> Settings:
        """:class:`Settings` from the widgets' values (a cleared number: its default)."""
        return Settings(
            extender=extender,
            seconds=float(seconds) if seconds is not None else 10.0,
            seed=None if seed is None or int(seed) < 0 else int(seed),
            candidates=int(candidates) if candidates is not None else 1,
            sampler=None if sampler in (None, "", FROM_PRESET) else sampler,
            preset=(preset or None) if self.has_preset else None,
            steps=int(steps) if steps else None,
            harmony=float(harmony) if self.has_harmony and harmony is not None else None,
            history=bool(history),
        )


def settings_controls(studio: Studio, tab: str) -> SettingsControls:
    """Build the settings widgets (inside the current layout) from the shipped configs."""
    defaults = studio.defaults()
    has_preset = studio.has_presets()
    harmony = studio.harmony_default()
    limits = studio.options.limits
    samplers = studio.choices("sampler")
    with gr.Row():
        preset = gr.Dropdown(
            studio.choices("preset") if has_preset else [],
            value=defaults.get("preset") if has_preset else None,
            label="preset",
            info="a sampler from the measured speed/quality frontier",
            visible=has_preset,
            elem_id=f"{tab}-preset",
        )
        sampler = gr.Dropdown(
            [FROM_PRESET, *samplers] if has_preset else samplers,
            value=FROM_PRESET if has_preset else defaults.get("sampler"),
            label="sampler",
            info="the reverse walk; a choice here wins over the preset",
            elem_id=f"{tab}-sampler",
        )
    with gr.Row():
        steps = gr.Number(
            0,
            label="steps",
            info="0 = the sampler's own",
            precision=0,
            minimum=0,
            elem_id=f"{tab}-steps",
        )
        seconds = gr.Number(
            10,
            label="seconds of new audio",
            info="after the prompt",
            minimum=0.05,
            maximum=limits.seconds,
            elem_id=f"{tab}-seconds",
        )
    with gr.Row():
        seed = gr.Number(
            0, label="seed", info="-1 = draw one (recorded)", precision=0, elem_id=f"{tab}-seed"
        )
        candidates = gr.Number(
            1,
            label="candidates",
            info="per window; best seam kept",
            precision=0,
            minimum=1,
            maximum=limits.candidates,
            elem_id=f"{tab}-candidates",
        )
    strength = gr.Slider(
        0.0,
        HARMONY_MAX,
        value=harmony or 0.0,
        step=0.5,
        label="prompt following (harmony.strength)",
        info="0 = off; pushes the new audio toward the prompt's pitches (10 holds its key)",
        visible=harmony is not None,
        elem_id=f"{tab}-harmony",
    )
    history = gr.Checkbox(False, label="diffusion-history animation", elem_id=f"{tab}-history")
    parts = [preset, sampler, steps, seconds, seed, candidates, strength, history]  # fmt: skip
    return SettingsControls(parts, has_preset, harmony is not None)


def prompt_input(tab: str) -> gr.Audio:
    return gr.Audio(
        sources=["upload", "microphone"],
        type="filepath",
        format=None,  # hand the file over as uploaded: the studio reads and checks it
        buttons=["download"],
        label="prompt (empty: start from a base window)",
        elem_id=f"{tab}-prompt",
    )


def player(label: str, elem_id: str, visible: bool = True) -> gr.Audio:
    """An output audio player with a download button (no share button: nothing leaves)."""
    return gr.Audio(
        label=label,
        type="filepath",
        interactive=False,
        visible=visible,
        buttons=["download"],
        elem_id=elem_id,
    )


def picture(label: str, elem_id: str, visible: bool = True) -> gr.Image:
    """An output image with download and full-screen buttons."""
    return gr.Image(
        label=label,
        type="filepath",
        interactive=False,
        visible=visible,
        buttons=["download", "fullscreen"],
        elem_id=elem_id,
    )


def _prompt_name(path: str | None) -> str | None:
    return Path(path).name if path else None


def build_page(studio: Studio) -> gr.Blocks:
    """The page's Blocks (not launched; see ``server.launch``)."""
    models = [(Path(p).name, p) for p in studio.model_choices()]
    extenders = studio.choices("extender")
    with gr.Blocks(title="pianodiff", analytics_enabled=False) as page:
        gr.Markdown(f"# pianodiff\n{INTRO}")
        model = gr.Dropdown(
            models,
            value=models[0][1] if models else None,
            allow_custom_value=True,
            label="model (an export folder; loaded with the safe loader)",
            elem_id="model",
        )
        with gr.Tab("Continue"):
            with gr.Row():
                with gr.Column(scale=1):
                    prompt = prompt_input("continue")
                    with gr.Row():
                        run = gr.Button("Generate", variant="primary", elem_id="generate")
                        stop = gr.Button("Cancel", elem_id="cancel")
                with gr.Column(scale=1):
                    extender = gr.Dropdown(
                        extenders,
                        value=studio.defaults().get("extender"),
                        label="extender",
                        info="how each new window treats the audio it continues",
                        elem_id="continue-extender",
                    )
                    controls = settings_controls(studio, tab="continue")
            status = gr.Markdown(label="status", elem_id="status")
            with gr.Row():
                whole = player("the whole output", "result-audio")
                new = player("the new audio alone", "new-audio")
            figure = picture("spectrogram (red: seams) and chromagram", "figure")
            history = picture("diffusion history", "history", visible=False)
            files = gr.File(label="download: WAV and JSON sidecar", file_count="multiple",
                            interactive=False, elem_id="files")  # fmt: skip

        with gr.Tab("Compare"):
            with gr.Row():
                with gr.Column(scale=1):
                    c_prompt = prompt_input("compare")
                    picked = gr.CheckboxGroup(
                        extenders,
                        value=[e for e in COMPARED if e in extenders],
                        label="extenders",
                        elem_id="extenders",
                    )
                    with gr.Row():
                        c_run = gr.Button("Compare", variant="primary", elem_id="compare")
                        c_stop = gr.Button("Cancel", elem_id="compare-cancel")
                with gr.Column(scale=1):
                    c_controls = settings_controls(studio, tab="compare")
            c_status = gr.Markdown(label="status", elem_id="compare-status")
            with gr.Row():
                players = [player(name, f"player-{name}", visible=False) for name in extenders]
            table = gr.Dataframe(headers=TABLE_HEADERS, label="comparison", interactive=False,
                                 elem_id="table")  # fmt: skip
            panel = picture("comparison.png", "panel")
            c_files = gr.File(label="download", file_count="multiple", interactive=False)

        def clear(request: gr.Request) -> None:
            studio.cancel_flag(request.session_hash or "").clear()

        def cancel(request: gr.Request) -> str:
            studio.cancel(request.session_hash or "")
            return "Cancelling at the next step…"

        def on_continue(
            model: str | None,
            prompt: str | None,
            extender: str,
            preset: str | None,
            sampler: str | None,
            steps: float | None,
            seconds: float | None,
            seed: float | None,
            candidates: float | None,
            harmony: float | None,
            history: bool,
            request: gr.Request,
            progress=gr.Progress(),  # noqa: B008
        ):
            """Continue ``prompt`` (a sound file; None: from a base window) with ``model``."""
            session = request.session_hash or ""
            values = (preset, sampler, steps, seconds, seed, candidates, harmony, history)
            try:
                done = studio.continue_recording(
                    controls.settings(extender, *values),
                    prompt or None,
                    _prompt_name(prompt),
                    model or None,
                    report=_reporter(progress),
                    session=session,
                )
            except GenerationCancelled as err:
                return str(err), None, None, None, gr.Image(visible=False), None
            except Exception as err:
                raise page_error(err) from None
            gif = str(done.history) if done.history else None
            return (
                done.summary(),
                str(done.result.output),
                str(done.new_audio),
                str(done.figure),
                gr.Image(value=gif, visible=gif is not None),
                [str(p) for p in done.files],
            )

        def on_compare(
            model: str | None,
            prompt: str | None,
            extenders_chosen: list[str] | None,
            preset: str | None,
            sampler: str | None,
            steps: float | None,
            seconds: float | None,
            seed: float | None,
            candidates: float | None,
            harmony: float | None,
            history: bool,
            request: gr.Request,
            progress=gr.Progress(),  # noqa: B008
        ):
            """Run ``prompt`` and one seed through each chosen extender; players and a table."""
            session = request.session_hash or ""
            hidden = [gr.Audio(visible=False) for _ in extenders]
            values = (preset, sampler, steps, seconds, seed, candidates, harmony, history)
            try:
                done = studio.compare(
                    list(extenders_chosen or []),
                    c_controls.settings("", *values),
                    prompt or None,
                    _prompt_name(prompt),
                    model or None,
                    report=_reporter(progress),
                    session=session,
                )
            except GenerationCancelled as err:
                return str(err), *hidden, None, None, None
            except Exception as err:
                raise page_error(err) from None
            shown = [
                gr.Audio(value=str(done.results[n].output), visible=True, label=n)
                if n in done.results
                else gr.Audio(visible=False)
                for n in extenders
            ]
            downloads = [str(done.folder / "comparison.json"), str(done.panel)]
            downloads += [str(r.output) for r in done.results.values()]
            note = "" if any(r["note_frames"] is not None for r in done.rows) else (
                " (note frames: install the notes extra, `make notes`)"
            )  # fmt: skip
            message = f"{len(done.results)} extenders compared in {done.folder}{note}"
            return message, *shown, done.table(), str(done.panel), downloads

        run.click(clear, None, None, queue=False, api_visibility="private").then(
            on_continue,
            [model, prompt, extender, *controls.components],
            [status, whole, new, figure, history, files],
            api_name="continue",
            concurrency_id=QUEUE_ID,
            concurrency_limit=1,
        )
        stop.click(cancel, None, status, queue=False, api_name="cancel")
        c_run.click(clear, None, None, queue=False, api_visibility="private").then(
            on_compare,
            [model, c_prompt, picked, *c_controls.components],
            [c_status, *players, table, panel, c_files],
            api_name="compare",
            concurrency_id=QUEUE_ID,
            concurrency_limit=1,
        )
        c_stop.click(cancel, None, c_status, queue=False, api_visibility="private")
    return page


def _reporter(progress: gr.Progress) -> Callable[[float, str], None]:
    def report(fraction: float, caption: str) -> None:
        progress(fraction, desc=caption)

    return report
