# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The Python binding, against the device."""

import asyncio
import errno
import os
import signal
import sys
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


def test_exceptions_fit_the_standard_library():
    import queue
    assert issubclass(mpsc.Empty, queue.Empty)
    assert issubclass(mpsc.Full, queue.Full)
    assert issubclass(mpsc.Timeout, TimeoutError)
    assert issubclass(mpsc.Disconnected, BrokenPipeError)
    assert issubclass(mpsc.MessageTooLarge, ValueError)
    assert mpsc.Disconnected().errno == errno.EPIPE
    assert mpsc.Timeout().errno == errno.ETIMEDOUT


def test_oversize_send_raises_message_too_large():
    tx, rx = mpsc.channel()
    big = b"x" * (rx.info()["max_msg_size"] + 1)
    for send in (tx.send, tx.try_send, tx.put,
                 lambda m: tx.send_timeout(m, 0.01)):
        with pytest.raises(mpsc.MessageTooLarge) as e:
            send(big)
        assert e.value.message is big
        assert e.value.size == len(big)
    assert rx.qsize() == 0


def test_queue_shaped_put_and_get():
    tx, rx = mpsc.sync_channel(1, codec=mpsc.PICKLE)
    assert rx.empty() and rx.qsize() == 0 and not tx.full()
    tx.put({"k": 1})
    assert rx.qsize() == 1 and not rx.empty() and tx.full()
    with pytest.raises(mpsc.Full):
        tx.put(2, block=False)
    with pytest.raises(mpsc.Full):
        tx.put_nowait(2)
    start = time.monotonic()
    with pytest.raises(mpsc.Full):
        tx.put(2, timeout=0.05)
    assert time.monotonic() - start >= 0.05
    assert rx.get() == {"k": 1}
    with pytest.raises(mpsc.Empty):
        rx.get(block=False)
    with pytest.raises(mpsc.Empty):
        rx.get_nowait()
    with pytest.raises(mpsc.Empty):
        rx.get(timeout=0.02)
    with pytest.raises(ValueError):
        rx.get(timeout=-1)
    tx.put(3, timeout=1)
    assert rx.get(timeout=1) == 3
    tx.close()
    with pytest.raises(mpsc.Disconnected):
        rx.get()


def test_get_waits_for_a_thread_put():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    t = threading.Timer(0.05, tx.put, args=("late",))
    t.start()
    assert rx.get(timeout=5) == "late"
    t.join()


def test_repr_of_every_handle():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    chan = rx.info()["id"]
    assert repr(tx) == "<mpsc.Sender fd=%d channel=%d codec=mpsc.TEXT>" % (
        tx.fileno(), chan)
    assert repr(rx) == "<mpsc.Receiver fd=%d channel=%d codec=mpsc.TEXT>" % (
        rx.fileno(), chan)
    tx.close()
    assert repr(tx) == "<mpsc.Sender closed>"


def test_wrap_an_inherited_fd():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    fd = os.dup(tx.fileno())
    again = mpsc.Sender(fd, mpsc.TEXT)
    again.send("via the dup")
    assert rx.recv() == "via the dup"
    r, w = os.pipe()
    with pytest.raises(ValueError):
        mpsc.Sender(r)
    os.close(r)
    os.close(w)


def test_receive_allocates_only_the_message():
    import tracemalloc
    tx, rx = mpsc.channel()
    for _ in range(3):
        tx.send(b"0123456789")
    tracemalloc.start()
    try:
        for recv in (rx.recv, rx.try_recv, lambda: rx.recv_timeout(1)):
            tracemalloc.reset_peak()
            assert recv() == b"0123456789"
            assert tracemalloc.get_traced_memory()[1] < 4096
    finally:
        tracemalloc.stop()


def test_sleeping_recv_keeps_only_the_message():
    tx, rx = mpsc.channel()
    threading.Timer(0.05, tx.send, args=(b"abc",)).start()
    msg = rx.recv()
    assert msg == b"abc"
    assert sys.getsizeof(msg) < 100


def test_recv_timeout_meets_a_rendezvous_send_timeout():
    tx, rx = mpsc.sync_channel(0, codec=mpsc.TEXT)
    t = threading.Thread(target=tx.send_timeout, args=("met", 5))
    t.start()
    assert rx.recv_timeout(5) == "met"
    t.join()


def test_recv_meets_async_sender_on_rendezvous():
    tx, rx = mpsc.sync_channel(0, codec=mpsc.TEXT)
    got = []
    t = threading.Thread(target=lambda: got.append(rx.recv()))
    t.start()
    asyncio.run(tx.send_async("from the loop"))
    t.join()
    assert got == ["from the loop"]


def test_blocking_calls_on_a_nonblocking_fd():
    tx, rx = mpsc.sync_channel(1, codec=mpsc.TEXT)
    os.set_blocking(tx.fileno(), False)
    os.set_blocking(rx.fileno(), False)
    threading.Timer(0.05, tx.send, args=("late",)).start()
    assert rx.recv() == "late"
    tx.send("fills")
    threading.Timer(0.05, rx.recv).start()
    tx.send("waits for room")
    assert rx.recv() == "waits for room"
