# SPDX-License-Identifier: GPL-2.0
# The human front end.  Kbuild lists the module's objects.
#
#   make            the module and userlib
#   make demo       every seed example in C, Rust, Python and Go, in QEMU
#   make bench      mpsc against a pipe, a socketpair and a POSIX mqueue
#   make check      every gate and every test, in a QEMU guest
#   make install    install the module, userlib and headers

KVER ?= $(shell $(CURDIR)/scripts/kver)
KDIR ?= /usr/src/linux-headers-$(KVER)
W ?= 1
KCFLAGS ?= -Werror

.PHONY: all module userlib examples bindings demo bench install clean

all: module userlib

module:
	@$(CURDIR)/scripts/deps build
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=$(W) KCFLAGS="$(KCFLAGS)" modules

userlib:
	$(MAKE) -C userlib

examples: userlib
	$(MAKE) -C examples

bindings:
	@$(CURDIR)/scripts/build-bindings

# Every seed example in C, Rust, Python and Go, in the QEMU guest.
demo:
	@$(CURDIR)/scripts/demo

# mpsc against a pipe, a socketpair and a POSIX mqueue, in the guest.
bench: module
	$(MAKE) -C bench
	@$(CURDIR)/scripts/vm-run -- bench/mpsc_bench

# The module goes to /lib/modules/<release>/updates; userlib, its header,
# <linux/mpsc.h>, mpsc.pc and the man pages under PREFIX (/usr/local).
install: module userlib
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates modules_install
	$(MAKE) -C userlib install

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C userlib clean
	$(MAKE) -C examples clean
	$(MAKE) -C bench clean
	rm -rf bindings/go/bin bindings/rust/target
	rm -f $(patsubst %.c,%,$(wildcard selftests/mpsc_*.c))

.PHONY: check
check:
	@$(CURDIR)/scripts/check

.PHONY: check-debug
check-debug:
	@$(CURDIR)/scripts/check-debug
