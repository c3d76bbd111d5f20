"""``python -m agentkit``: the same command as ``agentkit``."""

from agentkit.cli import main

raise SystemExit(main())
