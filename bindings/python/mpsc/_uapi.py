# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The /dev/mpsc ABI: ioctl numbers and argument structs.

Mirrors uapi/linux/mpsc.h.  The numbers are computed the way <linux/ioctl.h>
computes them, from the struct sizes below; tests/test_uapi.py compiles the
C header and checks every value, so the two cannot drift apart silently.
"""

import struct

_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (MAGIC << 8) | nr


def _io(nr):
    return _ioc(_IOC_NONE, nr, 0)


def _iow(nr, fmt):
    return _ioc(_IOC_WRITE, nr, struct.calcsize(fmt))


def _iowr(nr, fmt):
    return _ioc(_IOC_READ | _IOC_WRITE, nr, struct.calcsize(fmt))


MAGIC = 0xB8

# struct layouts, little-endian x86-64 (identical for 32-bit callers)
CLONE_ARGS = "<Ii2Q"          # flags, fd, reserved[2]
INFO = "<II10Q5Q"             # flags, state, id ... received, queued_mem, reserved[5]
PEEK_ARGS = "<QII"            # len, flags, reserved
CAPACITY_ARGS = "<QII"        # capacity, flags, reserved
XFER = "<QQQII2Q"             # buf, len, timeout_ns, flags, reserved0, reserved[2]

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
