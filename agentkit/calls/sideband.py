"""The sideband: the application's server runs the agent on a call someone else carries.

A browser (WebRTC) or a phone (SIP) sends and hears the audio; the server opens the call's
control socket (``/v1/realtime?call_id=...``) and keeps instructions, tools, approvals,
guardrails, tracing and history there, as a :class:`~agentkit.Session` does. Only the media
owner can send audio, so the audio methods raise :class:`MediaNotOwnedError`.

The call outlives its sideband: a dropped socket re-attaches to the same ``call_id`` with the
session's reconnect policy, and the conversation is not replayed (the service still holds it).
A tool that finishes while the socket is down posts its output once, after the re-attach; a
response the drop cut short is not asked for again (the caller heard it go on).

The service tells the sideband of each keypad press (DTMF) but not the model: with a
:class:`Keypad`, the session gathers presses into entries ("4", "2", "#" is ``42``) and gives
each to the model as a user message, so the agent can act on an order number or a menu choice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from agentkit.agent import Agent
from agentkit.endpoints import Endpoint
from agentkit.errors import AgentkitError, ConfigurationError, SessionClosedError
from agentkit.events import DtmfReceived
from agentkit.history import Replay
from agentkit.protocol.client_events import ConversationItemCreate
from agentkit.session import Connector, Session, SessionOptions

__all__ = ["Keypad", "MediaNotOwnedError", "SidebandSession"]

logger = logging.getLogger(__name__)

DTMF_KEYS = frozenset("0123456789*#ABCD")


class MediaNotOwnedError(AgentkitError):
    """Audio was sent on a sideband: only the browser or the phone line carries a call's audio."""


@dataclass(frozen=True)
class Keypad:
    """How a caller's keypad presses reach the model: gathered into entries, each sent as a
    user message that asks for a response.

    An entry ends at an end key (not part of it), after ``pause`` seconds without a press, or
    at ``max_keys`` presses. Every press is still a :class:`~agentkit.events.DtmfReceived`
    event for the application.

    Attributes:
        end_keys: keys that end an entry, ``"#"`` by default; ``""`` for none.
        pause: seconds of silence on the keypad that end an entry; ``None``: only end keys
            and ``max_keys`` do.
        max_keys: the longest entry; ``1`` makes every press an entry (a one-key menu).
        template: the message the model reads; ``{keys}`` is the entry.
    """

    end_keys: str = "#"
    pause: float | None = 3.0
    max_keys: int = 32
    template: str = "[The caller typed {keys} on the phone keypad.]"

    def __post_init__(self) -> None:
        if self.pause is not None and not self.pause > 0:
            raise ConfigurationError(f"Keypad pause must be positive or None, got {self.pause}")
        if self.max_keys < 1:
            raise ConfigurationError(f"Keypad max_keys must be at least 1, got {self.max_keys}")
        try:
            filled = self.template.format(keys="\0")
        except (IndexError, KeyError, ValueError):
            filled = ""
        if "\0" not in filled:
            raise ConfigurationError(
                f"the Keypad template must hold {{keys}} and no other field: {self.template!r}"
            )


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
        keypad: gather the caller's keypad presses and give each entry to the model; ``None``
            (the default) leaves them to the application as ``DtmfReceived`` events.
        connector: opens the transport instead of ``endpoint`` (tests).

    Raises:
        ConfigurationError: the endpoint speaks the preview protocol, or ``call_id`` is empty.
    """

    __slots__ = ("_entry", "_entry_timer", "call_id", "keypad")

    def __init__(
        self,
        call_id: str,
        agent: Agent,
        endpoint: Endpoint,
        *,
        deps: Any = None,
        options: SessionOptions | None = None,
        keypad: Keypad | None = None,
        connector: Connector | None = None,
    ) -> None:
        sideband = endpoint.sideband(call_id)
        super().__init__(agent, sideband, deps=deps, options=options, connector=connector)
        self.call_id = call_id
        self.keypad = keypad
        self._entry = ""
        self._entry_timer: asyncio.TimerHandle | None = None
        # A response the service was running goes on with the caller after a drop: it is not
        # asked for again (the caller would hear it twice).
        self.state.regenerate_lost = False
        if keypad is not None:
            self.on(DtmfReceived, self._pressed)

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

    def _pressed(self, event: DtmfReceived) -> None:
        keypad = self.keypad
        if keypad is None or event.key not in DTMF_KEYS or self.closed:
            return
        if self._entry_timer is not None:
            self._entry_timer.cancel()
            self._entry_timer = None
        if event.key in keypad.end_keys:
            self._enter()
            return
        self._entry += event.key
        if len(self._entry) >= keypad.max_keys:
            self._enter()
        elif keypad.pause is not None:
            loop = asyncio.get_running_loop()
            self._entry_timer = loop.call_later(keypad.pause, self._enter)

    def _enter(self) -> None:
        """Give the entry gathered so far to the model (nothing when it is empty)."""
        self._entry_timer = None
        entry, self._entry = self._entry, ""
        if entry and self.keypad is not None and not self.closed:
            message = self.keypad.template.format(keys=entry)
            self._tasks.start(self._tell_model(message), name="agentkit-keypad")

    async def _tell_model(self, message: str) -> None:
        try:
            await self.send_text(message)
        except SessionClosedError:
            logger.debug("keypad entry dropped: the sideband of %s closed", self.call_id)

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
