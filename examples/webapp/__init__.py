"""A web service that holds realtime sessions for browsers (issue #10, docs/web.md).

The browser captures the microphone and streams PCM16 over a WebSocket; the service holds one
agentkit :class:`~agentkit.Session` per browser socket and runs the tools server-side, so keys
and tool code never reach the browser.

    python -m examples.webapp                  # http://127.0.0.1:8000, offline simulator
    uvicorn examples.webapp.app:app --workers 4

Needs the ``web`` extra: ``pip install 'agentkit-realtime[web]'``.
"""
