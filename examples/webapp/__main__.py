"""``python -m examples.webapp``: serve the demo on http://127.0.0.1:8000 (HOST / PORT to change).

For production run uvicorn (or gunicorn with uvicorn workers) directly; see docs/web.md.
"""

from __future__ import annotations

import logging
import os

import uvicorn


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        "examples.webapp.app:app",
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        log_config=None,  # keep the logging set up above
    )


if __name__ == "__main__":
    main()
