# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Senders inside messages: a Sender in a PICKLE message arrives as a
working Sender, across processes too; refused fds send nothing; handles
nobody takes are closed, which disconnects their channels."""

import multiprocessing
import os
import pickle

import pytest

import mpsc


class FdCodec:
    """A HandleCodec that attaches raw fds and keeps none on receipt."""

    def __init__(self, fds):
        self.fds = fds

    def encode(self, value):
        return value

    def decode(self, data):
        return data

    def encode_handles(self, value):
        return value, list(self.fds)

    def decode_handles(self, data, fds):
        self.received = list(fds)
        return data


def test_sender_travels_and_works():
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    reply_tx, reply_rx = mpsc.channel(codec=mpsc.TEXT)
    addr.send(("hello", reply_tx))
    assert requests.info()["queued_handles"] == 1
    reply_tx.close()        # only the sender in flight is left
    with pytest.raises(mpsc.Empty):
        reply_rx.try_recv()  # ... and it keeps the channel connected
    text, reply = requests.recv()
    assert text == "hello"
    assert isinstance(reply, mpsc.Sender)
    assert reply.codec is mpsc.TEXT
    assert reply.fileno() >= 0
    assert os.get_inheritable(reply.fileno()) is False
    assert requests.info()["queued_handles"] == 0
    reply.send("HELLO")
    assert reply_rx.recv() == "HELLO"
    reply.close()
    with pytest.raises(mpsc.Disconnected):
        reply_rx.recv()


def test_same_sender_twice_arrives_as_one_object():
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    other_tx, other_rx = mpsc.channel()
    addr.send({"a": tx, "b": tx, "c": [other_tx]})
    assert requests.info()["queued_handles"] == 2
    tx.close()
    other_tx.close()
    got = requests.recv()
    assert got["a"] is got["b"]
    got["c"][0].send(b"x")
    assert other_rx.recv() == b"x"
    got["a"].send("y")
    assert rx.recv() == "y"


def test_try_send_and_timeouts_with_handles():
    addr, requests = mpsc.sync_channel(1, codec=mpsc.PICKLE)
    tx, rx = mpsc.channel()
    addr.try_send(tx)
    with pytest.raises(mpsc.Full) as e:
        addr.try_send(tx)
    assert e.value.message is tx
    with pytest.raises(mpsc.Timeout):
        addr.send_timeout(tx, 0.05)
    assert requests.info()["queued_handles"] == 1
    got = requests.recv_timeout(1)
    assert isinstance(got, mpsc.Sender)
    with pytest.raises(mpsc.Timeout):
        requests.recv_timeout(0.05)
    with pytest.raises(mpsc.Empty):
        requests.try_recv()
    got.close()
    tx.close()
    with pytest.raises(mpsc.Disconnected):
        rx.recv()


def test_own_sender_in_own_queue():
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    addr.send(addr)
    addr.close()
    assert requests.info()["senders"] == 1     # the one in flight
    again = requests.recv()
    again.send("via myself")
    assert requests.recv() == "via myself"
    again.close()
    with pytest.raises(mpsc.Disconnected):
        requests.recv()


def test_reply_channel_disconnects_when_dropped():
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    reply_tx, reply_rx = mpsc.channel(codec=mpsc.TEXT)
    addr.send(("ignored", reply_tx))
    reply_tx.close()
    _, reply = requests.recv()
    del reply               # the server drops it unanswered
    with pytest.raises(mpsc.Disconnected):
        reply_rx.recv()


def test_handles_the_decoder_does_not_take_are_closed():
    tx, rx = mpsc.channel()
    codec = FdCodec([tx.fileno()])
    addr, requests = mpsc.channel(codec=codec)
    addr.send(b"no sender in here")
    tx.close()
    assert requests.recv() == b"no sender in here"
    assert len(codec.received) == 1
    with pytest.raises(OSError):
        os.fstat(codec.received[0])
    with pytest.raises(mpsc.Disconnected):
        rx.recv()


def test_codec_without_handles_drops_them():
    tx, rx = mpsc.channel()
    addr, requests = mpsc.channel(codec=FdCodec([tx.fileno()]))
    addr.send(b"dropped")
    tx.close()
    bytes_rx = mpsc.Receiver(requests.detach())     # BYTES: no handles
    assert bytes_rx.recv() == b"dropped"
    with pytest.raises(mpsc.Disconnected):
        rx.recv()


def test_handles_of_a_bad_pickle_are_closed():
    tx, rx = mpsc.channel()
    addr, requests = mpsc.channel(codec=FdCodec([tx.fileno()]))
    addr.send(b"not a pickle")
    tx.close()
    requests.codec = mpsc.PICKLE
    with pytest.raises(pickle.UnpicklingError):
        requests.recv()
    with pytest.raises(mpsc.Disconnected):
        rx.recv()


def test_pipe_fd_is_refused_and_nothing_is_sent():
    r, w = os.pipe()
    try:
        addr, requests = mpsc.channel(codec=FdCodec([w]))
        with pytest.raises(ValueError, match="only mpsc senders"):
            addr.send(b"with a pipe")
        with pytest.raises(ValueError, match="only mpsc senders"):
            addr.try_send(b"with a pipe")
        with pytest.raises(ValueError, match="only mpsc senders"):
            addr.send_timeout(b"with a pipe", 1)
        with pytest.raises(mpsc.Empty):
            requests.try_recv()
        assert requests.info()["queued_msgs"] == 0
    finally:
        os.close(r)
        os.close(w)


def test_receiver_and_closed_fds_are_refused():
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    _, rx = mpsc.channel()
    with pytest.raises(TypeError, match="only senders"):
        addr.send(("no", rx))
    closed_tx, _ = mpsc.channel()
    closed_tx.close()
    with pytest.raises(ValueError, match="closed"):
        addr.send(closed_tx)
    # A receiver's fd whose sender role is dropped (EPIPE in the kernel).
    raw, raw_rx = mpsc.channel(codec=FdCodec([rx.fileno()]))
    with pytest.raises(ValueError, match="no sender role"):
        raw.send(b"x")
    with pytest.raises(mpsc.Empty):
        raw_rx.try_recv()
    with pytest.raises(mpsc.Empty):
        requests.try_recv()


def test_at_most_16_senders():
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    channels = [mpsc.channel() for _ in range(17)]
    senders = [tx for tx, _ in channels]
    addr.send(senders[:16])
    with pytest.raises(ValueError, match="at most 16"):
        addr.send(senders)
    assert len(requests.recv()) == 16
    with pytest.raises(mpsc.Empty):
        requests.try_recv()


def serve(requests):
    """A server: answers every request on the channel inside it."""
    for text, reply in requests:
        if text != "drop":
            reply.send("served " + text)
        reply.close()


def request(addr, text):
    reply_tx, reply_rx = mpsc.sync_channel(1, codec=mpsc.TEXT)
    addr.send((text, reply_tx))
    reply_tx.close()
    try:
        return reply_rx.recv()
    except mpsc.Disconnected:
        return None


def test_request_response_across_fork():
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            addr.close()
            serve(requests)
            status = 0
        finally:
            os._exit(status)
    requests.close()
    assert request(addr, "one") == "served one"
    assert request(addr, "drop") is None        # dropped unanswered
    assert request(addr, "two") == "served two"
    addr.close()                                # the server's loop ends
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_request_response_with_a_spawned_server():
    ctx = multiprocessing.get_context("spawn")
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    p = ctx.Process(target=serve, args=(requests,))
    p.start()
    requests.close()
    assert request(addr, "spawned") == "served spawned"
    assert request(addr, "drop") is None
    addr.close()
    p.join(60)
    assert p.exitcode == 0
