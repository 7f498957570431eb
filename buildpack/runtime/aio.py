"""Small asyncio helpers shared by the layers and the launchers."""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Re-raise a pending cancellation that a library turned into another exception.

    A retry loop that catches connection/timeout errors must not keep running after its
    task was cancelled: callers (a consumer shutting down) wait for it to finish.
    """
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    if cancelling is not None and cancelling():
        raise asyncio.CancelledError
