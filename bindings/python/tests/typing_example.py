# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Checked by mypy --strict (tests/test_package.py): the codec's type
reaches the handles."""

from typing import Any, List

import mpsc
from mpsc import queue


def typed() -> None:
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    tx.send("text")
    s: str = rx.recv()
    btx, brx = mpsc.sync_channel(4)
    btx.put(b"raw", timeout=1.0)
    b: bytes = brx.get()
    anything: mpsc.Sender[Any] = mpsc.Sender(tx.detach(), mpsc.PICKLE)
    anything.send({"k": [1, 2]})
    clone: mpsc.Sender[str] = tx.clone()
    q: queue.Queue[int] = queue.Queue(8)
    q.put(1)
    n: int = q.get()
    lines: List[str] = list(rx.try_iter())
    reply: mpsc.Sender[str] = clone
    anything.send(("request", reply))
    codec: mpsc.HandleCodec[Any] = mpsc.PICKLE
    data, fds = codec.encode_handles(("request", reply))
    print(s, b, n, lines, clone, data, fds)
