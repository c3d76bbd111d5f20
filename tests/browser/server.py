"""Serve an ASGI app with uvicorn on 127.0.0.1 (random port) inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from tests.support import TIMEOUT


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Yield the app's base URL (``http://127.0.0.1:PORT``) while uvicorn serves it.

    The socket is bound and listening before uvicorn starts, so a client may connect at once:
    it waits in the backlog until the app's lifespan has started; no polling needed.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)
        sock.close()
