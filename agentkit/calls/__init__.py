"""Calls the client owns: a browser (WebRTC) or a phone (SIP) carries the audio, the
application's server keeps the agent, its tools and its key, over the call's sideband.

* :func:`mint_client_secret`: a short-lived secret for a browser, configured as the agent.
* :class:`CallControl`: relay a WebRTC offer; accept, reject, refer and hang up SIP calls.
* :class:`WebhookVerifier`: verify ``realtime.call.incoming`` webhooks (the ``sip`` extra),
  refusing replays through a :class:`ReplayStore` (in memory, or :class:`RedisReplayStore`
  shared by every worker).
* :class:`SidebandSession`: run the agent on a call by ``call_id``; with a :class:`Keypad`,
  the caller's keypad entries reach the model.

See docs/telephony.md.
"""

from agentkit.calls._http import CallRequestError
from agentkit.calls.client_secrets import ClientSecret, mint_client_secret
from agentkit.calls.sideband import Keypad, MediaNotOwnedError, SidebandSession
from agentkit.calls.sip import (
    CallAnswer,
    CallControl,
    IncomingCall,
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    SipHeader,
    WebhookVerificationError,
    WebhookVerifier,
)

__all__ = [
    "CallAnswer",
    "CallControl",
    "CallRequestError",
    "ClientSecret",
    "IncomingCall",
    "Keypad",
    "MediaNotOwnedError",
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "SidebandSession",
    "SipHeader",
    "WebhookVerificationError",
    "WebhookVerifier",
    "mint_client_secret",
]
