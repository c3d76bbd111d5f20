"""A phone agent: a Starlette webhook endpoint answers SIP calls, the agent runs on each call's
sideband (docs/telephony.md).

The realtime service carries the caller's audio; this server verifies the
``realtime.call.incoming`` webhook, accepts the call with the agent's configuration and runs
the agent's tools over the sideband: it looks orders up by the number the caller types on the
keypad, for the customer the SIP trunk names in a header, transfers the caller to a person
(SIP REFER) and hangs up.

    python -m examples.telephony --simulate    # the whole call offline, against the simulator
    python -m examples.telephony               # serve POST /webhooks/openai on 127.0.0.1:8000

Needs the ``web`` and ``sip`` extras: ``pip install 'agentkit-realtime[web,sip]'``.
"""
