"""A cancelled channel-layer receive that keeps running (Python 3.11, channels_redis core).

What the shutdown benchmark saw: after SIGTERM our web process closes every socket with
1012 at once, but sometimes only exits ~10 s later (Daphne's application_close_timeout
cancels the last consumer instance). The consumer is waiting in ``await_many_dispatch``'s
cleanup for its channel-layer receive task, which was cancelled but keeps looping on
BZPOPMIN.

Mechanism: consumers of one process share the ``specific.X!`` channel; the lock-holder
runs ``receive_single`` -> ``while content is None: _brpop_with_clean(...)``. When that
task is cancelled while redis-py is sending a command on a fresh connection,
``Connection.send_packed_command`` runs ``asyncio.wait_for(self._send_packed_command(...),
socket_timeout)``; on Python <= 3.11 ``wait_for`` returns the inner result instead of
raising when the inner write finished in the same loop iteration as the cancel
(CPython gh-86296, fixed by the 3.12 rewrite). The cancellation is swallowed
(``task.cancelling()`` stays 1) and the loop issues BZPOPMIN after BZPOPMIN.
With the stock layer (socket_timeout 5 s = BZPOPMIN 5 s) the task ends ~5 s later with
``redis.exceptions.TimeoutError``; with ours (socket_timeout 15 s) it never ends.

Run: ``python -m bench.diagnostics.cancel_swallow`` (starts its own redis-server).
Prints, per layer, 5 rounds of (seconds until all 40 cancelled consumers finished,
consumers still running after 20 s).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

CONSUMERS = 40
GAP = 0.0005  # disconnects arrive one after another, like closing sockets


async def _rounds(url: str, which: str) -> list[tuple[float, int]]:
    from tests.support.layers import disconnect_round

    if which == "ours":
        from buildpack.runtime.layers.redis import RedisChannelLayer
    else:
        from channels_redis.core import RedisChannelLayer
    layer = RedisChannelLayer(hosts=[url])
    results = []
    for _ in range(5):
        seconds, pending = await disconnect_round(layer, CONSUMERS, settle=0.5, timeout=20, gap=GAP)
        results.append((round(seconds, 2), pending))
    await layer.close_pools()
    return results


def main() -> None:
    if len(sys.argv) == 3:  # child: python -m ... URL WHICH
        print(sys.argv[2], asyncio.run(_rounds(sys.argv[1], sys.argv[2])), flush=True)
        return
    from tests.support.redis import RedisServer

    print(f"Python {sys.version.split()[0]}: (seconds to finish, still running) x 5")
    with RedisServer() as redis:
        for which in ("stock", "ours"):
            subprocess.run(
                [sys.executable, "-m", "bench.diagnostics.cancel_swallow", redis.url, which],
                stderr=subprocess.DEVNULL,
                check=False,
            )


if __name__ == "__main__":
    main()
