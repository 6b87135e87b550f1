# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Rust-style channels between threads and processes, over /dev/mpsc.

    import mpsc

    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    tx2 = tx.clone()
    tx.send("hello")
    del tx, tx2          # or tx.close(): the last sender gone ...
    for msg in rx:       # ... ends the iteration, once the queue is drained
        print(msg)

The shape follows Rust's std::sync::mpsc:

=========================================  ===================================
Rust                                       mpsc (Python)
=========================================  ===================================
``let (tx, rx) = mpsc::channel()``         ``tx, rx = mpsc.channel()``
``mpsc::sync_channel(n)``                  ``tx, rx = mpsc.sync_channel(n)``
``tx.clone()``                             ``tx.clone()``
``drop(tx)``                               ``tx.close()``, ``del tx``, ``with``
``tx.send(m)`` / ``SendError(m)``          ``tx.send(m)`` / ``Disconnected``
``tx.try_send(m)`` / ``Full(m)``           ``tx.try_send(m)`` / ``Full``
``rx.recv()`` / ``RecvError``              ``rx.recv()`` / ``Disconnected``
``rx.try_recv()`` / ``Empty``              ``rx.try_recv()`` / ``Empty``
``rx.recv_timeout(d)`` / ``Timeout``       ``rx.recv_timeout(s)`` / ``Timeout``
``for m in rx``, ``rx.try_iter()``         the same
tokio ``rx.recv().await``                  ``await rx.recv_async()``
tokio ``tx.send(m).await``                 ``await tx.send_async(m)``
tokio ``rx.close()``                       ``rx.shutdown()``
=========================================  ===================================

A channel carries bytes; a codec turns other values into bytes and back:
BYTES (the default), TEXT (str, UTF-8) or PICKLE, or any object with
``encode`` and ``decode``.  A message is at least one byte long: sending
an empty one raises ValueError, since read() returning 0 is end-of-file.

Pure Python: os, fcntl, select and struct, nothing compiled.
"""

import asyncio
import errno
import fcntl
import os
import pickle
import select
import struct
import time

from . import _uapi

__all__ = [
    "channel", "sync_channel", "Sender", "Receiver", "ChannelError",
    "Disconnected", "Empty", "Full", "Timeout", "BYTES", "TEXT", "PICKLE",
    "DEVICE",
]

DEVICE = "/dev/mpsc"


class ChannelError(Exception):
    """Base of the errors below."""


class Disconnected(ChannelError):
    """The other side is gone.

    Raised by receives once every sender is gone and the queue is drained
    (Rust's RecvError, TryRecvError::Disconnected), and by sends when the
    receiver is gone or closed (Rust's SendError).  ``message`` holds the
    message a send could not deliver.
    """

    def __init__(self, message=None):
        super().__init__("channel disconnected")
        self.message = message


class Empty(ChannelError):
    """try_recv() found no message, but a sender is left."""


class Full(ChannelError):
    """try_send() found no room; ``message`` is the message not sent."""

    def __init__(self, message=None):
        super().__init__("channel full")
        self.message = message


class Timeout(ChannelError):
    """The deadline of recv_timeout() or send_timeout() passed."""

    def __init__(self, message=None):
        super().__init__("timed out")
        self.message = message


class _Bytes:
    @staticmethod
    def encode(value):
        return bytes(value)

    @staticmethod
    def decode(data):
        return data


class _Text:
    @staticmethod
    def encode(value):
        return value.encode("utf-8")

    @staticmethod
    def decode(data):
        return data.decode("utf-8")


class _Pickle:
    @staticmethod
    def encode(value):
        return pickle.dumps(value)

    @staticmethod
    def decode(data):
        return pickle.loads(data)


BYTES = _Bytes()
TEXT = _Text()
PICKLE = _Pickle()


def _info(fd):
    buf = bytearray(struct.calcsize(_uapi.INFO))
    fcntl.ioctl(fd, _uapi.IOC_INFO, buf, True)
    fields = struct.unpack(_uapi.INFO, buf)
    keys = ("flags", "state", "id", "queued_msgs", "queued_bytes",
            "max_queue_bytes", "max_msg_size", "capacity", "senders",
            "sent", "received", "queued_mem")
    return dict(zip(keys, fields))


def _clone(fd, flags=os.O_CLOEXEC):
    args = bytearray(struct.pack(_uapi.CLONE_ARGS, flags, -1, 0, 0))
    try:
        return fcntl.ioctl(fd, _uapi.IOC_CLONE_SENDER, args, True)
    except BrokenPipeError:
        raise Disconnected() from None


def _open(capacity=None):
    """A channel: a receiver fd whose own sender role is dropped, and one
    cloned sender fd, as Rust's separate (tx, rx)."""
    try:
        rx = os.open(DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT, "mpsc.ko is not loaded", DEVICE) from None
    try:
        if capacity is not None:
            fcntl.ioctl(rx, _uapi.IOC_SET_CAPACITY,
                        struct.pack(_uapi.CAPACITY_ARGS, capacity, 0, 0))
        tx = _clone(rx)
        fcntl.ioctl(rx, _uapi.IOC_DISCONNECT, 0)
    except BaseException:
        os.close(rx)
        raise
    return tx, rx


def channel(*, codec=BYTES):
    """Rust's mpsc::channel(): an unbounded channel (limited by bytes only).

    Returns (Sender, Receiver).
    """
    tx, rx = _open()
    return Sender(tx, codec), Receiver(rx, codec)


def sync_channel(capacity, *, codec=BYTES):
    """Rust's mpsc::sync_channel(capacity), tokio's channel(capacity).

    At most ``capacity`` messages are queued; a send to a full channel
    waits for room.  ``capacity`` 0 is a rendezvous channel: a send
    returns once a receiver has taken the message.
    """
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    tx, rx = _open(capacity)
    return Sender(tx, codec), Receiver(rx, codec)


class _Handle:
    def __init__(self, fd, codec):
        self._fd = fd
        self.codec = codec

    def fileno(self):
        if self._fd < 0:
            raise ValueError("handle is closed")
        return self._fd

    @property
    def closed(self):
        return self._fd < 0

    def detach(self):
        """Give up the fd without closing it, and return it: to hand a
        sender to code that wraps it again (Sender(fd, codec))."""
        fd, self._fd = self.fileno(), -1
        return fd

    def close(self):
        """Release this handle's fd (for a sender: Rust's drop(tx))."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def info(self):
        """A snapshot of the channel (MPSC_IOC_INFO) as a dict."""
        return _info(self.fileno())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Sender(_Handle):
    """A sender.  clone() makes another; the channel disconnects when the
    last one is closed."""

    def clone(self):
        """Rust's tx.clone(): one more sender, with a fd of its own."""
        return Sender(_clone(self.fileno()), self.codec)

    def _encode(self, message):
        data = self.codec.encode(message)
        if not data:
            raise ValueError("an mpsc message is at least one byte long")
        return data

    def send(self, message):
        """Send, waiting for room on a full bounded channel (on a rendezvous
        channel: until a receiver takes it).  Raises Disconnected when the
        receiver is gone or closed."""
        data = self._encode(message)
        try:
            os.write(self.fileno(), data)
        except BrokenPipeError:
            raise Disconnected(message) from None

    def try_send(self, message):
        """Send without waiting: Full when there is no room (on a
        rendezvous channel: when no receiver is waiting)."""
        data = self._encode(message)
        try:
            os.pwritev(self.fileno(), [data], -1, os.RWF_NOWAIT)
        except BlockingIOError:
            raise Full(message) from None
        except BrokenPipeError:
            raise Disconnected(message) from None

    def send_timeout(self, message, timeout):
        """Send, waiting at most ``timeout`` seconds for room; Timeout then."""
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.fileno(), select.POLLOUT)
        while True:
            try:
                return self.try_send(message)
            except Full:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(message)
            poller.poll(left * 1000)

    async def send_async(self, message):
        """tokio's tx.send(m).await: wait for room on the event loop."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                return self.try_send(message)
            except Full:
                pass
            ready = loop.create_future()
            loop.add_writer(self.fileno(), ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_writer(self.fileno())


class Receiver(_Handle):
    """The receiver.  Iterating it receives until the channel disconnects."""

    def __init__(self, fd, codec):
        super().__init__(fd, codec)
        self._max = _info(fd)["max_msg_size"]

    def _decode(self, data):
        if not data:
            raise Disconnected()
        return self.codec.decode(data)

    def recv(self):
        """Wait for a message; Disconnected once every sender is gone and
        the queue is drained."""
        return self._decode(os.read(self.fileno(), self._max))

    def try_recv(self):
        """A message if one is queued; Empty if not; Disconnected at the
        end."""
        buf = bytearray(self._max)
        try:
            n = os.preadv(self.fileno(), [buf], -1, os.RWF_NOWAIT)
        except BlockingIOError:
            raise Empty() from None
        return self._decode(bytes(buf[:n]))

    def recv_timeout(self, timeout):
        """Wait at most ``timeout`` seconds: Timeout then.  The deadline is
        fixed at the call, whatever signals arrive."""
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.fileno(), select.POLLIN)
        while True:
            try:
                return self.try_recv()
            except Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            poller.poll(left * 1000)

    async def recv_async(self):
        """tokio's rx.recv().await, on the event loop's reader callbacks;
        raises Disconnected at the end."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                return self.try_recv()
            except Empty:
                pass
            ready = loop.create_future()
            loop.add_reader(self.fileno(), ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_reader(self.fileno())

    def __iter__(self):
        while True:
            try:
                yield self.recv()
            except Disconnected:
                return

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.recv_async()
        except Disconnected:
            raise StopAsyncIteration from None

    def try_iter(self):
        """The messages queued now, without waiting (Rust's try_iter())."""
        while True:
            try:
                yield self.try_recv()
            except (Empty, Disconnected):
                return

    def set_capacity(self, capacity):
        """Bound the queue to ``capacity`` messages (0: rendezvous, None:
        unbounded)."""
        if capacity is None:
            capacity = _uapi.CAPACITY_UNBOUNDED
        fcntl.ioctl(self.fileno(), _uapi.IOC_SET_CAPACITY,
                    struct.pack(_uapi.CAPACITY_ARGS, capacity, 0, 0))

    def shutdown(self):
        """tokio's rx.close(): refuse new messages, keep the queued ones."""
        fcntl.ioctl(self.fileno(), _uapi.IOC_CLOSE, 0)
