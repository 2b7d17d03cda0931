"""The chat-completions call to the tenant's OpenAI-compatible provider, through the guarded
client (apps.outbound.guard: internal addresses refused, the checked address pinned, timeouts).

    POST <api_url>/chat/completions
    Authorization: Bearer <key>
    {"model": "...", "messages": [{"role": "system"|"user", "content": "..."}], "temperature": 0.3, ...}

    200 {"id": "...", "object": "chat.completion",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "..."}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}
    4xx/5xx {"error": {"message": "...", "type": "..."}}

Never raises for the provider's failures: the result says what went wrong ("unavailable" to people).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import httpx

from apps.outbound.guard import guarded_request

logger = logging.getLogger(__name__)

COMPLETIONS_PATH = "/chat/completions"
MAX_ANSWER = 4000


@dataclass
class Completion:
    ok: bool
    text: str = ""
    reason: str = ""  # when not ok: timeout, refused, http_<status>, bad_response
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


def completions_url(api_url: str) -> str:
    base = (api_url or "").strip().rstrip("/")
    return base if base.endswith(COMPLETIONS_PATH) else base + COMPLETIONS_PATH


def _tokens(usage, name: str) -> int:
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _answer(data) -> str:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return content.strip()[:MAX_ANSWER] if isinstance(content, str) else ""


def chat_complete(
    *, api_url: str, model: str, api_key: str, messages: list[dict], timeout: float, max_tokens: int = 600
) -> Completion:
    body = {"model": model, "messages": messages, "temperature": 0.3, "max_tokens": max_tokens, "stream": False}
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    url = completions_url(api_url)
    try:
        response = guarded_request(
            "POST",
            url,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )
    except httpx.TimeoutException:
        return Completion(ok=False, reason="timeout")
    except httpx.HTTPError as exc:  # refused addresses (OutboundRefused) are httpx errors too
        logger.warning("AI provider %s failed: %s", url, exc)
        return Completion(ok=False, reason="refused" if "refused" in str(exc) else "unavailable")
    try:
        data = json.loads(response.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if response.status_code != 200:
        error = data.get("error") if isinstance(data, dict) else None
        detail = error.get("message") if isinstance(error, dict) else ""
        logger.warning("AI provider %s answered %s: %s", url, response.status_code, str(detail)[:200])
        return Completion(ok=False, reason=f"http_{response.status_code}")
    usage = data.get("usage") if isinstance(data, dict) else None
    text = _answer(data)
    return Completion(
        ok=bool(text),
        text=text,
        reason="" if text else "bad_response",
        prompt_tokens=_tokens(usage, "prompt_tokens"),
        completion_tokens=_tokens(usage, "completion_tokens"),
        total_tokens=_tokens(usage, "total_tokens"),
    )
