"""The agent's only way to reach a language model: a line protocol with its trusted parent.

The agent runs in a sandbox without network or API keys. It writes one request line to stdout,
``@@evoforge {"op": "llm", "messages": [...], ...}``, and reads one JSON reply line on stdin,
``{"ok": true, "text": "..."}`` or ``{"ok": false, "error": "..."}``. The parent makes the call,
counts it against the agent's budget and records it. Keep this protocol working when editing.
"""
import json
import sys

PREFIX = "@@evoforge "


class ModelUnavailable(RuntimeError):
    """The parent refused the call (budget spent) or the model failed."""


def complete(messages, max_tokens=768, temperature=0.2):
    """The model's reply to a list of chat messages ({"role", "content"} dicts)."""
    request = {"op": "llm", "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
    sys.stdout.write(PREFIX + json.dumps(request) + "\n")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise ModelUnavailable("the parent closed the model channel")
    reply = json.loads(line)
    if not reply.get("ok"):
        raise ModelUnavailable(str(reply.get("error") or "model call refused"))
    return str(reply.get("text") or "")
