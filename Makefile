# muxshim: `make` builds build/libmuxshim.so, build/muxssh, build/muxbroker.
# `make check` runs every test; `make demo` shows the main job on a local sshd.
CC       ?= gcc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE
PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?=
comma    := ,
# A sanitizer build lives in its own directory, so it never mixes with a plain one.
B        := build$(if $(SANITIZE),/san-$(subst $(comma),-,$(SANITIZE)))
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Files of muxssh (libc only); everything else in broker/ belongs to muxbroker.
COMMON_SRCS := broker/proto.c broker/runtime.c broker/words.c
MUXSSH_SRCS := $(wildcard broker/argv.c broker/ask.c broker/client.c broker/fallback.c broker/ttystate.c)
BROKER_SRCS := $(filter-out broker/muxssh.c broker/muxbroker.c $(COMMON_SRCS) $(MUXSSH_SRCS),$(wildcard broker/*.c))
SHIM_SRCS   := $(wildcard shim/*.c) broker/ask.c broker/ttystate.c

COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/obj/%.o)
MUXSSH_OBJS := $(MUXSSH_SRCS:%.c=$(B)/obj/%.o)
BROKER_OBJS := $(BROKER_SRCS:%.c=$(B)/obj/%.o)
SHIM_OBJS   := $(SHIM_SRCS:%.c=$(B)/shimobj/%.o)
BROKER_LIBS := -lssh2 -lcrypto -lpthread -lresolv

UNIT_TESTS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
SHIM_TESTS  := $(patsubst tests/shim/%.c,$(B)/tests/shim/%,$(wildcard tests/shim/*.c))
TEST_TOOLS  := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(wildcard tests/tools/*.c))

all: $(B)/libmuxshim.so $(B)/muxssh $(B)/muxbroker

# The build packages are checked before anything compiles (installed when root, else one
# line naming the command); order-only, so it never causes a rebuild.
build-deps:
	@scripts/install-deps.sh --build

$(B)/obj/%.o: %.c $(wildcard broker/*.h) | build-deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -Ibroker -c -o $@ $<

# The shim is loaded into every process: no sanitizer runtime, PIC, hidden by default.
$(B)/shimobj/%.o: %.c $(wildcard shim/*.h) broker/proto.h broker/ask.h broker/ttystate.h | build-deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -Ishim -Ibroker -c -o $@ $<

$(B)/libmuxshim.so: $(SHIM_OBJS) shim/shim.map
	$(CC) -shared -o $@ $(SHIM_OBJS) -Wl,--version-script=shim/shim.map -Wl,-z,now -ldl

$(B)/libclient.a: $(COMMON_OBJS) $(MUXSSH_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/libbroker.a: $(COMMON_OBJS) $(BROKER_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/muxssh: $(B)/obj/broker/muxssh.o $(B)/libclient.a
	$(CC) $(SANFLAGS) -o $@ $^

$(B)/muxbroker: $(B)/obj/broker/muxbroker.o $(B)/libbroker.a
	$(CC) $(SANFLAGS) -o $@ $^ $(BROKER_LIBS)

# Each unit test links the common objects plus the broker/ modules it names here.
# conn.c runs what ssh runs around a connection: ProxyCommand, KnownHostsCommand, SSHFP.
CONN_DEPS := child fingerprint khcmd percent proxy sshfp log
UNIT_DEPS_test_proto     :=
UNIT_DEPS_test_argv      := argv
UNIT_DEPS_test_sshconfig := sshconfig token ctlpath percent
UNIT_DEPS_test_hostkey   := hostkey sshconfig token
UNIT_DEPS_test_conn      := conn hostkey auth sshconfig token $(CONN_DEPS)
UNIT_DEPS_test_term      := term
UNIT_DEPS_test_accept    := accept auth conn hostkey sshconfig token $(CONN_DEPS)
UNIT_DEPS_test_fingerprint := $(CONN_DEPS) hostkey sshconfig token
UNIT_DEPS_test_envreq    := envreq
unit_objs = $(COMMON_OBJS) $(patsubst %,$(B)/obj/broker/%.o,$(UNIT_DEPS_$(1)))

.SECONDEXPANSION:
$(B)/tests/%: tests/unit/%.c tests/unit/check.h $$(call unit_objs,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -Ibroker -o $@ $< $(call unit_objs,$*) $(BROKER_LIBS)

$(B)/tests/shim/%: tests/shim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lpthread

# Helper programs of the test suites (the TCP relay, the raw broker-socket client).
$(B)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $<

tests: all $(UNIT_TESTS) $(SHIM_TESTS) $(TEST_TOOLS)

deps:
	@scripts/install-deps.sh

check: deps
	$(MAKE) tests fuzzers
	@B=$(B) tests/run.sh

# libFuzzer targets (clang, with ASan and UBSan), always in build/fuzz. `make fuzz` runs
# each for FUZZ_SECONDS on a copy of its committed seed corpus; `make check` replays the
# seeds only.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -std=gnu11 -g -O1 -D_GNU_SOURCE -Ibroker -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all
FUZZERS      := build/fuzz/fuzz_proto build/fuzz/fuzz_argv
build/fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c broker/proto.c broker/proto.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_proto.c broker/proto.c
build/fuzz/fuzz_argv: tests/fuzz/fuzz_argv.c broker/argv.c broker/argv.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_argv.c broker/argv.c

fuzzers: $(FUZZERS)

fuzz: deps
	$(MAKE) fuzzers
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

demo: deps
	$(MAKE) all
	@scripts/demo.sh

soak: deps
	$(MAKE) all $(TEST_TOOLS)
	@tests/soak/run.sh $(B); rc=$$?; tests/chaos/run.sh $(B) $(or $(CHAOS_SECONDS),300) && exit $$rc

# Jump hosts and routes in a network namespace (root), timed against plain ssh.
bench-net: deps
	$(MAKE) all
	@scripts/bench-net.sh $(B)

bench: deps
	$(MAKE) all $(TEST_TOOLS)
	@B=$(B) scripts/bench.sh

# Goal 2 as users have it: SendEnv LANG LC_* with LANG set (also part of `make bench`).
bench-env: deps
	$(MAKE) all $(TEST_TOOLS)
	@B=$(B) scripts/bench-env.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/muxshim
	install -m 0755 $(B)/libmuxshim.so $(B)/muxssh $(B)/muxbroker $(DESTDIR)$(PREFIX)/lib/muxshim/
	install -m 0755 scripts/muxrun $(DESTDIR)$(PREFIX)/bin/muxrun

format:
	clang-format -i shim/*.[ch] broker/*.[ch] tests/unit/*.[ch] tests/shim/*.c tests/tools/*.c \
	    tests/fuzz/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr -Ibroker -Ishim broker shim

clean:
	rm -rf $(B)

.PHONY: build-deps bench-env bench-net all tests fuzzers fuzz deps check demo soak bench install format lint clean
.SECONDARY:
