"""Running the tool calls the state decided on: a task per call, the concurrency limit, the
deadlines, input guardrails and approval, and the result handed back to the state.

The session decides *when* (its state says a call is ready, or cut off); a :class:`ToolRunner`
takes a :class:`~agentkit.actions.Call` and gives back a :class:`~agentkit.tools.ToolResult`,
always exactly one: an error, a timeout, a cancellation or a denial is an output too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from agentkit._tasks import Slots, ended
from agentkit.approval import Approval, ToolCallRequest, as_approval
from agentkit.errors import ConnectionFailedError, SessionClosedError
from agentkit.guardrails import screen_call
from agentkit.hosted_mcp import ApprovalCall, answer_approval
from agentkit.tools import ToolContext, ToolResult

if TYPE_CHECKING:
    from agentkit.actions import Call
    from agentkit.session import Session

__all__ = ["ToolRunner"]

logger = logging.getLogger("agentkit.session")


class ToolRunner:
    """The running calls of one session (tool calls and hosted MCP approval requests)."""

    __slots__ = ("_deadlines", "_reasons", "_session", "_slots", "_tasks", "_timed_out", "_timer")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._tasks: dict[str, asyncio.Task[None]] = {}  # call id -> its task, while it runs
        self._reasons: dict[str, str] = {}  # call id -> why it was cancelled
        self._slots: Slots | None = None  # made on the first call
        self._deadlines: dict[str, tuple[float, float]] = {}  # call id -> (deadline, limit)
        self._timed_out: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    # -- starting and stopping --------------------------------------------------------------

    def start(self, call: Call) -> None:
        session = self._session
        run = session._tracing.traced_call(call, self._run(call))
        name = f"agentkit-tool-{call.name}"
        task = session._tasks.start(run, name=name, eager=True, removes_itself=True)
        if not ended(task):  # an eager task may already have answered the call
            self._tasks[call.call_id] = task

    def start_approval(self, call: ApprovalCall) -> None:
        """Ask the approval hook about a hosted MCP tool's request, in a task of its own that
        barge-in and closing cancel like a call's (see :mod:`agentkit.hosted_mcp`)."""
        coroutine = answer_approval(self._session, call)
        task = self._session._tasks.start(
            coroutine, name="agentkit-mcp-approval", removes_itself=True
        )
        if not ended(task):
            self._tasks[call.call_id] = task

    def cancel(self, call_ids: tuple[str, ...], reason: str) -> None:
        for call_id in call_ids:
            task = self._tasks.get(call_id)
            if task is not None and not task.done():
                self._reasons[call_id] = reason
                task.cancel()

    def cancel_all(self, reason: str) -> list[asyncio.Task[None]]:
        """Cancel every running call but the current task (a tool may close its session: it
        must not wait for itself); each is still answered. Returns the tasks cancelled."""
        current = asyncio.current_task()
        running = [(c, t) for c, t in self._tasks.items() if t is not current]
        for call_id, task in running:
            self._reasons.setdefault(call_id, reason)
            task.cancel()
        return [task for _, task in running]

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def cancelled(self, call_id: str) -> str:
        """Why a call or request was cancelled, as its task ends; forgets it."""
        self._tasks.pop(call_id, None)
        return self._reasons.pop(call_id, "cancelled")

    def ended(self, call_id: str) -> None:
        self._tasks.pop(call_id, None)

    # -- one call ---------------------------------------------------------------------------

    async def _run(self, call: Call) -> None:
        session = self._session
        try:
            result = await self.invoke(call)
        except asyncio.CancelledError:
            limit = self._timed_out.pop(call.call_id, None)
            if limit is not None:
                message = f"{call.name} did not finish within {limit:g} s"
                result = ToolResult.error(message, error_type="timeout")
            else:
                reason = self._reasons.pop(call.call_id, "cancelled")
                result = ToolResult.error(
                    f"{call.name} was cancelled: {reason}", error_type="cancelled"
                )
        finally:
            self._tasks.pop(call.call_id, None)
            self._timed_out.pop(call.call_id, None)  # a tool that swallowed its cancellation
        result = self._capped(result)
        try:
            if not session._perform_now(session.state.call_finished(call.call_id, result)):
                await session._flush()
        except (SessionClosedError, ConnectionFailedError):
            logger.info("output for call %s not delivered: the connection is gone", call.call_id)
        finally:
            session._tasks.remove(asyncio.current_task())  # started with removes_itself

    async def invoke(self, call: Call) -> ToolResult:
        """The call's result: its tool run under the session's guardrails, approval,
        concurrency limit and deadline."""
        session = self._session
        agent = session.agent
        tool = agent.toolset.get(call.name)
        if tool is None:
            known = ", ".join(agent.toolset.names) or "none"
            message = f"there is no tool named {call.name!r}; available tools: {known}"
            return ToolResult.error(message, error_type="unknown_tool")
        if agent.input_guards:
            blocked = await screen_call(session, call)
            if blocked is not None:
                return blocked
        options = session.options
        if options.approve is not None:
            denial = await self._denial(call)
            if denial is not None:
                return denial
        context: ToolContext[Any] | None = None
        if tool.takes_context:
            context = ToolContext(
                call_id=call.call_id,
                tool_name=call.name,
                deps=session.deps,
                session=session,
                agent=agent,
                progress_callback=lambda message: session._progress(call, message),
            )
        limit = tool.timeout if tool.timeout is not None else options.tool_timeout
        slots = self._slots
        if slots is None:
            slots = self._slots = Slots(options.max_concurrent_tools)
        if not slots.take_now():
            await slots.take()
        try:
            self._watch(call.call_id, limit)
            try:
                return await tool.invoke(call.arguments, context)
            finally:
                self._deadlines.pop(call.call_id, None)
        finally:
            slots.give()

    def _capped(self, result: ToolResult) -> ToolResult:
        limit = self._session.options.max_tool_output_chars
        if len(result.output) <= limit:
            return result
        marker = f"... [output truncated: {len(result.output)} chars, limit {limit}]"
        output = result.output[: max(0, limit - len(marker))] + marker
        return ToolResult(output, result.is_error, result.error_type, result.respond)

    # -- deadlines --------------------------------------------------------------------------

    def _watch(self, call_id: str, limit: float) -> None:
        """Give a running call a deadline. One timer watches every call of the session, so a
        fast tool costs two dict operations instead of a timer of its own."""
        deadline = asyncio.get_running_loop().time() + limit
        self._deadlines[call_id] = (deadline, limit)
        self._arm_timer(deadline)

    def _arm_timer(self, deadline: float) -> None:
        """Make the watchdog fire by ``deadline``, unless it already fires earlier."""
        timer = self._timer
        if timer is not None and timer.when() <= deadline:
            return
        if timer is not None:
            timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(deadline, self._enforce_deadlines)

    def _enforce_deadlines(self) -> None:
        """Cancel every call past its deadline (answered as a timeout), then wait for the next
        deadline, if any."""
        self._timer = None
        now = asyncio.get_running_loop().time()
        for call_id, (deadline, limit) in list(self._deadlines.items()):
            if deadline > now:
                continue
            del self._deadlines[call_id]  # even without a task to cancel: never re-armed late
            task = self._tasks.get(call_id)
            if task is not None and not task.done():
                self._timed_out[call_id] = limit
                task.cancel()
        if self._deadlines and not self._session.closed:
            self._arm_timer(min(deadline for deadline, _ in self._deadlines.values()))

    # -- approval ---------------------------------------------------------------------------

    async def _denial(self, call: Call) -> ToolResult | None:
        """Ask the application's approval hook, if any; a denial is the call's output."""
        request = ToolCallRequest(call.call_id, call.name, call.arguments, session=self._session)
        approval = await self.approval(request)
        if approval.allowed:
            return None
        message = f"{call.name} was not run: {approval.reason}"
        return ToolResult.error(message, error_type="denied")

    async def approval(self, request: ToolCallRequest, no_hook: Approval | None = None) -> Approval:
        """The approval hook's decision (``no_hook``, or allowed, when there is none); a hook
        that fails or takes longer than ``approval_timeout`` denies."""
        options = self._session.options
        hook = options.approve
        if hook is None:
            return no_hook or Approval.allow()
        try:
            decision = await asyncio.wait_for(_awaitable(hook(request)), options.approval_timeout)
        except asyncio.TimeoutError:
            decision = Approval.deny("approval timed out")
        except Exception:
            logger.exception("the approval hook failed for %s", request.name)
            decision = Approval.deny("approval failed")
        return as_approval(decision)


async def _awaitable(value: Approval | bool | Awaitable[Approval | bool]) -> Approval | bool:
    if isinstance(value, (Approval, bool)):
        return value
    return await value
