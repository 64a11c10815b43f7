# vmofs - top-level build.  Targets:
#   make            build/ : libvm.a, vmofs, vmoctl, test programs (-O2)
#   make san        build-san/ : the same under ASan + UBSan
#   make tsan       build-tsan/ : the daemon, vmoctl and vmofs-stress under TSan
#   make run        install missing packages, build, mount at $(MNT)
#   make check      install missing packages, build all three, run every test in
#                   build/ and build-san/, then vmofs-stress against the ASan and
#                   TSan daemons (docs/testing.md)
#   make soak       vmofs-stress for SECONDS (3600) against SAN=asan|tsan|none
#                   (asan), figures appended to tests/stress/results/
#   make bench      benchmarks (tests/bench), BENCH_QUICK=1 for the 2-minute run
#   make install    vmofs, vmoctl, man pages, systemd unit, bash completion
#                   under $(PREFIX), the /usr/sbin/vmofs link (DESTDIR=...)
#   make uninstall  remove what make install put there (same DESTDIR)
#   make deps       install the Debian packages the build and tests need
O      ?= build
SAN    ?= 0
PREFIX ?= /usr/local
MNT    ?= /mnt/vmofs

# Debian packages: what each is for is in docs/dependencies.md.
PKGS := gcc make pkg-config libfuse3-dev fuse3 libcmocka-dev libbsd-dev \
	liblz4-dev liburing-dev attr fio procps util-linux util-linux-extra \
	python3 jq gnuplot-nox g++ rsync

PKG_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null) -luring

CFLAGS_COMMON := -std=gnu11 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
	-D_FILE_OFFSET_BITS=64 -pthread -Ivm $(PKG_CFLAGS)
ifeq ($(SAN),1)
OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
else ifeq ($(SAN),tsan)
OPT := -O1 -fsanitize=thread -fno-omit-frame-pointer
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
STRESS_SRC := $(wildcard tests/stress/*.c)

VM_OBJ    := $(VM_SRC:%.c=$(O)/%.o)
FS_OBJ    := $(FS_SRC:%.c=$(O)/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(O)/%.o)
MLIB_OBJ  := $(MLIB_SRC:%.c=$(O)/%.o)
UNIT_BIN  := $(UNIT_SRC:%.c=$(O)/%)
MOUNT_BIN := $(MOUNT_SRC:%.c=$(O)/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(O)/%)
STRESS_OBJ := $(STRESS_SRC:%.c=$(O)/%.o)
# Not test_*: run-tests.sh's mount-program loops must not pick it up.
STRESS_BIN := $(if $(STRESS_SRC),$(O)/tests/stress/vmofs-stress)

PROGS := $(if $(FS_SRC),$(O)/vmofs) $(if $(TOOL_SRC),$(O)/vmoctl)

.PHONY: all san tsan check soak run install uninstall deps bench clean unit-tests
all: $(O)/libvm.a $(PROGS) $(UNIT_BIN) $(MOUNT_BIN) $(BENCH_BIN) $(STRESS_BIN)

san:
	@$(MAKE) --no-print-directory O=build-san SAN=1 all

# Only what the stress runs need: the rest of the suite is not run under TSan.
tsan:
	@$(MAKE) --no-print-directory O=build-tsan SAN=tsan build-tsan/vmofs \
	    build-tsan/vmoctl build-tsan/tests/stress/vmofs-stress

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

$(O)/tests/stress/vmofs-stress: $(STRESS_OBJ) $(MLIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(STRESS_OBJ) $(MLIB_OBJ) -lcmocka -pthread

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
	@$(MAKE) --no-print-directory tsan
	@STRESS_ASAN=build-san STRESS_TSAN=build-tsan tests/run-tests.sh build build-san

# make soak SECONDS=3600 [SAN=asan|tsan|none]: one long vmofs-stress run.
SECONDS ?= 3600
SOAK_SAN := $(if $(filter tsan none,$(SAN)),$(SAN),asan)
soak: deps
	@$(MAKE) --no-print-directory SAN=0 all
	@$(if $(filter asan,$(SOAK_SAN)),$(MAKE) --no-print-directory san)
	@$(if $(filter tsan,$(SOAK_SAN)),$(MAKE) --no-print-directory tsan)
	@tests/stress/soak.sh $(SOAK_SAN) $(SECONDS)

unit-tests: all
	@tests/run-tests.sh --unit-only build

run: deps
	@$(MAKE) --no-print-directory all
	@tests/run-mount.sh $(O) $(MNT)

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh $(O)

# Where install puts things (DESTDIR is prepended to each, for packaging).
BINDIR   := $(PREFIX)/bin
MAN1DIR  := $(PREFIX)/share/man/man1
UNITDIR  := $(PREFIX)/lib/systemd/system
BASHCOMP := $(PREFIX)/share/bash-completion/completions
SBINLINK := /usr/sbin/vmofs
INSTALLED := $(BINDIR)/vmofs $(BINDIR)/vmoctl $(MAN1DIR)/vmofs.1 \
	$(MAN1DIR)/vmoctl.1 $(UNITDIR)/mnt-vmofs.mount $(BASHCOMP)/vmoctl

# Only the two programs: installing prebuilt ones (make -o $(O)/vmofs -o
# $(O)/vmoctl install) builds nothing.
install: $(PROGS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MAN1DIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(BASHCOMP) $(DESTDIR)$(dir $(SBINLINK))
	install -m 755 $(O)/vmofs $(O)/vmoctl $(DESTDIR)$(BINDIR)/
	install -m 644 docs/vmofs.1 docs/vmoctl.1 $(DESTDIR)$(MAN1DIR)/
	install -m 644 dist/mnt-vmofs.mount $(DESTDIR)$(UNITDIR)/
	install -m 644 dist/vmoctl.bash $(DESTDIR)$(BASHCOMP)/vmoctl
	@# mount -t fuse.vmofs runs "vmofs" through mount.fuse3's /bin/sh, whose
	@# PATH may lack $(BINDIR): put a link where it always looks.  The link
	@# names $(BINDIR)/vmofs as it will be once DESTDIR is the root.
	@if [ "$(BINDIR)/vmofs" != "$(SBINLINK)" ]; then \
	    echo "ln -sfn $(BINDIR)/vmofs $(DESTDIR)$(SBINLINK)"; \
	    ln -sfn $(BINDIR)/vmofs $(DESTDIR)$(SBINLINK); fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@if [ "$$(readlink $(DESTDIR)$(SBINLINK))" = "$(BINDIR)/vmofs" ]; then \
	    echo "rm -f $(DESTDIR)$(SBINLINK)"; rm -f $(DESTDIR)$(SBINLINK); fi

clean:
	rm -rf build build-san build-tsan
