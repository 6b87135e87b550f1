# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The ioctl numbers and struct sizes agree with uapi/linux/mpsc.h."""

import os
import struct
import subprocess

from mpsc import _uapi

HEADER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "uapi")

NAMES = ["IOC_CLONE_SENDER", "IOC_DISCONNECT", "IOC_INFO", "IOC_PEEK_LEN",
         "IOC_SET_CAPACITY", "IOC_CLOSE", "IOC_SEND", "IOC_RECV",
         "STATE_RECEIVER", "STATE_SENDER", "STATE_RX_OPEN", "STATE_CLOSED",
         "CAPACITY_UNBOUNDED"]
STRUCTS = {"CLONE_ARGS": "mpsc_clone_args", "INFO": "mpsc_info",
           "PEEK_ARGS": "mpsc_peek_args", "CAPACITY_ARGS": "mpsc_capacity_args",
           "XFER": "mpsc_xfer"}


def c_values(tmp_path):
    src = tmp_path / "probe.c"
    lines = ["#include <stdio.h>", "#include <linux/mpsc.h>", "int main(void) {"]
    for name in NAMES:
        lines.append('printf("%s %%llu\\n", (unsigned long long)MPSC_%s);'
                     % (name, name))
    for key, tag in STRUCTS.items():
        lines.append('printf("%s %%zu\\n", sizeof(struct %s));' % (key, tag))
    lines.append("return 0; }")
    src.write_text("\n".join(lines))
    exe = tmp_path / "probe"
    subprocess.run(["cc", "-I", HEADER_DIR, "-o", str(exe), str(src)],
                   check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True,
                         text=True).stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


def test_ioctl_numbers_match_header(tmp_path):
    c = c_values(tmp_path)
    for name in NAMES:
        assert getattr(_uapi, name) == c[name], name


def test_struct_sizes_match_header(tmp_path):
    c = c_values(tmp_path)
    for key in STRUCTS:
        assert struct.calcsize(getattr(_uapi, key)) == c[key], key
