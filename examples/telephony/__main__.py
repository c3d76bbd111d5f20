"""``python -m examples.telephony``: answer phone calls; ``--simulate`` plays one offline.

Serving for real needs the service in the environment (``OPENAI_API_KEY``, or the Azure
variables: docs/azure.md), ``OPENAI_WEBHOOK_SECRET`` (the ``whsec_`` secret of the webhook you
registered for ``realtime.call.incoming``), optionally ``TRANSFER_TO`` (``tel:`` or ``sip:``)
and, with several workers, ``REDIS_URL``. For production run uvicorn directly:
``uvicorn examples.telephony.app:app --workers 4``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.telephony", description="A phone agent on SIP calls."
    )
    parser.add_argument(
        "--simulate", action="store_true", help="play one call against the simulator and exit"
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.simulate else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.simulate:
        from examples.telephony.simulate import simulate

        return 0 if asyncio.run(simulate()) else 1

    import uvicorn

    uvicorn.run("examples.telephony.app:app", host=args.host, port=args.port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
