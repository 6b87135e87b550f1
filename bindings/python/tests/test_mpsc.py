# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The Python binding, against the device."""

import asyncio
import os
import signal
import threading
import time

import pytest

import mpsc


def test_send_recv_text():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    tx.send("hello")
    assert rx.recv() == "hello"


def test_bytes_is_default():
    tx, rx = mpsc.channel()
    tx.send(b"\x00\x01raw")
    assert rx.recv() == b"\x00\x01raw"


def test_pickle_codec():
    tx, rx = mpsc.channel(codec=mpsc.PICKLE)
    tx.send({"n": 1, "l": [1, 2]})
    assert rx.recv() == {"n": 1, "l": [1, 2]}


def test_empty_message_refused():
    tx, rx = mpsc.channel()
    with pytest.raises(ValueError):
        tx.send(b"")
    with pytest.raises(mpsc.Empty):
        rx.try_recv()


def test_iteration_ends_when_senders_gone():
    tx, rx = mpsc.channel(codec=mpsc.PICKLE)
    tx2 = tx.clone()
    for i in range(3):
        tx.send(i)
    tx2.send(99)
    tx.close()
    del tx2
    assert list(rx) == [0, 1, 2, 99]


def test_threads_each_with_a_clone():
    tx, rx = mpsc.channel(codec=mpsc.PICKLE)

    def produce(t, i):
        with t:
            for j in range(50):
                t.send((i, j))

    threads = [threading.Thread(target=produce, args=(tx.clone(), i))
               for i in range(4)]
    tx.close()
    for t in threads:
        t.start()
    seen = {}
    for i, j in rx:
        assert seen.get(i, -1) == j - 1
        seen[i] = j
    for t in threads:
        t.join()
    assert seen == {0: 49, 1: 49, 2: 49, 3: 49}


def test_try_recv_empty_then_disconnected():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    tx.send("x")
    assert rx.try_recv() == "x"
    tx.close()
    with pytest.raises(mpsc.Disconnected):
        rx.try_recv()
    with pytest.raises(mpsc.Disconnected):
        rx.recv()


def test_try_iter():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    tx.send("a")
    tx.send("b")
    assert list(rx.try_iter()) == ["a", "b"]
    assert list(rx.try_iter()) == []


def test_recv_timeout():
    tx, rx = mpsc.channel()
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.05)
    assert time.monotonic() - start >= 0.05


def test_recv_timeout_survives_signals():
    tx, rx = mpsc.channel()
    hits = []
    old = signal.signal(signal.SIGALRM, lambda *a: hits.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
        start = time.monotonic()
        with pytest.raises(mpsc.Timeout):
            rx.recv_timeout(0.2)
        took = time.monotonic() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert 0.2 <= took < 2
    assert len(hits) >= 3


def test_send_to_gone_receiver_gives_message_back():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    rx.close()
    with pytest.raises(mpsc.Disconnected) as e:
        tx.send("lost?")
    assert e.value.message == "lost?"


def test_sync_channel_full():
    tx, rx = mpsc.sync_channel(2, codec=mpsc.TEXT)
    tx.try_send("a")
    tx.try_send("b")
    with pytest.raises(mpsc.Full) as e:
        tx.try_send("c")
    assert e.value.message == "c"
    with pytest.raises(mpsc.Timeout):
        tx.send_timeout("c", 0.03)
    assert rx.recv() == "a"
    tx.try_send("c")
    assert rx.info()["capacity"] == 2


def test_rendezvous():
    tx, rx = mpsc.sync_channel(0, codec=mpsc.TEXT)
    with pytest.raises(mpsc.Full):
        tx.try_send("nobody waits")
    got = []
    t = threading.Thread(target=lambda: got.append(rx.recv()))
    t.start()
    tx.send("handed over")
    t.join()
    assert got == ["handed over"]


def test_shutdown_keeps_queue():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    tx.send("kept")
    rx.shutdown()
    with pytest.raises(mpsc.Disconnected):
        tx.send("refused")
    assert rx.recv() == "kept"
    with pytest.raises(mpsc.Disconnected):
        rx.recv()


def test_context_managers_close():
    tx, rx = mpsc.channel()
    with tx, rx:
        fd = tx.fileno()
    assert tx.closed and rx.closed
    with pytest.raises(OSError):
        os.fstat(fd)


def test_info():
    tx, rx = mpsc.channel()
    tx2 = tx.clone()
    info = rx.info()
    assert info["senders"] == 2
    assert info["id"] == tx2.info()["id"]
    assert info["capacity"] == (1 << 64) - 1


def test_asyncio_recv_without_threads():
    async def main():
        tx, rx = mpsc.sync_channel(4, codec=mpsc.TEXT)
        before = threading.active_count()

        async def later():
            await asyncio.sleep(0.02)
            await tx.send_async("async")
            tx.close()

        task = asyncio.ensure_future(later())
        got = [m async for m in rx]
        await task
        assert threading.active_count() == before
        return got

    assert asyncio.run(main()) == ["async"]


def test_asyncio_send_waits_for_room():
    async def main():
        tx, rx = mpsc.sync_channel(1, codec=mpsc.PICKLE)
        await tx.send_async(1)
        sender = asyncio.ensure_future(tx.send_async(2))
        await asyncio.sleep(0.02)
        assert not sender.done()
        assert await rx.recv_async() == 1
        await sender
        return await rx.recv_async()

    assert asyncio.run(main()) == 2


def test_fork_child_sends():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    pid = os.fork()
    if pid == 0:
        try:
            rx.close()
            tx.send("from child %d" % os.getpid())
        finally:
            os._exit(0)
    tx.close()
    assert rx.recv() == "from child %d" % pid
    os.waitpid(pid, 0)
    with pytest.raises(mpsc.Disconnected):
        rx.recv()
