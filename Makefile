# SPDX-License-Identifier: GPL-2.0
#
# georep top-level Makefile.
#
#   make            build georep.ko (against Debian 12's 6.1 headers) and the
#                   userspace programs
#   make deps       install every Debian package the build, tests and demo use
#   make check      deps + build + every test (unit, simulator, VM scenarios)
#   make demo       deps + build + the demo, in a VM when this kernel cannot
#                   load modules
#   make bench      deps + build + benchmarks (ratios, never pass/fail)
#   make sim-soak SEEDS=N   the consensus simulator over N seeds per size
#   make crash-soak POINTS=N ROUNDS=M   crash replay at N points, then M
#                   whole-site power cuts in the three-VM lab

KVER	?= $(shell ls -d /lib/modules/*-amd64/build 2>/dev/null | sort -V | tail -n1 | cut -d/ -f4)
KDIR	?= /lib/modules/$(KVER)/build
O	?= $(CURDIR)/build
V	?= 0

# the build of check, demo and bench: one job per CPU
JOBS	?= $(shell nproc)

# Debian packages: build, tests, VM lab, demo, bench
DEB_PKGS := build-essential pkg-config clang llvm libnl-3-dev libnl-genl-3-dev \
	libjansson-dev libssl-dev libbpf-dev bpftool sparse \
	linux-headers-amd64 linux-image-amd64 linux-source-6.1 \
	qemu-system-x86 busybox-static cpio kmod xz-utils zstd fio e2fsprogs \
	xfsprogs drbd-utils iproute2 python3 valgrind libclang-rt-14-dev jq gojq

all: module user

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) V=$(V) modules

user:
	$(MAKE) -C user O=$(O)/user

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing; \
	fi

check: deps
	$(MAKE) -j$(JOBS) all
	selftests/check.sh

demo: deps
	$(MAKE) -j$(JOBS) all
	selftests/vm/run --timeout 900 -- /georep/selftests/demo.sh

# one VM: raw vs georep-local; three VMs (one per site): georep vs DRBD 8.4
bench: deps
	$(MAKE) -j$(JOBS) all
	$(MAKE) -C user O=$(O)/user bench
	@rc=0; selftests/bench.sh || rc=1; \
	selftests/bench/sites.sh || rc=1; exit $$rc

# the consensus simulator's long run: SEEDS seeds per cluster size (3, 5, 7)
sim-soak:
	$(MAKE) -C user O=$(O)/user sim-soak SEEDS=$(SEEDS)

# the crash replay (selftests/kmod/49-crash-replay.sh) at POINTS points,
# then whole-site power cuts, one VM per site (selftests/sites/powercut.sh);
# SEED=N replays one run's random choices of both
POINTS ?= 100
ROUNDS ?= 10
crash-soak: deps
	$(MAKE) -j$(JOBS) all
	@rc=0; selftests/vm/run --timeout $$(( 600 + $(POINTS) * 40 )) -- \
		KMOD_TEST_TIMEOUT=$$(( 300 + $(POINTS) * 40 )) CRASH_POINTS=$(POINTS) \
		$(if $(SEED),CRASH_SEED=$(SEED)) \
		/georep/selftests/kmod/run_tests.sh 49-crash-replay || rc=1; \
	ROUNDS=$(ROUNDS) selftests/sites/powercut.sh || rc=1; exit $$rc

# C=1 runs sparse; style runs checkpatch over kmod/
sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 CF=-D__CHECK_ENDIAN__ modules

style:
	selftests/lint/run.sh

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(O)

.PHONY: all module user deps check demo bench sim-soak crash-soak sparse style clean
