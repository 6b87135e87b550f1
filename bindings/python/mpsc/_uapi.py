# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The /dev/mpsc ABI: ioctl numbers and argument structs.

Mirrors uapi/linux/mpsc.h.  The numbers are computed the way <linux/ioctl.h>
computes them, from the struct sizes below; tests/test_uapi.py compiles the
C header and checks every value, so the two cannot drift apart silently.
"""

from __future__ import annotations

import struct

_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (MAGIC << 8) | nr


def _io(nr: int) -> int:
    return _ioc(_IOC_NONE, nr, 0)


def _iow(nr: int, fmt: str) -> int:
    return _ioc(_IOC_WRITE, nr, struct.calcsize(fmt))


def _iowr(nr: int, fmt: str) -> int:
    return _ioc(_IOC_READ | _IOC_WRITE, nr, struct.calcsize(fmt))


MAGIC = 0xB8

# struct layouts, little-endian x86-64 (identical for 32-bit callers)
CLONE_ARGS = "<Ii2Q"          # flags, fd, reserved[2]
INFO = "<II11Q4Q"             # flags, state, id ... queued_mem, queued_handles, reserved[4]
PEEK_ARGS = "<QII"            # len, flags, reserved
CAPACITY_ARGS = "<QII"        # capacity, flags, reserved
XFER = "<QQQII2Q"             # buf, len, timeout_ns, flags, count, reserved[2]
REC = "<IHH"                  # struct mpsc_rec: len, nfds, flags

IOC_CLONE_SENDER = _iowr(0x01, CLONE_ARGS)
IOC_DISCONNECT = _io(0x02)
IOC_INFO = _iowr(0x03, INFO)
IOC_PEEK_LEN = _iowr(0x04, PEEK_ARGS)
IOC_SET_CAPACITY = _iow(0x05, CAPACITY_ARGS)
IOC_CLOSE = _io(0x06)
IOC_SEND = _iowr(0x07, XFER)
IOC_RECV = _iowr(0x08, XFER)

STATE_RECEIVER = 1 << 0
STATE_SENDER = 1 << 1
STATE_RX_OPEN = 1 << 2
STATE_CLOSED = 1 << 3

CAPACITY_UNBOUNDED = (1 << 64) - 1
TIMEOUT_FOREVER = (1 << 64) - 1
XFER_ABSTIME = 1 << 0
XFER_BATCH = 1 << 1
XFER_HANDLES = 1 << 2
XFER_CLOEXEC = 1 << 3
MAX_HANDLES = 16
REC_HANDLES_DROPPED = 1 << 0


def rec_align(n: int) -> int:
    return (n + 7) & ~7


def rec_size(length: int, nfds: int) -> int:
    """MPSC_REC_SIZE(): a batch record's header, fds and payload."""
    return struct.calcsize(REC) + rec_align(4 * nfds) + rec_align(length)
