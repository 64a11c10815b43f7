# vmofs - top-level build.  Targets:
#   make            build/ : libvm.a, vmofs, vmoctl, test programs (-O2)
#   make san        build-san/ : the same under ASan + UBSan
#   make run        install missing packages, build, mount at $(MNT)
#   make check      install missing packages, build both, run every test in both
#   make bench      benchmarks (tests/bench), BENCH_QUICK=1 for the 2-minute run
#   make install    vmofs, vmoctl, mount.fuse helper path, man pages under $(PREFIX)
#   make uninstall  remove what make install put there
#   make deps       install the Debian packages the build and tests need
O      ?= build
SAN    ?= 0
PREFIX ?= /usr/local
MNT    ?= /mnt/vmofs

# Debian packages: what each is for is in docs/dependencies.md.
PKGS := gcc make pkg-config libfuse3-dev fuse3 libcmocka-dev libbsd-dev \
	liblz4-dev liburing-dev attr fio psmisc util-linux gnuplot-nox rsync

PKG_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null) -luring

CFLAGS_COMMON := -std=gnu11 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
	-D_FILE_OFFSET_BITS=64 -pthread -Ivm $(PKG_CFLAGS)
ifeq ($(SAN),1)
OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
else
OPT := -O2
endif
ALL_CFLAGS := $(CFLAGS_COMMON) $(OPT) $(CFLAGS)
LDLIBS_VM  := -lbsd -llz4 -pthread

VM_SRC    := $(wildcard vm/*.c)
FS_SRC    := $(wildcard fs/*.c)
TOOL_SRC  := $(wildcard tools/*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
MOUNT_SRC := $(wildcard tests/mount/test_*.c)
MLIB_SRC  := $(filter-out $(MOUNT_SRC),$(wildcard tests/mount/*.c))
BENCH_SRC := $(wildcard tests/bench/*.c)

VM_OBJ    := $(VM_SRC:%.c=$(O)/%.o)
FS_OBJ    := $(FS_SRC:%.c=$(O)/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(O)/%.o)
MLIB_OBJ  := $(MLIB_SRC:%.c=$(O)/%.o)
UNIT_BIN  := $(UNIT_SRC:%.c=$(O)/%)
MOUNT_BIN := $(MOUNT_SRC:%.c=$(O)/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(O)/%)

PROGS := $(if $(FS_SRC),$(O)/vmofs) $(if $(TOOL_SRC),$(O)/vmoctl)

.PHONY: all san check run install uninstall deps bench clean unit-tests
all: $(O)/libvm.a $(PROGS) $(UNIT_BIN) $(MOUNT_BIN) $(BENCH_BIN)

san:
	@$(MAKE) --no-print-directory O=build-san SAN=1 all

$(O)/%.o: %.c $(wildcard vm/*.h fs/*.h tools/*.h tests/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libvm.a: $(VM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(O)/vmofs: $(FS_OBJ) $(O)/libvm.a
	$(CC) $(ALL_CFLAGS) -o $@ $(FS_OBJ) $(O)/libvm.a $(PKG_LIBS) $(LDLIBS_VM)

$(O)/vmoctl: $(TOOL_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(TOOL_OBJ)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(O)/libvm.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(O)/libvm.a -lcmocka $(LDLIBS_VM)

$(O)/tests/mount/%: $(O)/tests/mount/%.o $(MLIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(MLIB_OBJ) -lcmocka -pthread

$(O)/tests/bench/%: $(O)/tests/bench/%.o $(O)/libvm.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(O)/libvm.a $(LDLIBS_VM)

deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory san
	@tests/run-tests.sh build build-san

unit-tests: all
	@tests/run-tests.sh --unit-only build

run: deps
	@$(MAKE) --no-print-directory all
	@tests/run-mount.sh $(O) $(MNT)

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh $(O)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(O)/vmofs $(O)/vmoctl $(DESTDIR)$(PREFIX)/bin/
	install -m 644 docs/vmofs.1 docs/vmoctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	@# mount -t fuse.vmofs runs "vmofs" through mount.fuse3's /bin/sh, whose
	@# PATH may lack $(PREFIX)/bin: put a link where it always looks.
	ln -sf $(PREFIX)/bin/vmofs $(DESTDIR)/usr/sbin/vmofs 2>/dev/null || true

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vmofs $(DESTDIR)$(PREFIX)/bin/vmoctl \
	    $(DESTDIR)$(PREFIX)/share/man/man1/vmofs.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man1/vmoctl.1
	@if [ "$$(readlink $(DESTDIR)/usr/sbin/vmofs)" = "$(PREFIX)/bin/vmofs" ]; then \
	    rm -f $(DESTDIR)/usr/sbin/vmofs; fi

clean:
	rm -rf build build-san
