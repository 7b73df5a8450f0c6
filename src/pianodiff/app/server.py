"""Start the page: loopback only, no share link, no analytics, uploads capped.

``launch`` is what ``pianodiff-app`` runs and what the browser tests start on a free port.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from pianodiff.app.page import build_page
from pianodiff.app.studio import Studio

QUEUE_SIZE = 16  # requests waiting behind the running one; more are turned away


@dataclass
class Served:
    """A running page: its address, and the Blocks to ``close()``."""

    page: gr.Blocks
    url: str

    def close(self) -> None:
        self.page.close()


def launch(
    studio: Studio,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    block: bool = True,
    quiet: bool = False,
) -> Served:
    """Serve the page for ``studio``; ``block=False`` returns once it answers.

    Files are served from the studio's outputs folder (and Gradio's upload cache) only; an
    upload over the size limit is refused by the server before the page sees it.
    """
    page = build_page(studio)
    page.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)
    outputs = studio.options.outputs
    outputs.mkdir(parents=True, exist_ok=True)
    page.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        quiet=quiet,
        show_error=True,
        max_file_size=studio.options.limits.upload_bytes,
        allowed_paths=[str(outputs.resolve())],
        ssr_mode=False,
        mcp_server=False,
        inbrowser=False,
        footer_links=["api", "settings"],  # no links off this machine
    )
    return Served(page, page.local_url or f"http://{host}:{port}/")
