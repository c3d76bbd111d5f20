"""Hand-offs: the model moves the conversation to another agent by calling a transfer tool.

``Agent(handoffs=[billing, support])`` gives the model one tool per target
(``transfer_to_billing``...). The tool is a real :class:`~agentkit.tools.Tool`, so its arguments
are validated, the approval hook can veto it and tracing records it like any call. When it
runs, the session sends the target's instructions, tools and voice settings in one
``session.update``, queued before the call's output, so the follow-up response that the output
asks for is the new agent's; the conversation's history stays as it was. A reconnect restores
the agent the conversation is with at that moment.

:func:`handoff_back` is a tool that returns to the agent that handed over. The session caps
transfers per user turn (``SessionOptions.max_handoffs_per_turn``): past the cap a transfer is
answered with an error output and nothing changes, so two agents cannot pass a caller back and
forth forever.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from agentkit.errors import AgentkitError, ToolDefinitionError
from agentkit.events import HandoffOccurred
from agentkit.tools import Tool, ToolContext, ToolResult

if TYPE_CHECKING:
    from agentkit.agent import Agent
    from agentkit.session import Session

__all__ = ["Handoff", "handoff", "handoff_back"]

_ANNOTATED: Any = Annotated  # subscripted with a tuple built at run time
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_-]+")
BACK_TOOL = "transfer_back"


@dataclass(frozen=True, eq=False)
class Handoff:
    """A transfer the model may make (see :func:`handoff` and :func:`handoff_back`).

    Attributes:
        agent: the agent to transfer to; ``None`` returns to the agent that handed over.
        tool_name: the name of the transfer tool the model calls.
        description: what the model reads to decide when to transfer.
        input_type: a pydantic model whose fields are the tool's arguments (a reason, say);
            ``None``: the tool takes none.
    """

    agent: Agent | None
    tool_name: str
    description: str
    input_type: type[BaseModel] | None = None
    tool: Tool[..., Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tool", _transfer_tool(self))


def handoff(
    agent: Agent,
    *,
    tool_name: str | None = None,
    description: str | None = None,
    input_type: type[BaseModel] | None = None,
) -> Handoff:
    """A transfer to ``agent``, with its tool's name, description and input configured.

    Args:
        agent: the agent that takes over.
        tool_name: defaults to ``transfer_to_<agent name>``.
        description: defaults to a sentence naming the agent.
        input_type: a pydantic model whose fields the model fills when it transfers (the
            :class:`~agentkit.events.HandoffOccurred` event carries them).

    Raises:
        ToolDefinitionError: the tool name is not a valid function name, or the input type
            has fields JSON cannot fill.
    """
    name = tool_name if tool_name is not None else f"transfer_to_{_slug(agent.name)}"
    text = description if description is not None else f"Transfer the conversation to {agent.name}."
    return Handoff(agent, name, text, input_type)


def handoff_back(
    *,
    tool_name: str = BACK_TOOL,
    description: str | None = None,
    input_type: type[BaseModel] | None = None,
) -> Handoff:
    """A transfer back to the agent that handed the conversation over to this one.

    Agents are immutable, so two agents cannot name each other; a specialist lists
    ``handoff_back()`` instead. Called when no agent handed over, it is answered with an error
    and nothing changes.
    """
    text = description or (
        "Transfer the conversation back to the agent that handed it to you, once your part "
        "is done or the user asks for something outside it."
    )
    return Handoff(None, tool_name, text, input_type)


def _slug(name: str) -> str:
    return _NOT_A_NAME.sub("_", name).strip("_")[:52] or "agent"


def _transfer_tool(spec: Handoff) -> Tool[..., Any]:
    async def transfer(context: ToolContext[Any], **arguments: Any) -> ToolResult:
        return await _run_transfer(spec, context, arguments)

    parameters = [
        inspect.Parameter("context", inspect.Parameter.KEYWORD_ONLY, annotation=ToolContext[Any])
    ]
    if spec.input_type is not None:
        parameters.extend(_input_parameters(spec.input_type, spec.tool_name))
    transfer.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    transfer.__name__ = transfer.__qualname__ = spec.tool_name
    return Tool(transfer, name=spec.tool_name, description=spec.description, blocking=False)


def _input_parameters(model: type[BaseModel], tool_name: str) -> list[inspect.Parameter]:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        message = f"input_type must be a pydantic model class, not {model!r}"
        raise ToolDefinitionError(tool_name, message)
    parameters = []
    for name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if info.description or info.metadata:
            extra = [info.description] if info.description else []
            metadata = (annotation, *extra, *info.metadata)
            annotation = _ANNOTATED[metadata]
        default = (
            inspect.Parameter.empty
            if info.is_required()
            else info.get_default(call_default_factory=True)
        )
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    return parameters


async def _run_transfer(
    spec: Handoff, context: ToolContext[Any], arguments: dict[str, Any]
) -> ToolResult:
    session = context.session
    if session is None:
        return ToolResult.error("a transfer needs a live session", error_type="handoff_failed")
    given = _input_of(spec, arguments)
    return await transfer(session, spec, context.call_id, given)


def _input_of(spec: Handoff, arguments: dict[str, Any]) -> dict[str, Any]:
    if spec.input_type is None:
        return {}
    try:
        return spec.input_type.model_validate(arguments).model_dump(mode="json")
    except ValidationError:  # the tool validated the fields; a model validator may still object
        return dict(arguments)


async def transfer(
    session: Session, spec: Handoff, call_id: str, arguments: dict[str, Any]
) -> ToolResult:
    """Move ``session`` to the handoff's agent, or say in the call's output why not."""
    state, source = session.state, session.agent
    limit = session.options.max_handoffs_per_turn
    if state.handoffs_this_turn >= limit:
        message = (
            f"transfer limit reached ({limit} per user turn); do not transfer again, "
            "answer the user yourself"
        )
        return ToolResult.error(message, error_type="handoff_limit")
    trail = session._handoff_trail
    if trail is None:
        trail = session._handoff_trail = []
    back = spec.agent is None
    if back and not trail:
        message = "no agent handed this conversation over, so there is none to go back to"
        return ToolResult.error(message, error_type="handoff_failed")
    target = trail[-1] if back else spec.agent
    assert target is not None
    # Counted and recorded before the first await: parallel transfers see each other.
    state.handoffs_this_turn += 1
    previous = list(trail)
    if back:
        trail.pop()
    else:
        trail.append(source)
    try:
        await session.update_agent(_keep_voice(session, source, target))
    except AgentkitError as exc:
        if session.agent is source:  # refused before anything was sent
            state.handoffs_this_turn -= 1
            trail[:] = previous
        message = f"could not transfer to {target.name}: {exc}"
        return ToolResult.error(message, error_type="handoff_failed")
    _trace(source.name, target.name)
    event = HandoffOccurred(
        call_id=call_id,
        tool_name=spec.tool_name,
        source=source.name,
        target=target.name,
        arguments=arguments,
        back=back,
    )
    session._emit(event)
    return ToolResult(f"transferred to {target.name}")


def _keep_voice(session: Session, source: Agent, target: Agent) -> Agent:
    """The service keeps the voice the user has heard: once the assistant spoke, a target with
    another voice takes over in the current one (sending a new voice would be refused)."""
    if target.voice == source.voice:
        return target
    spoke = any(
        entry["role"] == "assistant" and entry["has_audio"]
        for entry in session.state.history.values()
    )
    return target.with_changes(voice=source.voice) if spoke else target


def _trace(source: str, target: str) -> None:
    """On the transfer tool's span (a no-op span when tracing is off)."""
    trace.get_current_span().set_attributes(
        {"agentkit.handoff.source": source, "agentkit.handoff.target": target}
    )
