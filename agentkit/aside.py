"""Out-of-band responses: ask the model something on the side, what :meth:`Session.aside` does.

An aside is a response with ``conversation: "none"``: it reads the conversation (or the input
given instead) but writes nothing to it, and it runs even while a normal response is active.
Its ``response.done`` is recognised by the aside's id in the response's ``metadata``, so any
number of asides may run at once. An aside answers in text and calls no tools
(``tool_choice: "none"``): its calls would belong to no conversation, so no output could be
posted for them.

Like :meth:`Session.ask`, an aside watches the session's events the way handlers do and takes
nothing from ``session.events()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentkit.answer import AnswerTimeoutError, watching
from agentkit.errors import ServerError, SessionClosedError
from agentkit.events import AsideFinished, ErrorOccurred, Event, Reconnected, SessionClosed
from agentkit.protocol.config import ResponseOptions
from agentkit.protocol.events import Usage
from agentkit.state import ASIDE_KEY, Action, Send

if TYPE_CHECKING:
    from agentkit.session import Session

__all__ = ["AsideResult", "aside"]


@dataclass(frozen=True)
class AsideResult:
    """What an aside answered.

    Attributes:
        text: its words.
        status: ``completed``, ``cancelled``, ``incomplete`` or ``failed``.
        usage: its token usage (asides cost tokens too), ``None`` if the service did not say.
        metadata: the metadata given to :meth:`Session.aside`, as the service echoed it.
        response_id: the service's id of the response.
    """

    text: str
    status: str | None
    usage: Usage | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    response_id: str | None = None


async def aside(
    session: Session,
    instructions: str,
    *,
    input: Sequence[str | Mapping[str, Any]] | None = None,
    metadata: Mapping[str, str] | None = None,
    timeout: float | None = 30.0,
) -> AsideResult:
    """Ask for an out-of-band response and return it; see the module docstring.

    Args:
        instructions: what the model should do, e.g. "Classify the caller's intent".
        input: the context instead of the conversation: strings become user messages, mappings
            are conversation items as the protocol shapes them (``{"type": "item_reference",
            "id": ...}`` points at an item of the conversation). ``None``: the conversation.
        metadata: string pairs the service echoes back, for the application's own use.
        timeout: seconds to wait for the answer (``None``: no limit).

    Raises:
        AnswerTimeoutError: no answer in time (also an ``asyncio.TimeoutError``).
        ServerError: the service refused the request.
        SessionClosedError: the session closed first.
    """
    aside_id = "aside_" + os.urandom(6).hex()
    options = ResponseOptions(
        instructions=instructions,
        conversation="none",
        metadata={**(metadata or {}), ASIDE_KEY: aside_id},
        tool_choice="none",
        output_modalities=("text",),
        input=None if input is None else tuple(_item(entry) for entry in input),
    )
    watcher = _AsideWatcher(session, aside_id, options)
    with watcher.observing(), session._events.unbounded():  # see ask()
        await session._perform(watcher.request())
        try:
            return await asyncio.wait_for(asyncio.shield(watcher.outcome), timeout)
        except asyncio.TimeoutError:
            assert timeout is not None
            raise AnswerTimeoutError(
                f"no answer to the aside within {timeout:g} s", timeout=timeout
            ) from None


def _item(entry: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(entry, str):
        content = [{"type": "input_text", "text": entry}]
        return {"type": "message", "role": "user", "content": content}
    return dict(entry)


_OBSERVED: tuple[type[Event], ...] = (AsideFinished, ErrorOccurred, Reconnected, SessionClosed)


class _AsideWatcher:
    def __init__(self, session: Session, aside_id: str, options: ResponseOptions) -> None:
        self.session = session
        self.aside_id = aside_id
        self.options = options
        self.event_id: str | None = None
        self.outcome: asyncio.Future[AsideResult] = asyncio.get_running_loop().create_future()

    def observing(self) -> contextlib.AbstractContextManager[None]:
        return watching(self.session, _OBSERVED, self._on_event, self.outcome)

    def request(self) -> list[Action]:
        """The ``response.create`` that asks for the aside, remembered to match its error."""
        if self.session.closed:
            raise SessionClosedError("the session is closed")
        actions = self.session.state.aside(self.options)
        for action in actions:
            if isinstance(action, Send):
                self.event_id = action.event.event_id
        return actions

    def _on_event(self, event: Event) -> None:
        if self.outcome.done():
            return
        if isinstance(event, AsideFinished) and event.aside_id == self.aside_id:
            self.outcome.set_result(_result(event))
        elif isinstance(event, ErrorOccurred) and event.event_id == self.event_id:
            error = ServerError(
                f"the service refused the aside: {event.message}",
                code=event.code,
                error_type=event.error_type,
                event_id=event.event_id,
            )
            self.outcome.set_exception(error)
        elif isinstance(event, Reconnected):
            # The lost socket took the response along: ask again on the new one.
            retry = self.session._perform(self.request())
            self.session._tasks.start(retry, name="agentkit-aside")
        elif isinstance(event, SessionClosed):
            reason = event.reason or event.code
            self.outcome.set_exception(SessionClosedError(f"session closed: {reason}"))


def _result(event: AsideFinished) -> AsideResult:
    return AsideResult(
        text=event.text,
        status=event.status,
        usage=event.usage,
        metadata=dict(event.metadata),
        response_id=event.response_id,
    )
