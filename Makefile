# fastpush: one non-recursive Makefile.
#
#   make deps      install every Debian package the build and tests use
#   make           build libfastpush and the programs into build/
#   make test      fuzz briefly, unit + end-to-end tests, then again under
#                  ASan+UBSan
#   make check-valgrind  the end-to-end tests with our programs under
#                  valgrind memcheck (build-vg/, -O1 -g), then every error
#   make demo      run the whole system locally with a dashboard (README.md)
#   make bench     quick benchmarks, results in bench/results/
#   make soak      10,000 streams with churn for 10 min (SOAK_SECONDS=N),
#                  memory and descriptors checked flat: bench/results/SOAK.md
#   make install PREFIX=/usr/local
#   make deb       the Debian package, in build/deb/ (debian/, docs/deploy.md)
#
# BUILD selects the output tree; SAN=1 builds with AddressSanitizer and
# UndefinedBehaviorSanitizer (make test does this in build-san/).

PREFIX  ?= /usr/local
BUILD   ?= build
SAN     ?=
PYTHON  ?= /usr/bin/python3

PKGS     := libczmq libzmq jansson libsystemd
CPPFLAGS += -D_GNU_SOURCE -Ilib -Iruntime
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wformat=2 \
            -Wno-unused-parameter -Wno-missing-field-initializers \
            -Wno-format-truncation
LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfcgi -ljwt \
            -lcrypto -lz -lm -lpthread
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -fno-omit-frame-pointer
endif
ALLFLAGS  = $(CPPFLAGS) $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP

# Debian packages: build, tests (real servers, publishers, clients), demo,
# benchmarks (peers and plots), the Debian package (make deb: debhelper,
# help2man for the man pages; lintian, man-db and logrotate for its test).
DEB_PKGS := build-essential pkg-config libzmq3-dev libczmq-dev \
            libjansson-dev libfcgi-dev libjwt-dev zlib1g-dev libssl-dev \
            clang libclang-rt-14-dev \
            lighttpd apache2 libapache2-mod-fcgid nginx \
            libnginx-mod-nchan pushpin spawn-fcgi \
            php-cli php-zmq php-curl composer php-illuminate-broadcasting \
            php-illuminate-http php-illuminate-container php-illuminate-config \
            php-symfony-dependency-injection php-symfony-config php-symfony-yaml \
            php-symfony-http-foundation php-symfony-mercure php-vlucas-phpdotenv \
            python3 python3-zmq \
            python3-websockets \
            curl chromium nodejs node-ws gnuplot-nox procps psmisc \
            iproute2 systemd libsystemd-dev nats-server libnats-dev \
            python3-django libapache2-mod-wsgi-py3 openssl \
            dpkg-dev debhelper fakeroot help2man lintian man-db logrotate \
            valgrind libcurl4-openssl-dev

# ---------------------------------------------------------------- libraries
# lib/: pure code (formats, parsers, models); never logs, never touches a
# socket, a thread or the clock's sleep.  runtime/: what owns sockets,
# loops, threads and logs (hub, FastCGI accept, event loop, responder).
# runtime/ may use lib/, never the reverse; programs use both.
LIB_SRC     := $(wildcard lib/*.c)
RUNTIME_SRC := $(wildcard runtime/*.c)
COMMON_SRC  := $(LIB_SRC) $(RUNTIME_SRC)
LIBFP       := $(BUILD)/lib/libfastpush.a
LIBRT       := $(BUILD)/lib/libfastpush-runtime.a
LIBS_FP     := $(LIBRT) $(LIBFP)

# ---------------------------------------------------------------- programs
# directory -> program name; a directory that does not exist yet is skipped
PROGRAMS := broker:fastpush-broker cli:fastpush fcgi-sse:fastpush-sse webhooks:fastpush-webhooks \
            fcgi-poll:fastpush-poll ws-bridge:fastpush-ws
prog_dir  = $(word 1,$(subst :, ,$(1)))
prog_name = $(word 2,$(subst :, ,$(1)))
BINS     := $(foreach p,$(PROGRAMS),$(if $(wildcard $(call prog_dir,$(p))/*.c),\
              $(BUILD)/bin/$(call prog_name,$(p))))

# ---------------------------------------------------------------- tests
# bench/*.c are programs, except bench/lg_*.c: the parts of loadgen
TEST_OBJ   := $(COMMON_SRC:%.c=$(BUILD)/test/%.o) $(BUILD)/test/bench/lg_parse.o
UNIT       := $(BUILD)/bin/fp-unit
BENCH_SRC  := $(filter-out bench/lg_%.c,$(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bin/%)
LG_OBJ     := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/lg_*.c))

# keep intermediate objects (bench programs): no rebuilds, no rm noise
.SECONDARY:

.PHONY: all programs deps ensure-deps test unit e2e test-san clean install deb \
        check-valgrind \
        demo bench bench-full bench-broker soak fuzz js
all: $(LIBS_FP) $(BINS) $(UNIT) $(BENCH_BINS)

# the five programs alone (make install, debian/rules)
programs: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(ALLFLAGS) -c -o $@ $<

# the library rule, checked: lib/ includes nothing from runtime/
$(BUILD)/lib/%.o: CPPFLAGS := $(filter-out -Iruntime,$(CPPFLAGS))

$(BUILD)/test/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $< (test)"
	@$(CC) $(ALLFLAGS) -DFP_TEST -c -o $@ $<

$(LIBFP): $(LIB_SRC:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(LIBRT): $(RUNTIME_SRC:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

define PROGRAM_RULE
$(BUILD)/bin/$(call prog_name,$(1)): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(call prog_dir,$(1))/*.c)) $(LIBS_FP)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(SANFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LIBS) $$(LIBS_$(call prog_dir,$(1)))
endef
# the broker's cluster engine (engine jetstream) is the NATS C client
LIBS_broker := -lnats
# fastpush-webhooks posts with libcurl
LIBS_webhooks := -lcurl
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_RULE,$(p))))

$(UNIT): $(BUILD)/test/tests/unit/run.o $(TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/%: $(BUILD)/bench/%.o $(LIBS_FP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

# the JetStream ceiling and SINCE from the stream (bench/suite_25_cluster.py)
$(BUILD)/bin/nats_bench: LIBS += -lnats
$(BUILD)/bin/js_since: LIBS += -lnats

$(BUILD)/bin/loadgen: $(BUILD)/bench/loadgen.o $(LG_OBJ) $(LIBS_FP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

# ---------------------------------------------------------------- targets
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS)
	@if [ -f package.json ]; then npm ci --no-audit --no-fund; fi

# `make deps` when the build, lighttpd, python3-zmq, nats-server, Django,
# mod_wsgi, composer, the Laravel/Symfony packages, debhelper, valgrind or
# the npm packages of package.json (pusher-js, pusher, laravel-echo) are missing (a fresh machine); apt needs root, so sudo is used
# when not root.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
ensure-deps:
	@if ! [ -x $(PYTHON) ] || ! $(PYTHON) -c 'import zmq' 2>/dev/null || \
	    ! [ -x /usr/sbin/lighttpd ] || ! command -v cc >/dev/null || \
	    ! pkg-config --exists libczmq jansson libnats libsystemd 2>/dev/null || \
	    ! command -v nats-server >/dev/null || ! command -v composer >/dev/null || \
	    ! $(PYTHON) -c 'import django' 2>/dev/null || \
	    ! [ -f /usr/lib/apache2/modules/mod_wsgi.so ] || \
	    ! [ -f /usr/share/php/Illuminate/Broadcasting/autoload.php ] || \
	    ! [ -f /usr/share/php/Symfony/Component/DependencyInjection/autoload.php ] || \
	    ! [ -f /usr/share/php/Symfony/Component/Mercure/autoload.php ] || \
	    ! command -v dh >/dev/null || ! command -v help2man >/dev/null || \
	    ! command -v lintian >/dev/null || ! [ -x /usr/sbin/logrotate ] || \
	    ! command -v valgrind >/dev/null || \
	    { [ -f package.json ] && { ! [ -d node_modules/pusher-js ] || ! [ -d node_modules/pusher ] || ! [ -d node_modules/laravel-echo ]; }; }; then \
	    echo "missing packages: running make deps"; $(SUDO) $(MAKE) deps; fi

unit: $(UNIT)
	$(UNIT)

e2e: all
	$(PYTHON) tests/run.py --bin $(BUILD)/bin $(E2E)

test: ensure-deps
	$(MAKE) all
	$(PYTHON) tests/all.py

# check-valgrind: tests/run.py's e2e files (E2E=... a subset) with the five
# programs of build-vg/ (-O1 -g: whole stacks, fewer inlined frames than
# -O2) under valgrind memcheck through wrappers in build-vg/valgrind/bin
# (tests/valgrind.py; absolute paths, so lighttpd's bin-path and mod_fcgid
# start them too); logs in build-vg/valgrind/logs/TEST/PROG.PID.log;
# suppressions of third-party noise in tests/valgrind.supp.  FP_SLOW=4
# scales the launcher's waits (VG_SLOW=N to change); VG_OPTS adds valgrind
# options (--track-origins=yes).  It prints every error once (invalid
# access, uninitialised use, bad free, definite leak, crash, a descriptor
# our code opened still open at exit) with the programs and tests that hit
# it, and fails if there is one.  A test file that fails under valgrind
# without a memcheck error is run again without valgrind: passing then, it
# failed from valgrind's slowness only (latency checks, a start that took
# long), and is listed but does not fail this target; failing again, it
# does.  test_deb and test_js_build start none of our programs: left out.
# About half an hour (41 files) on two shared cores.
VG_SLOW ?= 4
check-valgrind: ensure-deps
	$(MAKE) -s BUILD=build-vg OPT=-O1 all
	VG_OPTS="$(VG_OPTS)" $(PYTHON) tests/valgrind.py --build build-vg --slow $(VG_SLOW) $(E2E)

clean:
	rm -rf build build-san build-fuzz build-vg

install: programs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/fastpush/conf \
	    $(DESTDIR)$(PREFIX)/share/fastpush/js
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 conf/*.conf conf/*.service conf/*.tmpfiles $(DESTDIR)$(PREFIX)/share/fastpush/conf/
	install -m 644 clients/js/*.js clients/js/*.mjs clients/js/*.ts clients/js/*.mts \
	    $(DESTDIR)$(PREFIX)/share/fastpush/js/
	# the Django app (docs/django.md), its two symlinks copied as files
	install -d $(DESTDIR)$(PREFIX)/share/fastpush/django
	tar -C clients/django --exclude=__pycache__ -chf - fastpush_django | \
	    tar -C $(DESTDIR)$(PREFIX)/share/fastpush/django -xf -

# The Debian package (debian/): dpkg-buildpackage in a copy of the tree
# (what git tracks, and new files it does not ignore) in $(BUILD)/deb/src,
# so that the .deb, .buildinfo and .changes land in $(BUILD)/deb/ and the
# tree stays clean.  DEB_BUILD_OPTIONS as usual (nocheck is implied:
# debian/rules runs no tests; parallel=N).
DEB_SRC := $(BUILD)/deb/src/fastpush
deb:
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_SRC)
	git ls-files -z --cached --others --exclude-standard | \
	    tar --null -T - --ignore-failed-read -cf - | tar -C $(DEB_SRC) -xf -
	cd $(DEB_SRC) && DEB_BUILD_OPTIONS="nocheck $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -b -us -uc
	mv $(BUILD)/deb/src/*.deb $(BUILD)/deb/src/*.buildinfo \
	    $(BUILD)/deb/src/*.changes $(BUILD)/deb/
	rm -rf $(BUILD)/deb/src
	@ls -l $(BUILD)/deb/*.deb

# builds what it runs, serves on $(PORT) (8080, or a free port if busy)
demo: ensure-deps
	$(PYTHON) tools/demo.py --bin $(BUILD)/bin $(if $(filter-out 0,$(CLUSTER)),--cluster)

bench: all
	$(PYTHON) bench/run.py --bin $(BUILD)/bin $(SUITES)

bench-full: all
	$(PYTHON) bench/run.py --bin $(BUILD)/bin --full $(SUITES)

bench-broker: all
	$(PYTHON) bench/run.py --bin $(BUILD)/bin 10_broker

# not part of make test: SOAK_SECONDS (600) shortens it
soak: all
	$(PYTHON) bench/soak.py --bin $(BUILD)/bin

# clients/js/fastpush.js from clients/js/src (commit the result)
js:
	/usr/bin/node clients/js/build.mjs

# ---------------------------------------------------------------- fuzz
# libFuzzer targets (clang): tests/fuzz/NAME_fuzz.c, linked with the
# program sources in FUZZ_SRC_NAME and with lib/ and runtime/ built for
# fuzzing (build-fuzz/obj, warnings as errors); tests/fuzz/README.md lists
# them.  `make fuzz` runs each for FUZZ_TIME seconds (FUZZ_SECONDS is the
# same) from its seed corpus in tests/fuzz/corpus/NAME (new inputs are
# kept in build-fuzz/corpus/NAME); a crash, leak or timeout fails it.
# FUZZ=NAME runs one target.  FUZZ_RUNS=N stops each target after N
# inputs instead (FUZZ_TIME is then only the bound).  The scratch files of
# the targets that read a file (acl, jwt, store_replay) go to /dev/shm
# when it is writable: on disk they run 5x slower.
FUZZ_SECONDS ?= 60
FUZZ_TIME ?= $(FUZZ_SECONDS)
FUZZ_RUNS ?= -1
FUZZ_TMP  := $(if $(shell test -w /dev/shm && echo y),/dev/shm,$(or $(TMPDIR),/tmp))
FUZZ_CC   ?= clang
FUZZ_SAN   = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS = -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(CPPFLAGS) \
             -Iws-bridge -Ibroker -Ifcgi-sse -Ifcgi-poll -Itests/fuzz \
             $(filter-out -Wno-format-truncation,$(WARN)) -Wno-format-nonliteral \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LIBS  = $(LIBS)
FUZZ_OBJ   = build-fuzz/obj
FUZZ_LIBFP = build-fuzz/libfastpush-fuzz.a
FUZZ_NAMES = ws_frame ws_handshake cursor event publish jscan channel query \
             conf wal acl jwt token sse_request store_replay mtopic \
             fcgi_parse
FUZZ      ?= $(FUZZ_NAMES)
FUZZ_SRC_ws_frame     = ws-bridge/frame.c ws-bridge/deflate.c
FUZZ_SRC_ws_handshake = ws-bridge/handshake.c ws-bridge/deflate.c ws-bridge/frame.c
FUZZ_SRC_sse_request  = fcgi-sse/route.c fcgi-sse/verdict.c
FUZZ_SRC_store_replay = broker/store.c broker/segment.c

$(FUZZ_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $< (fuzz)"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_LIBFP): $(COMMON_SRC:%.c=$(FUZZ_OBJ)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

fuzz_objs = $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(FUZZ_SRC_$(1)))
.SECONDEXPANSION:
build-fuzz/%_fuzz: $(FUZZ_OBJ)/tests/fuzz/%_fuzz.o $$(call fuzz_objs,$$*) \
                   $(FUZZ_LIBFP)
	$(FUZZ_CC) -g $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

fuzz: $(FUZZ:%=build-fuzz/%_fuzz)
	@for n in $(FUZZ); do \
	    mkdir -p build-fuzz/corpus/$$n && \
	    echo "fuzz $$n: $(FUZZ_TIME) s" && \
	    TMPDIR=$(FUZZ_TMP) build-fuzz/$${n}_fuzz -max_total_time=$(FUZZ_TIME) \
	        -runs=$(FUZZ_RUNS) -max_len=8192 \
	        -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=build-fuzz/$${n}- -print_final_stats=1 \
	        build-fuzz/corpus/$$n tests/fuzz/corpus/$$n \
	        >build-fuzz/$$n.log 2>&1 || \
	        { tail -n 60 build-fuzz/$$n.log; echo "fuzz $$n: FAILED"; \
	          exit 1; }; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' \
	        build-fuzz/$$n.log | tr '\n' ' '; echo; \
	done

-include $(shell find $(FUZZ_OBJ) -name '*.d' 2>/dev/null)
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
