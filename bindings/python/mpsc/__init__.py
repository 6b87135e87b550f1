# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Rust-style channels between threads and processes, over /dev/mpsc.

    import mpsc

    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    tx2 = tx.clone()
    tx.send("hello")
    del tx, tx2          # or tx.close(): the last sender gone ...
    for msg in rx:       # ... ends the iteration, once the queue is drained
        print(msg)

The shape follows Rust's std::sync::mpsc, and queue.Queue's where Python
code expects it:

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
``queue.Queue.put/get``, ``qsize()``       ``tx.put()``, ``rx.get()``, ...
=========================================  ===================================

A channel carries bytes; a codec turns other values into bytes and back:
BYTES (the default), TEXT (str, UTF-8) or PICKLE, or any object with
``encode`` and ``decode`` (the Codec protocol); ``Sender[T]`` and
``Receiver[T]`` carry the codec's type.  A message is at least one byte
long: sending an empty one raises ValueError, since read() returning 0 is
end-of-file.

Senders travel inside messages: with the PICKLE codec, a Sender anywhere
in a message (``addr.send((request, reply_tx))``) is attached to it as a
handle, and the receiver gets a working Sender of the same channel, with a
fd of its own, in another process too.  Any codec can do the same through
``encode_handles`` and ``decode_handles`` (the HandleCodec protocol).

Handles pickle as working duplicates (multiprocessing.reduction.DupFd), so
they can be handed to multiprocessing children under every start method;
each copy owns its own fd.  ``mpsc.queue`` is a drop-in for the standard
``queue`` module.

Pure Python: os, fcntl, select, struct and ctypes, nothing compiled.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import fcntl
import io
import os
import pickle
import queue as _queue
import struct
from typing import (IO, Any, AsyncIterator, Callable, Dict, Generic,
                    Iterator, List, Optional, Protocol, Tuple, Type, TypeVar,
                    overload)

from . import _uapi

__version__ = "0.2.0"

__all__ = [
    "channel", "sync_channel", "Sender", "Receiver", "Codec", "HandleCodec",
    "ChannelError",
    "Disconnected", "Empty", "Full", "Timeout", "MessageTooLarge", "BYTES",
    "TEXT", "PICKLE", "DEVICE", "__version__",
]

DEVICE = "/dev/mpsc"

T = TypeVar("T")
H = TypeVar("H", bound="_Handle[Any]")


class ChannelError(Exception):
    """Base of the errors below."""


class Disconnected(ChannelError, BrokenPipeError):
    """The other side is gone (errno EPIPE).

    Raised by receives once every sender is gone and the queue is drained
    (Rust's RecvError, TryRecvError::Disconnected), and by sends when the
    receiver is gone or closed (Rust's SendError).  ``message`` holds the
    message a send could not deliver.  It is a BrokenPipeError, so code
    written for pipes and sockets catches it where it catches EPIPE.
    """

    def __init__(self, message: Any = None) -> None:
        super().__init__(errno.EPIPE, "channel disconnected")
        self.message = message


class Empty(ChannelError, _queue.Empty):
    """try_recv() or get() found no message, but a sender is left.

    A queue.Empty, so ``except queue.Empty`` written for queue.Queue works.
    """

    def __init__(self) -> None:
        super().__init__("channel empty")


class Full(ChannelError, _queue.Full):
    """try_send() or put() found no room; ``message`` is the message not
    sent.  A queue.Full."""

    def __init__(self, message: Any = None) -> None:
        super().__init__("channel full")
        self.message = message


class Timeout(ChannelError, TimeoutError):
    """The deadline of recv_timeout() or send_timeout() passed (errno
    ETIMEDOUT); a TimeoutError."""

    def __init__(self, message: Any = None) -> None:
        super().__init__(errno.ETIMEDOUT, "timed out")
        self.message = message


class MessageTooLarge(ChannelError, ValueError):
    """A send of more than the channel's max_msg_size bytes; a ValueError.
    ``message`` is the message, ``size`` its encoded length."""

    def __init__(self, message: Any = None, size: int = 0) -> None:
        super().__init__("message of %d bytes is larger than the channel "
                         "accepts (info()['max_msg_size'])" % size)
        self.message = message
        self.size = size


class Codec(Protocol[T]):
    """Turns values into message bytes and back."""

    def encode(self, value: T) -> bytes:
        ...

    def decode(self, data: bytes) -> T:
        ...


class HandleCodec(Codec[T], Protocol[T]):
    """A codec whose values may hold senders that travel with the message.

    A Sender uses ``encode_handles`` instead of ``encode`` when its codec
    has it, and a Receiver ``decode_handles`` instead of ``decode``.

    ``encode_handles(value)`` returns the message bytes and the fds to
    attach (at most 16): mpsc senders, which stay the caller's; each
    arrives as a new sender role of its channel.

    ``decode_handles(data, fds)`` gets the fds the kernel installed for
    this message (close-on-exec), in order.  It takes one by replacing its
    entry with -1 (wrapping it, as ``Sender(fd, codec)``, passes on
    ownership); the receiver closes every fd left in the list afterwards,
    also when decoding fails, so no handle leaks and a reply channel whose
    sender was not taken disconnects.
    """

    def encode_handles(self, value: T) -> Tuple[bytes, List[int]]:
        ...

    def decode_handles(self, data: bytes, fds: List[int]) -> T:
        ...


class _Bytes:
    def encode(self, value: bytes) -> bytes:
        return bytes(value)

    def decode(self, data: bytes) -> bytes:
        return data

    def __reduce__(self) -> str:
        return "BYTES"

    def __repr__(self) -> str:
        return "mpsc.BYTES"


class _Text:
    def encode(self, value: str) -> bytes:
        return value.encode("utf-8")

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8")

    def __reduce__(self) -> str:
        return "TEXT"

    def __repr__(self) -> str:
        return "mpsc.TEXT"


class _HandlePickler(pickle.Pickler):
    """Pickles each Sender as a reference to a handle of the message."""

    def __init__(self, file: IO[bytes], fds: List[int]) -> None:
        super().__init__(file, pickle.DEFAULT_PROTOCOL)
        self.fds = fds
        self.index: Dict[int, int] = {}

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Sender):
            i = self.index.get(id(obj))
            if i is None:
                if len(self.fds) >= _uapi.MAX_HANDLES:
                    raise ValueError("a message carries at most %d senders"
                                     % _uapi.MAX_HANDLES)
                i = self.index[id(obj)] = len(self.fds)
                self.fds.append(obj.fileno())
            return ("mpsc.Sender", i, obj.codec)
        if isinstance(obj, Receiver):
            raise TypeError("a Receiver cannot travel inside a message: "
                            "only senders can")
        return None


class _HandleUnpickler(pickle.Unpickler):
    """Rebuilds each Sender from the fd the kernel installed for it."""

    def __init__(self, file: IO[bytes], fds: List[int]) -> None:
        super().__init__(file)
        self.fds = fds
        self.built: Dict[int, Sender[Any]] = {}

    def persistent_load(self, pid: Any) -> Any:
        if (not isinstance(pid, tuple) or len(pid) != 3
                or pid[0] != "mpsc.Sender" or not isinstance(pid[1], int)
                or not 0 <= pid[1] < len(self.fds)):
            raise pickle.UnpicklingError(
                "message refers to a sender it does not carry: %r" % (pid,))
        i = pid[1]
        s = self.built.get(i)
        if s is None:
            fd = self.fds[i]
            if fd < 0:
                raise pickle.UnpicklingError("sender %d was not received" % i)
            s = Sender(fd, pid[2])
            self.fds[i] = -1
            self.built[i] = s
        return s


class _Pickle:
    def encode(self, value: Any) -> bytes:
        return pickle.dumps(value)

    def decode(self, data: bytes) -> Any:
        return pickle.loads(data)

    def encode_handles(self, value: Any) -> Tuple[bytes, List[int]]:
        fds: List[int] = []
        buf = io.BytesIO()
        _HandlePickler(buf, fds).dump(value)
        return buf.getvalue(), fds

    def decode_handles(self, data: bytes, fds: List[int]) -> Any:
        return _HandleUnpickler(io.BytesIO(data), fds).load()

    def __reduce__(self) -> str:
        return "PICKLE"

    def __repr__(self) -> str:
        return "mpsc.PICKLE"


BYTES: Codec[bytes] = _Bytes()
TEXT: Codec[str] = _Text()
PICKLE: HandleCodec[Any] = _Pickle()

_INFO_KEYS = ("flags", "state", "id", "queued_msgs", "queued_bytes",
              "max_queue_bytes", "max_msg_size", "capacity", "senders",
              "sent", "received", "queued_mem", "queued_handles")


def _info(fd: int) -> Dict[str, int]:
    buf = bytearray(struct.calcsize(_uapi.INFO))
    fcntl.ioctl(fd, _uapi.IOC_INFO, buf, True)
    fields = struct.unpack(_uapi.INFO, buf)
    return dict(zip(_INFO_KEYS, fields))


def _clone(fd: int, flags: int = os.O_CLOEXEC) -> int:
    args = bytearray(struct.pack(_uapi.CLONE_ARGS, flags, -1, 0, 0))
    try:
        return fcntl.ioctl(fd, _uapi.IOC_CLONE_SENDER, args, True)
    except BrokenPipeError:
        raise Disconnected() from None


def _peek(fd: int) -> int:
    """Length of the next message, 0 at the end; BlockingIOError if none."""
    buf = bytearray(struct.calcsize(_uapi.PEEK_ARGS))
    fcntl.ioctl(fd, _uapi.IOC_PEEK_LEN, buf, True)
    length: int = struct.unpack_from("<Q", buf)[0]
    return length


def _timeout_ns(timeout: Optional[float]) -> int:
    if timeout is None:
        return _uapi.TIMEOUT_FOREVER
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return min(int(timeout * 1e9), _uapi.TIMEOUT_FOREVER - 1)


def _xfer(fd: int, cmd: int, addr: int, length: int, timeout_ns: int,
          flags: int = 0, count: int = 0) -> int:
    """MPSC_IOC_SEND or _RECV.  A signal makes the kernel rewrite the
    relative timeout in the struct as its absolute deadline, so calling
    again with the same struct ends when the first call would have."""
    arg = bytearray(struct.pack(_uapi.XFER, addr, length, timeout_ns,
                                flags, count, 0, 0))
    while True:
        try:
            ret: int = fcntl.ioctl(fd, cmd, arg, True)
            return ret
        except InterruptedError:
            continue


def _addr(buf: bytearray) -> int:
    return ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))


def _send_rec(fd: int, data: bytes, fds: List[int], timeout_ns: int) -> None:
    """Send one message carrying sender handles: a batch of one record."""
    nfds = len(fds)
    head = struct.calcsize(_uapi.REC)
    buf = bytearray(_uapi.rec_size(len(data), nfds))
    struct.pack_into(_uapi.REC, buf, 0, len(data), nfds, 0)
    struct.pack_into("<%di" % nfds, buf, head, *fds)
    off = head + _uapi.rec_align(4 * nfds)
    buf[off:off + len(data)] = data
    _xfer(fd, _uapi.IOC_SEND, _addr(buf), len(buf), timeout_ns,
          _uapi.XFER_BATCH, 1)


def _recv_rec(fd: int, cap: int, timeout_ns: int) -> Tuple[bytes, List[int]]:
    """Receive one message of at most cap bytes with its sender handles,
    installed as new close-on-exec fds; (b"", []) at the end."""
    buf = bytearray(_uapi.rec_size(cap, _uapi.MAX_HANDLES))
    n = _xfer(fd, _uapi.IOC_RECV, _addr(buf), len(buf), timeout_ns,
              _uapi.XFER_BATCH | _uapi.XFER_HANDLES | _uapi.XFER_CLOEXEC, 1)
    if n == 0:
        return b"", []
    head = struct.calcsize(_uapi.REC)
    length, nfds, _ = struct.unpack_from(_uapi.REC, buf)
    fds = list(struct.unpack_from("<%di" % nfds, buf, head))
    off = head + _uapi.rec_align(4 * nfds)
    return bytes(memoryview(buf)[off:off + length]), fds


def _refused(fds: List[int]) -> Optional[ValueError]:
    """Why the kernel refused to attach one of fds, or None."""
    for fd in fds:
        try:
            os.fstat(fd)
        except OSError:
            return ValueError("fd %d cannot travel in a message: it is not "
                              "open" % fd)
        try:
            state = _info(fd)["state"]
        except OSError:
            return ValueError("fd %d cannot travel in a message: only mpsc "
                              "senders can" % fd)
        if not state & _uapi.STATE_SENDER:
            return ValueError("fd %d cannot travel in a message: it holds "
                              "no sender role (only mpsc senders can)" % fd)
    return None


def _open(capacity: Optional[int] = None) -> Tuple[int, int]:
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


@overload
def channel() -> Tuple[Sender[bytes], Receiver[bytes]]:
    ...


@overload
def channel(*, codec: Codec[T]) -> Tuple[Sender[T], Receiver[T]]:
    ...


def channel(*, codec: Codec[Any] = BYTES) -> Tuple[Sender[Any],
                                                    Receiver[Any]]:
    """Rust's mpsc::channel(): an unbounded channel (limited by bytes only).

    Returns (Sender, Receiver).
    """
    tx, rx = _open()
    return Sender(tx, codec), Receiver(rx, codec)


@overload
def sync_channel(capacity: int) -> Tuple[Sender[bytes], Receiver[bytes]]:
    ...


@overload
def sync_channel(capacity: int, *,
                 codec: Codec[T]) -> Tuple[Sender[T], Receiver[T]]:
    ...


def sync_channel(capacity: int, *,
                 codec: Codec[Any] = BYTES) -> Tuple[Sender[Any],
                                                     Receiver[Any]]:
    """Rust's mpsc::sync_channel(capacity), tokio's channel(capacity).

    At most ``capacity`` messages are queued; a send to a full channel
    waits for room.  ``capacity`` 0 is a rendezvous channel: a send
    returns once a receiver has taken the message.
    """
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    tx, rx = _open(capacity)
    return Sender(tx, codec), Receiver(rx, codec)


def _rebuild(cls: Type[H], dup: Any, codec: Codec[Any]) -> H:
    """Unpickle a handle: take the fd multiprocessing passed along."""
    return cls(dup.detach(), codec)


class _Handle(Generic[T]):
    _fd = -1

    def __init__(self, fd: int, codec: Codec[T]) -> None:
        try:
            info = _info(fd)
        except OSError as e:
            if e.errno == errno.ENOTTY:
                raise ValueError("fd %d is not an mpsc handle" % fd) from None
            raise
        self._fd = fd
        self._id = info["id"]
        self._max = info["max_msg_size"]
        self.codec = codec

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("handle is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def detach(self) -> int:
        """Give up the fd without closing it, and return it: to hand it to
        code that wraps it again (Sender(fd, codec), Receiver(fd, codec))."""
        fd, self._fd = self.fileno(), -1
        return fd

    def close(self) -> None:
        """Release this handle's fd (for a sender: Rust's drop(tx)).
        Other copies (clones, pickled duplicates) stay open."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def info(self) -> Dict[str, int]:
        """A snapshot of the channel (MPSC_IOC_INFO) as a dict."""
        return _info(self.fileno())

    def qsize(self) -> int:
        """Messages queued now (queue.Queue.qsize(); just as approximate
        when other threads or processes send or receive meanwhile)."""
        return _info(self.fileno())["queued_msgs"]

    def empty(self) -> bool:
        """True when no message is queued now (queue.Queue.empty())."""
        return self.qsize() == 0

    def full(self) -> bool:
        """True when a send would wait now for lack of room: the queue
        holds ``capacity`` messages (always, on a rendezvous channel,
        unless a receiver waits).  queue.Queue.full()."""
        info = _info(self.fileno())
        if info["capacity"] == _uapi.CAPACITY_UNBOUNDED:
            return info["queued_bytes"] >= info["max_queue_bytes"]
        return info["queued_msgs"] >= info["capacity"]

    def __repr__(self) -> str:
        name = "mpsc." + type(self).__name__
        if self._fd < 0:
            return "<%s closed>" % name
        return "<%s fd=%d channel=%d codec=%r>" % (name, self._fd, self._id,
                                                   self.codec)

    def __reduce__(self) -> Tuple[Callable[..., Any], Tuple[Any, ...]]:
        # DupFd: a spawn or forkserver child inherits a duplicate of the
        # fd while it starts; anything else (a multiprocessing Queue or
        # Pipe, a pool's task) gets one from the resource sharer.  Either
        # way the copy has a fd of its own.
        from multiprocessing import reduction
        return (_rebuild, (type(self), reduction.DupFd(self.fileno()),
                           self.codec))

    def __enter__(self: H) -> H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _error(e: OSError, message: Any, size: int) -> ChannelError:
    """The ChannelError for a failed send; other errors are re-raised."""
    if e.errno == errno.EPIPE:
        return Disconnected(message)
    if e.errno == errno.EAGAIN:
        return Full(message)
    if e.errno == errno.ETIMEDOUT:
        return Timeout(message)
    if e.errno == errno.EMSGSIZE:
        return MessageTooLarge(message, size)
    raise e


class Sender(_Handle[T]):
    """A sender.  clone() makes another; the channel disconnects when the
    last one is closed.  ``Sender(fd, codec)`` wraps an inherited or passed
    sender fd and takes ownership of it."""

    @overload
    def __init__(self: Sender[bytes], fd: int) -> None:
        ...

    @overload
    def __init__(self, fd: int, codec: Codec[T]) -> None:
        ...

    def __init__(self, fd: int, codec: Codec[Any] = BYTES) -> None:
        super().__init__(fd, codec)

    def clone(self) -> Sender[T]:
        """Rust's tx.clone(): one more sender, with a fd of its own."""
        return Sender(_clone(self.fileno()), self.codec)

    def _encode(self, message: T) -> Tuple[bytes, List[int]]:
        """The message's bytes and the sender fds to attach to it."""
        encode_handles = getattr(self.codec, "encode_handles", None)
        fds: List[int]
        if encode_handles is not None:
            data, fds = encode_handles(message)
            fds = list(fds)
        else:
            data, fds = self.codec.encode(message), []
        if not data:
            raise ValueError("an mpsc message is at least one byte long")
        if len(data) > self._max:
            raise MessageTooLarge(message, len(data))
        if len(fds) > _uapi.MAX_HANDLES:
            raise ValueError("a message carries at most %d senders"
                             % _uapi.MAX_HANDLES)
        return data, fds

    def _send_handles(self, message: T, data: bytes, fds: List[int],
                      timeout_ns: int, empty: Type[ChannelError]) -> None:
        try:
            _send_rec(self.fileno(), data, fds, timeout_ns)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.EBADF, errno.EPIPE):
                refused = _refused(fds)
                if refused is not None:
                    raise refused from None
            if e.errno == errno.EAGAIN:
                raise empty(message) from None
            raise _error(e, message, len(data)) from None

    def send(self, message: T) -> None:
        """Send, waiting for room on a full bounded channel (on a rendezvous
        channel: until a receiver takes it).  Raises Disconnected when the
        receiver is gone or closed, MessageTooLarge when it cannot fit.

        Senders inside the message (see HandleCodec) travel with it as
        new sender roles of their channels; the ones here stay open, so
        close them to leave only those in flight.  A fd that is not an
        mpsc sender raises ValueError, and nothing is sent."""
        data, fds = self._encode(message)
        if fds:
            return self._send_handles(message, data, fds,
                                      _uapi.TIMEOUT_FOREVER, Timeout)
        try:
            os.write(self.fileno(), data)
        except BlockingIOError:
            # A wrapped fd someone made O_NONBLOCK: wait in the kernel.
            self.send_timeout(message, None)
        except OSError as e:
            raise _error(e, message, len(data)) from None

    def try_send(self, message: T) -> None:
        """Send without waiting: Full when there is no room (on a
        rendezvous channel: when no receiver is waiting in a receive)."""
        data, fds = self._encode(message)
        if fds:
            return self._send_handles(message, data, fds, 0, Full)
        try:
            os.pwritev(self.fileno(), [data], -1, os.RWF_NOWAIT)
        except OSError as e:
            raise _error(e, message, len(data)) from None

    def send_timeout(self, message: T, timeout: Optional[float]) -> None:
        """Send, waiting at most ``timeout`` seconds for room (for a taker,
        on a rendezvous channel); Timeout then.  The wait is in the kernel
        and its deadline is fixed at the call, whatever signals arrive."""
        data, fds = self._encode(message)
        ns = _timeout_ns(timeout)
        if fds:
            return self._send_handles(message, data, fds, ns, Timeout)
        addr = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
        try:
            _xfer(self.fileno(), _uapi.IOC_SEND, addr or 0, len(data), ns)
        except OSError as e:
            if e.errno == errno.EAGAIN:     # a timeout of 0 tries once
                raise Timeout(message) from None
            raise _error(e, message, len(data)) from None

    def put(self, item: T, block: bool = True,
            timeout: Optional[float] = None) -> None:
        """queue.Queue.put(): wait for room (at most ``timeout`` seconds,
        if given), or with ``block=False`` not at all; Full when there was
        none.  Disconnected when the receiver is gone."""
        if not block:
            return self.try_send(item)
        if timeout is None:
            return self.send(item)
        try:
            self.send_timeout(item, timeout)
        except Timeout:
            raise Full(item) from None

    def put_nowait(self, item: T) -> None:
        """queue.Queue.put_nowait(): put(item, block=False)."""
        self.try_send(item)

    async def send_async(self, message: T) -> None:
        """tokio's tx.send(m).await: wait for room on the event loop.  On a
        rendezvous channel it meets only a receiver asleep in a receive
        (recv(), get(), recv_timeout(), C's mpsc_recv()): two ends that
        both wait for readiness never meet."""
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


class Receiver(_Handle[T]):
    """The receiver.  Iterating it receives until the channel disconnects.
    ``Receiver(fd, codec)`` wraps an inherited or passed receiver fd and
    takes ownership of it.

    A receive keeps exactly the bytes of its message: it asks the kernel
    for the length first (MPSC_IOC_PEEK_LEN).  Only a receive that has to
    sleep reads into a buffer of max_msg_size, shrunk or copied to the
    message's length before it returns.

    When the codec has ``decode_handles`` (PICKLE does, see HandleCodec),
    a receive installs the sender handles the message carries as new
    close-on-exec fds and the codec rebuilds Senders from them; handles it
    does not take are closed.  With other codecs the kernel drops them.
    """

    @overload
    def __init__(self: Receiver[bytes], fd: int) -> None:
        ...

    @overload
    def __init__(self, fd: int, codec: Codec[T]) -> None:
        ...

    def __init__(self, fd: int, codec: Codec[Any] = BYTES) -> None:
        super().__init__(fd, codec)

    def _decode(self, data: bytes) -> T:
        if not data:
            raise Disconnected()
        return self.codec.decode(data)

    def _with_handles(self) -> bool:
        return getattr(self.codec, "decode_handles", None) is not None

    def _decode_rec(self, got: Tuple[bytes, List[int]]) -> T:
        data, fds = got
        try:
            if not data:
                raise Disconnected()
            value: T = getattr(self.codec, "decode_handles")(data, fds)
            return value
        finally:
            for fd in fds:
                if fd >= 0:
                    os.close(fd)

    def _take_rec(self, fd: int) -> Optional[Tuple[bytes, List[int]]]:
        """_take() for a message with handles: None when empty."""
        while True:
            try:
                n = _peek(fd)
            except BlockingIOError:
                return None
            if n == 0:
                return b"", []
            try:
                return _recv_rec(fd, n, 0)
            except BlockingIOError:
                return None
            except OSError as e:
                if e.errno == errno.EMSGSIZE:   # another thread took it
                    continue
                raise

    def _take(self, fd: int) -> Optional[bytes]:
        """The next message without sleeping, exactly sized; None when
        empty; b"" at the end."""
        while True:
            try:
                n = _peek(fd)
            except BlockingIOError:
                return None
            if n == 0:
                return b""
            buf = bytearray(n)
            try:
                got = os.preadv(fd, [buf], -1, os.RWF_NOWAIT)
            except BlockingIOError:
                return None
            except OSError as e:
                if e.errno == errno.EMSGSIZE:   # another thread took it
                    continue
                raise
            if got == 0:
                return b""
            return bytes(buf) if got == n else bytes(memoryview(buf)[:got])

    def recv(self) -> T:
        """Wait for a message; Disconnected once every sender is gone and
        the queue is drained."""
        fd = self.fileno()
        if self._with_handles():
            got = self._take_rec(fd)
            if got is None:
                got = _recv_rec(fd, self._max, _uapi.TIMEOUT_FOREVER)
            return self._decode_rec(got)
        while True:
            data = self._take(fd)
            if data is not None:
                return self._decode(data)
            # Empty: sleep in read(), where a rendezvous sender meets us.
            # os.read() shrinks its buffer to what was read.
            try:
                return self._decode(os.read(fd, self._max))
            except BlockingIOError:
                # A wrapped fd someone made O_NONBLOCK: wait in the kernel.
                return self.recv_timeout(None)
            except OSError as e:
                if e.errno != errno.EMSGSIZE:
                    raise

    def try_recv(self) -> T:
        """A message if one is queued; Empty if not; Disconnected at the
        end."""
        if self._with_handles():
            got = self._take_rec(self.fileno())
            if got is None:
                raise Empty()
            return self._decode_rec(got)
        data = self._take(self.fileno())
        if data is None:
            raise Empty()
        return self._decode(data)

    def recv_timeout(self, timeout: Optional[float]) -> T:
        """Wait at most ``timeout`` seconds: Timeout then.  The wait is in
        the kernel and its deadline is fixed at the call, whatever signals
        arrive."""
        fd = self.fileno()
        ns = _timeout_ns(timeout)
        if self._with_handles():
            got = self._take_rec(fd)
            if got is None:
                if ns == 0:
                    raise Timeout()
                try:
                    got = _recv_rec(fd, self._max, ns)
                except OSError as e:
                    if e.errno in (errno.ETIMEDOUT, errno.EAGAIN):
                        raise Timeout() from None
                    raise
            return self._decode_rec(got)
        data = self._take(fd)
        if data is not None:
            return self._decode(data)
        if ns == 0:
            raise Timeout()
        buf = bytearray(self._max)
        try:
            n = _xfer(fd, _uapi.IOC_RECV, _addr(buf), len(buf), ns)
        except OSError as e:
            if e.errno in (errno.ETIMEDOUT, errno.EAGAIN):
                raise Timeout() from None
            raise
        return self._decode(bytes(memoryview(buf)[:n]))

    def get(self, block: bool = True, timeout: Optional[float] = None) -> T:
        """queue.Queue.get(): wait for a message (at most ``timeout``
        seconds, if given), or with ``block=False`` not at all; Empty
        when there was none.  Disconnected at the end of the channel,
        which queue.Queue does not have."""
        if not block:
            return self.try_recv()
        if timeout is None:
            return self.recv()
        try:
            return self.recv_timeout(timeout)
        except Timeout:
            raise Empty() from None

    def get_nowait(self) -> T:
        """queue.Queue.get_nowait(): get(block=False)."""
        return self.try_recv()

    async def recv_async(self) -> T:
        """tokio's rx.recv().await, on the event loop's reader callbacks;
        raises Disconnected at the end.  On a rendezvous channel it meets
        only senders that sleep in a send (send(), put(), C's mpsc_send(),
        Go's Send)."""
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

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                yield self.recv()
            except Disconnected:
                return

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.recv_async()
        except Disconnected:
            raise StopAsyncIteration from None

    def try_iter(self) -> Iterator[T]:
        """The messages queued now, without waiting (Rust's try_iter())."""
        while True:
            try:
                yield self.try_recv()
            except (Empty, Disconnected):
                return

    def set_capacity(self, capacity: Optional[int]) -> None:
        """Bound the queue to ``capacity`` messages (0: rendezvous, None:
        unbounded)."""
        if capacity is None:
            capacity = _uapi.CAPACITY_UNBOUNDED
        fcntl.ioctl(self.fileno(), _uapi.IOC_SET_CAPACITY,
                    struct.pack(_uapi.CAPACITY_ARGS, capacity, 0, 0))

    def shutdown(self) -> None:
        """tokio's rx.close(): refuse new messages, keep the queued ones."""
        fcntl.ioctl(self.fileno(), _uapi.IOC_CLOSE, 0)

