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
         "CAPACITY_UNBOUNDED", "TIMEOUT_FOREVER", "XFER_ABSTIME",
         "XFER_BATCH", "XFER_HANDLES", "XFER_CLOEXEC", "MAX_HANDLES",
         "REC_HANDLES_DROPPED"]
STRUCTS = {"CLONE_ARGS": "mpsc_clone_args", "INFO": "mpsc_info",
           "PEEK_ARGS": "mpsc_peek_args", "CAPACITY_ARGS": "mpsc_capacity_args",
           "XFER": "mpsc_xfer", "REC": "mpsc_rec"}


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


def test_record_size_matches_header(tmp_path):
    src = tmp_path / "rec.c"
    cases = [(1, 0), (7, 1), (8, 2), (9, 3), (100, 16)]
    src.write_text("#include <stdio.h>\n#include <linux/mpsc.h>\n"
                   "int main(void) {\n" + "".join(
                       'printf("%%llu\\n", (unsigned long long)'
                       'MPSC_REC_SIZE(%d, %d));\n' % c for c in cases) +
                   "return 0; }\n")
    exe = tmp_path / "rec"
    subprocess.run(["cc", "-I", HEADER_DIR, "-o", str(exe), str(src)],
                   check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True,
                         text=True).stdout.split()
    assert [int(v) for v in out] == [_uapi.rec_size(*c) for c in cases]
