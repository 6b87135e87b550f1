# SPDX-License-Identifier: GPL-2.0
# The human front end.  Kbuild lists the module's objects.
#
#   make            the module and userlib
#   make demo       every seed example in C, Rust, Python and Go, in QEMU
#   make bench      mpsc against its peers: a table, bench/results.csv and
#                   docs/performance.png
#   make check      every gate and every test, in QEMU guests of 6.1 and 6.12
#                   (KVER=6.1 or KVER=6.12: that kernel alone)
#   make deb        the Debian packages (mpsc-dkms, libmpsc1, libmpsc-dev)
#   make install    install the module, userlib, headers and man pages
#                   (DESTDIR, PREFIX, INSTALL_MOD_PATH honoured)
#   make uninstall  remove what make install put down

# KVER: a series (6.1, 6.12) or a release (6.12.117+deb12-amd64); the
# default is 6.1's release (scripts/kver).  KREL is always the release.
KVER ?=
KREL := $(shell $(CURDIR)/scripts/kver $(KVER))
KDIR ?= /usr/src/linux-headers-$(KREL)
W ?= 1
KCFLAGS ?= -Werror
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_MOD_PATH ?= $(DESTDIR)
export PREFIX DESTDIR

.PHONY: all module userlib examples bindings demo bench install uninstall \
	clean deb

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

# mpsc against its peers in one guest run (docs/performance.rst): the
# table and the targets on stdout, the figures in bench/results.csv (the
# guest writes it in the shared tree), plotted on the host with gnuplot.
bench: module
	@$(CURDIR)/scripts/deps bench
	$(MAKE) -C bench
	@$(CURDIR)/scripts/vm-run -- bench/mpsc_bench --csv bench/results.csv
	@$(CURDIR)/bench/plot bench/results.csv docs/performance.png
	@echo "bench/results.csv, docs/performance.png"

# The module goes to $(INSTALL_MOD_PATH)/lib/modules/<release>/updates,
# depmod runs for a real install only (no DESTDIR or INSTALL_MOD_PATH);
# userlib, <mpsc.h>, <linux/mpsc.h> (in PREFIX/include/mpsc), mpsc.pc and
# the man pages go under DESTDIR/PREFIX (/usr/local), ldconfig after a
# real install.  Distributions: make deb, or DKMS (dkms.conf).
MODDIR = $(INSTALL_MOD_PATH)/lib/modules/$(KREL)/updates
install: module userlib
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) \
		INSTALL_MOD_DIR=updates DEPMOD=true CONFIG_MODULE_SIG_ALL= \
		modules_install
ifeq ($(INSTALL_MOD_PATH),)
	depmod -a $(KREL)
endif
	$(MAKE) -C userlib install

uninstall:
	rm -f $(MODDIR)/mpsc.ko $(MODDIR)/mpsc.ko.xz $(MODDIR)/mpsc.ko.zst \
		$(MODDIR)/mpsc.ko.gz
ifeq ($(INSTALL_MOD_PATH),)
	depmod -a $(KREL)
endif
	$(MAKE) -C userlib uninstall

# The Debian packages, into deb/ (scripts/mkdeb: dpkg-buildpackage, lintian).
deb:
	@$(CURDIR)/scripts/mkdeb

# Build outputs only.  Not Kbuild's clean: under M= it deletes every *.mod
# in the tree, bindings/go/go.mod included.
clean:
	rm -f mpsc.ko mpsc.mod mpsc.mod.c mpsc.mod.o mpsc.o .module-common.o \
		Module.symvers modules.order module/*.o
	rm -f .*.cmd module/.*.cmd
	rm -rf .tmp_versions deb
	$(MAKE) -C userlib clean
	$(MAKE) -C examples clean
	$(MAKE) -C bench clean
	rm -rf bindings/go/bin bindings/rust/target
	rm -f $(patsubst %.c,%,$(wildcard selftests/mpsc_*.c))

.PHONY: check
check:
	@$(CURDIR)/scripts/check $(KVER)

.PHONY: check-debug
check-debug:
	@$(CURDIR)/scripts/check-debug
