"""Bounded retries, secret redaction and a small JSON-over-HTTP client shared by the channels.

A channel that is down, slow or answers an error is retried with exponential backoff, bounded
in attempts AND in total time (a hung endpoint never holds the run hostage); then it is reported
as one sentence with every secret replaced by `***`. Client errors other than 408 and 429 are not
retried: a wrong key or a refused payload answers the same way every time.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from .settings import RetrySettings

T = TypeVar("T")
REDACTED = "***"
# Request timeout, throttling and every server error are worth another try.
RETRYABLE_STATUS = frozenset({408, 425, 429})


class ChannelError(Exception):
    """One failed attempt: what went wrong (never a secret) and whether to try again."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class DeliveryFailed(Exception):
    """A channel gave up: the redacted reason and how many attempts it made."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class ChannelResult:
    """What one channel did with the verdict: delivered or not, after how many attempts, why."""

    channel: str
    delivered: bool
    attempts: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return asdict(self)


def is_retryable_status(status: int) -> bool:
    """Return True for throttling, request timeouts and server errors."""
    return status in RETRYABLE_STATUS or status >= 500


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Return `text` with every (non-trivial) secret replaced by ***."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def with_retries(
    attempt: Callable[[float], T],
    retry: RetrySettings,
    *,
    secrets: Iterable[str | None] = (),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[T, int]:
    """Return what `attempt(timeout)` returned and the attempts made; raise DeliveryFailed.

    Stops after `retry.attempts` tries, and before a try (or a backoff) that could not finish
    within `retry.total_seconds` of the first. Each try gets at most `retry.timeout_seconds`.
    """
    secrets = tuple(secrets)
    started = clock()
    for number in range(1, retry.attempts + 1):
        remaining = retry.total_seconds - (clock() - started)
        timeout = min(retry.timeout_seconds, remaining)
        try:
            return attempt(timeout), number
        except ChannelError as error:
            reason = redact(str(error), secrets)
            if not error.retryable:
                raise DeliveryFailed(f"{reason} (not retried)", number) from None
            pause = min(retry.backoff_seconds * 2 ** (number - 1), retry.max_backoff_seconds)
            left = retry.total_seconds - (clock() - started)
            if number == retry.attempts:
                raise DeliveryFailed(
                    f"{reason} (gave up after {number} attempts)", number
                ) from None
            if left <= pause:
                raise DeliveryFailed(
                    f"{reason} (gave up after {number} attempts: the {retry.total_seconds:g} s "
                    "budget is spent)",
                    number,
                ) from None
            sleep(pause)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def post_json(
    url: str, body: Any, timeout: float, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Return the status and decoded JSON (or text) of a POST; raise ChannelError on failure."""
    # Only http(s): a file:// or custom scheme in the parameters must not be opened.
    if not url.startswith(("http://", "https://")):
        raise ChannelError(f"URL must start with http:// or https://: {url!r}", retryable=False)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            return response.status, _decoded(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")[:300]
        raise ChannelError(
            f"HTTP {error.code} {error.reason} from {url}: {text}",
            retryable=is_retryable_status(error.code),
            status=error.code,
        ) from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ChannelError(
            f"{url} did not answer within {timeout:.1f} s or refused the connection: {reason}",
            retryable=True,
        ) from None


def _decoded(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")
