"""When a Stripe request is tried again: 429s and `Stripe-Should-Retry: true` answers.

The SDK already retries connection errors and 5xx a couple of times; this layer adds
patience for rate limiting (and for faults that outlast the SDK's own retries), with
exponential backoff and jitter, honouring `Retry-After` when Stripe sends it.
Authentication, permission and invalid-request errors are never retried.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from typing import Any, TypeVar

import stripe
from tenacity import RetryCallState, Retrying, stop_after_attempt

T = TypeVar("T")

MAX_ATTEMPTS = 10
BASE_DELAY_S = 0.25
MAX_DELAY_S = 20.0


def _header(exc: BaseException, name: str) -> str | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        for k, v in headers.items():
            if k.lower() == name.lower():
                return str(v)
    except AttributeError:
        return None
    return None


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, stripe.RateLimitError):
        return True
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return False
    should = _header(exc, "Stripe-Should-Retry")
    if should is not None:
        return should.lower() == "true"
    if isinstance(exc, stripe.APIConnectionError):
        return True
    if isinstance(exc, stripe.APIError):
        status = getattr(exc, "http_status", None)
        return status is None or status >= 500
    return False


def backoff_seconds(attempt: int, exc: BaseException | None = None) -> float:
    """Exponential with full jitter; at least what `Retry-After` asks for."""
    delay = min(MAX_DELAY_S, BASE_DELAY_S * (2 ** max(0, attempt - 1)))
    delay = random.uniform(delay / 2, delay)
    if exc is not None:
        after = _header(exc, "Retry-After")
        if after is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, float(after))
    return delay


# A plain 5xx (no Stripe-Should-Retry) has already been retried by the SDK; a few more
# tries cover a flaky moment without hammering a server that is really broken.
PLAIN_5XX_ATTEMPTS = 3


def _is_plain_5xx(exc: BaseException) -> bool:
    """A 5xx without Stripe-Should-Retry, or a network error: the SDK retried it already."""
    if isinstance(exc, stripe.APIConnectionError):
        return True
    return (
        isinstance(exc, stripe.APIError)
        and not isinstance(exc, stripe.RateLimitError)
        and _header(exc, "Stripe-Should-Retry") is None
    )


def _should_retry(state: RetryCallState) -> bool:
    exc = state.outcome.exception() if state.outcome is not None else None
    if exc is None or not is_retryable(exc):
        return False
    return not (_is_plain_5xx(exc) and state.attempt_number >= PLAIN_5XX_ATTEMPTS)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome is not None else None
    return backoff_seconds(state.attempt_number, exc)


def call_with_retry(
    fn: Callable[[], T],
    *,
    on_retry: Callable[[BaseException, float], None] | None = None,
    attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] | None = None,
) -> T:
    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            exc = state.outcome.exception()
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            if exc is not None:
                on_retry(exc, wait)

    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    retrying = Retrying(
        retry=_should_retry,
        wait=_wait,
        stop=stop_after_attempt(attempts),
        before_sleep=before_sleep,
        reraise=True,
        **kwargs,
    )
    return retrying(fn)
