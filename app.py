"""``python app.py`` starts Marquee's web app (the Hugging Face Spaces convention), as does
``marquee serve``: the Gradio UI at ``/`` (``marquee/ui.py``), the JSON API under ``/api/v1``,
the widget at ``/widget.js`` and ``/healthz``. Nothing else lives here."""

from __future__ import annotations

import logging

from marquee.settings import Settings


def main(settings: Settings | None = None) -> None:
    """Serve the whole web app with uvicorn on ``settings.host:settings.port`` (``settings.workers``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from marquee.serving import serve

    serve(settings or Settings())


if __name__ == "__main__":
    main()
