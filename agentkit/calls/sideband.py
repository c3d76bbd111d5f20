"""The sideband: the application's server runs the agent on a call someone else carries.

A browser (WebRTC) or a phone (SIP) sends and hears the audio; the server opens the call's
control socket (``/v1/realtime?call_id=...``) and keeps instructions, tools, approvals,
guardrails, tracing and history there, as a :class:`~agentkit.Session` does. Only the media
owner can send audio, so the audio methods raise :class:`MediaNotOwnedError`.

The call outlives its sideband: a dropped socket re-attaches to the same ``call_id`` with the
session's reconnect policy, and the conversation is not replayed (the service still holds it).
A tool that finishes while the socket is down posts its output once, after the re-attach; a
response the drop cut short is not asked for again (the caller heard it go on).
"""

from __future__ import annotations

from typing import Any

from agentkit.agent import Agent
from agentkit.endpoints import Endpoint
from agentkit.errors import AgentkitError
from agentkit.history import Replay
from agentkit.protocol.client_events import ConversationItemCreate
from agentkit.session import Connector, Session, SessionOptions

__all__ = ["MediaNotOwnedError", "SidebandSession"]


class MediaNotOwnedError(AgentkitError):
    """Audio was sent on a sideband: only the browser or the phone line carries a call's audio."""


class SidebandSession(Session):
    """A :class:`~agentkit.Session` attached to a call's sideband.

    Use it like a session (``async with``, events, :meth:`~agentkit.Session.on`,
    :meth:`~agentkit.Session.send_text`, :meth:`~agentkit.Session.update_agent`...).

    Args:
        call_id: the call, from the ``realtime.call.incoming`` webhook or the ``Location`` of
            a WebRTC call.
        agent: instructions and tools; the tools run here, on the server.
        endpoint: the service and the long-lived credential (the sideband URL is derived).
        deps: handed to tools as ``ToolContext.deps`` (an :class:`~agentkit.calls.IncomingCall`
            lets them read the caller's SIP headers).
        options: limits and policies, as for a session.
        connector: opens the transport instead of ``endpoint`` (tests).

    Raises:
        ConfigurationError: the endpoint speaks the preview protocol, or ``call_id`` is empty.
    """

    __slots__ = ("call_id",)

    def __init__(
        self,
        call_id: str,
        agent: Agent,
        endpoint: Endpoint,
        *,
        deps: Any = None,
        options: SessionOptions | None = None,
        connector: Connector | None = None,
    ) -> None:
        sideband = endpoint.sideband(call_id)
        super().__init__(agent, sideband, deps=deps, options=options, connector=connector)
        self.call_id = call_id
        # A response the service was running goes on with the caller after a drop: it is not
        # asked for again (the caller would hear it twice).
        self.state.regenerate_lost = False

    def __repr__(self) -> str:
        return f"SidebandSession(agent={self.agent.name!r}, call_id={self.call_id!r})"

    async def send_audio(self, pcm: bytes) -> None:
        """Refused: the media owner sends the audio."""
        raise MediaNotOwnedError(self._media_only("send_audio"))

    async def commit_audio(self, *, respond: bool = False) -> None:
        """Refused: the media owner's turn detection commits the audio."""
        raise MediaNotOwnedError(self._media_only("commit_audio"))

    async def clear_audio(self) -> None:
        """Refused: the media owner's input buffer is not reachable from the sideband."""
        raise MediaNotOwnedError(self._media_only("clear_audio"))

    def _media_only(self, method: str) -> str:
        return (
            f"{method}() on the sideband of call {self.call_id!r}: the browser or phone line "
            "that carries the call sends its audio; the sideband controls the conversation"
        )

    def _replay(self) -> Replay:
        # The call kept its conversation while the sideband was away: sending it again would
        # double every item. Only what was never written goes out: items queued while the
        # socket was down (a tool's output, a message), each once.
        waiting = tuple(e for e, _ in self._outbox if isinstance(e, ConversationItemCreate))
        return Replay(waiting, restored=0, not_restored=())
