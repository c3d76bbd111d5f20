"""Tools: functions the model can call.

``@tool`` turns a function into a :class:`Tool` (schema from the signature and docstring,
validation of the model's JSON arguments, safe invocation); a :class:`Toolset` is what an agent
declares in ``session.update`` and what the dispatcher looks calls up in. See docs/tools.md.
"""

from __future__ import annotations

from agentkit.tools.context import ProgressCallback, ToolContext
from agentkit.tools.decorator import Tool, tool
from agentkit.tools.loader import collect_tools, load_tools
from agentkit.tools.result import ToolResult, error_output
from agentkit.tools.toolset import ToolLike, Toolset

__all__ = [
    "ProgressCallback",
    "Tool",
    "ToolContext",
    "ToolLike",
    "ToolResult",
    "Toolset",
    "collect_tools",
    "error_output",
    "load_tools",
    "tool",
]
