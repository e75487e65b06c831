# muxshim: `make` builds build/libmuxshim.so, build/muxssh, build/muxbroker.
# `make check` runs every test; `make demo` shows the main job on a local sshd.
CC       ?= gcc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE
PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?=
comma    := ,
# `make` prints one short line per file (CC broker/pool/pool.c, AR, LD); `make V=1` every
# command in full.
V        ?= 0
ifeq ($(V),1)
say       =
else
say       = @printf '  %-3s %s\n' '$(1)' '$(2)';
endif
# A sanitizer build lives in its own directory, so it never mixes with a plain one.
B        := build$(if $(SANITIZE),/san-$(subst $(comma),-,$(SANITIZE)))
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Each program's sources, listed (see docs/layout.md). shim/ runs in the user's
# processes: shim/lib is libmuxshim.so, shim/muxssh the front door it execs, shim/tty the
# terminal questions both ask. broker/ is muxbroker, and broker/proto what every program
# shares: the one wire codec and the runtime directory.
# proto.c is the codec with no heap and no stdio (the shim links it alone); proto_heap.c adds
# growable frames and heap copies for muxssh and the broker. runtime_core.c checks the
# runtime directory and who serves broker.sock, for all three (no heap, no stdio);
# runtime.c adds the messages.
PROTO_NOHEAP_SRCS := broker/proto/proto.c
PROTO_SRCS  := $(PROTO_NOHEAP_SRCS) broker/proto/proto_heap.c
RUNTIME_NOHEAP_SRCS := broker/proto/runtime_core.c
# socksparse.c and fwdbind.c: the SOCKS requests of -D and a forward's listeners, read and
# bound alike by muxssh (a session's -L/-D) and the broker (-O forward).
COMMON_SRCS := $(PROTO_SRCS) $(RUNTIME_NOHEAP_SRCS) broker/proto/runtime.c \
               broker/proto/socksparse.c broker/proto/fwdbind.c broker/proto/json.c
TTY_SRCS    := shim/tty/ask.c shim/tty/ttystate.c
ARGV_SRCS   := shim/muxssh/argv.c shim/muxssh/argv_words.c
MUXSSH_SRCS := $(ARGV_SRCS) shim/muxssh/client.c shim/muxssh/fallback.c shim/muxssh/forward.c \
               shim/muxssh/socks.c shim/muxssh/incoming.c shim/muxssh/x11.c $(TTY_SRCS)
LIBMUXSHIM_SRCS := shim/lib/hooks.c shim/lib/decide.c shim/lib/libc_sym.c shim/lib/route.c \
                   shim/lib/route_file.c \
                   shim/lib/route_broker.c shim/lib/route_async.c shim/lib/route_peers.c \
                   $(TTY_SRCS) \
                   $(PROTO_NOHEAP_SRCS) $(RUNTIME_NOHEAP_SRCS)
SSHCONFIG_SRCS := broker/config/sshconfig.c broker/config/sshconfig_run.c \
                  broker/config/sshconfig_cache.c broker/config/forwards.c
CONFIG_SRCS := $(SSHCONFIG_SRCS) broker/config/token.c broker/config/percent.c \
               broker/config/ctlpath.c broker/config/words.c broker/config/jump.c
CONN_SRCS   := broker/conn/conn.c broker/conn/tcp.c broker/conn/verify.c \
               broker/conn/hostkey.c broker/conn/auth.c broker/conn/accept.c \
               broker/conn/proxy.c broker/conn/khcmd.c broker/conn/sshfp.c \
               broker/conn/fingerprint.c broker/conn/child.c broker/conn/engine.c broker/conn/keyfile.c \
               broker/conn/deadline.c broker/conn/fatal.c broker/conn/offer.c \
               broker/conn/agentsign.c broker/conn/pubkey.c broker/conn/pkcs11.c
SESSION_SRCS := broker/session/session.c broker/session/policy.c broker/session/requests.c \
                broker/session/pump.c broker/session/tcpip.c broker/session/term.c \
                broker/session/envreq.c broker/session/localcmd.c broker/session/route.c \
                broker/session/endpoint.c broker/session/agentfwd.c broker/session/x11fwd.c \
                broker/session/stats.c \
                broker/session/halfsent.c broker/session/inchan.c broker/session/inheld.c \
                broker/session/rfwd.c
POOL_SRCS   := broker/pool/pool.c broker/pool/sweep.c broker/pool/sticky.c broker/pool/spare.c \
               broker/pool/alive.c broker/pool/kex.c broker/pool/connjobs.c \
               broker/pool/fwdheld.c
BASE_SRCS   := broker/base/log.c broker/base/buf.c broker/base/reap.c
JOBS_SRCS   := broker/jobs/jobs.c
FRONT_SRCS  := broker/front/loop.c broker/front/peer.c broker/front/prompt.c \
               broker/front/control.c broker/front/doctor.c
BROKER_SRCS := $(BASE_SRCS) $(CONFIG_SRCS) $(CONN_SRCS) $(JOBS_SRCS) $(SESSION_SRCS) \
               $(POOL_SRCS) $(FRONT_SRCS)

# Include paths: muxssh and the shim see their own folders and broker/proto only.
PROTO_INC  := -Ibroker/proto
MUXSSH_INC := -Ishim/muxssh -Ishim/tty $(PROTO_INC)
SHIM_INC   := -Ishim/lib -Ishim/tty $(PROTO_INC)
# The broker's folders are layers, lowest first: each folder's objects see the headers of
# their own folder and of those below only, and `make check` runs scripts/layers.sh, which
# fails on any use of a symbol of a higher folder (docs/layout.md). proto/ uses
# nothing of the broker (the shim links it alone).
LAYERS     := base proto config conn jobs session pool front
layers_below :=
$(foreach l,$(LAYERS),$(eval LAYER_INC_$(l) := $(layers_below) -Ibroker/$(l))$(eval \
    layers_below += -Ibroker/$(l)))
LAYER_INC_proto := -Ibroker/proto
BROKER_INC := $(LAYER_INC_front)
UNIT_INC   := $(BROKER_INC) -Ishim/muxssh -Ishim/tty -Iscripts/libssh2-patch
HEADERS    := $(wildcard broker/*/*.h shim/*/*.h)
# Each object's header dependencies, as the compiler saw them (build/obj/**/*.d).
DEPFLAGS   := -MMD -MP
DEPSTAMP   := $(B)/.deps-mmd

COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/obj/%.o)
MUXSSH_OBJS := $(MUXSSH_SRCS:%.c=$(B)/obj/%.o)
BROKER_OBJS := $(BROKER_SRCS:%.c=$(B)/obj/%.o)
SHIM_OBJS   := $(LIBMUXSHIM_SRCS:%.c=$(B)/shimobj/%.o)
BROKER_LIBS  = $(SSH2_LIBS) -lcrypto -lpthread -lresolv

# libssh2: the system's when it is 1.11 or newer, else Debian 13's source built once into
# build/libssh2/ (shared by build/ and build/san-*/); LIBSSH2=system forces the system's.
# scripts/libssh2.sh writes the flags into $(B)/libssh2.flags, read when a recipe runs
# (after the file is made), and touched only when they change, so switching rebuilds.
LIBSSH2     ?= auto
SSH2_ROOT   := build/libssh2
SSH2_FLAGS  := $(B)/libssh2.flags
SSH2_CFLAGS  = $(shell sed -n 's/^cflags=//p' $(SSH2_FLAGS) 2>/dev/null)
SSH2_LIBS    = $(shell sed -n 's/^libs=//p' $(SSH2_FLAGS) 2>/dev/null)
CFLAGS      += $(SSH2_CFLAGS)

UNIT_TESTS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
SHIM_TESTS  := $(patsubst tests/shim/%.c,$(B)/tests/shim/%,$(wildcard tests/shim/*.c))
TEST_TOOLS  := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(wildcard tests/tools/*.c))

all: $(B)/libmuxshim.so $(B)/muxssh $(B)/muxbroker

# The build packages are checked before anything compiles (installed when root, else one
# line naming the command); order-only, so it never causes a rebuild.
build-deps:
	@scripts/install-deps.sh --build

$(SSH2_FLAGS): FORCE | build-deps
	@V=$(V) scripts/libssh2.sh $(LIBSSH2) $(SSH2_ROOT) $@

# Everything that includes libssh2.h or links it follows the flags.
$(COMMON_OBJS) $(BROKER_OBJS) $(B)/obj/broker/muxbroker.o $(UNIT_TESTS): $(SSH2_FLAGS)

# broker/F/x.c gets F's include paths; muxbroker.c (above every folder) gets them all.
$(B)/obj/broker/%.o: broker/%.c | build-deps
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(DEPFLAGS) $(SANFLAGS) $(LAYER_INC_$(if $(findstring /,$*),$(firstword $(subst /, ,$*)),front)) -c -o $@ $<

$(B)/obj/scripts/%.o: scripts/%.c scripts/libssh2-patch/hybrid.h | build-deps
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(SANFLAGS) -c -o $@ $<

$(B)/obj/shim/%.o: shim/%.c | build-deps
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(DEPFLAGS) $(SANFLAGS) $(MUXSSH_INC) -c -o $@ $<

# The shim is loaded into every process: no sanitizer runtime, PIC, hidden by default.
$(B)/shimobj/%.o: %.c | build-deps
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(DEPFLAGS) -fPIC -fvisibility=hidden $(SHIM_INC) -c -o $@ $<

$(B)/libmuxshim.so: $(SHIM_OBJS) shim/lib/shim.map
	$(call say,LD,$@)$(CC) $(LDFLAGS) -shared -o $@ $(SHIM_OBJS) -Wl,--version-script=shim/lib/shim.map -ldl

# The floor the shim's cost is measured against (`make bench-exec`): a preloaded library with
# one function in it, linked as the shim is.
$(B)/bench/libempty.so: bench/empty.c
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS) -fPIC -shared -o $@ $<

$(B)/libclient.a: $(COMMON_OBJS) $(MUXSSH_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(B)/libbroker.a: $(COMMON_OBJS) $(BROKER_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(B)/muxssh: $(B)/obj/shim/muxssh/muxssh.o $(B)/libclient.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) $(SANFLAGS) -o $@ $^

# fastcrypto.o is linked as an object, ahead of libssh2: its ChaCha20 and Poly1305 replace
# the library's portable ones (fastcrypto.h).
$(B)/muxbroker: $(B)/obj/broker/muxbroker.o $(B)/obj/broker/conn/fastcrypto.o $(B)/libbroker.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) $(SANFLAGS) -o $@ $^ $(BROKER_LIBS)

# Each unit test links the common objects plus the sources it names here.
# conn.c and verify.c run what ssh runs around a connection: ProxyCommand, KnownHostsCommand, SSHFP.
CONN_DEPS := broker/conn/child.c broker/conn/fingerprint.c broker/conn/khcmd.c \
             broker/config/percent.c broker/conn/proxy.c broker/conn/sshfp.c broker/base/log.c \
             broker/config/words.c
HOSTKEY_DEPS := broker/conn/hostkey.c $(SSHCONFIG_SRCS) broker/config/token.c \
                broker/config/words.c
UNIT_DEPS_test_proto     :=
UNIT_DEPS_test_runtime   :=
UNIT_DEPS_test_argv      := $(ARGV_SRCS) shim/muxssh/fallback.c
UNIT_DEPS_test_sshconfig := $(SSHCONFIG_SRCS) broker/config/token.c \
                            broker/config/ctlpath.c broker/config/percent.c broker/config/words.c
UNIT_DEPS_test_hostkey   := $(HOSTKEY_DEPS)
UNIT_DEPS_test_conn      := broker/conn/conn.c broker/conn/auth.c broker/conn/keyfile.c broker/conn/engine.c broker/conn/offer.c broker/conn/agentsign.c broker/conn/pubkey.c broker/conn/pkcs11.c \
                            broker/conn/tcp.c broker/conn/verify.c broker/conn/deadline.c broker/conn/fatal.c \
                            $(HOSTKEY_DEPS) $(CONN_DEPS)
UNIT_DEPS_test_term      := broker/session/term.c
UNIT_DEPS_test_deadline  := broker/conn/deadline.c broker/conn/fatal.c
UNIT_DEPS_test_accept    := broker/conn/accept.c broker/conn/auth.c broker/conn/keyfile.c broker/conn/conn.c broker/conn/engine.c broker/conn/offer.c broker/conn/agentsign.c broker/conn/pubkey.c broker/conn/pkcs11.c \
                            broker/conn/tcp.c broker/conn/verify.c broker/conn/deadline.c broker/conn/fatal.c \
                            $(HOSTKEY_DEPS) $(CONN_DEPS)
UNIT_DEPS_test_fingerprint := $(CONN_DEPS) $(HOSTKEY_DEPS)
UNIT_DEPS_test_envreq    := broker/session/envreq.c
UNIT_DEPS_test_jobs      := broker/jobs/jobs.c broker/base/log.c
UNIT_DEPS_test_reap      := broker/base/reap.c
UNIT_DEPS_test_offer     := broker/conn/offer.c broker/conn/keyfile.c broker/conn/agentsign.c
UNIT_DEPS_test_fastcrypto := broker/conn/fastcrypto.c broker/conn/fatal.c
# The post-quantum key exchanges' arithmetic, compiled into our libssh2 too (libssh2.sh).
UNIT_DEPS_test_pqkex     := scripts/libssh2-patch/hybrid.c
# session/ and pool/ alone with the layers below them (issue 23): the test is the session's
# owner and pool (session.h's ops), or the pool's client; nothing of front/ is linked.
UNIT_DEPS_test_session   := $(SESSION_SRCS) $(JOBS_SRCS) $(CONN_SRCS) $(CONFIG_SRCS) $(BASE_SRCS)
UNIT_DEPS_test_pool      := $(POOL_SRCS) $(UNIT_DEPS_test_session)
# The whole broker: teardown runs through session, pool, peer and loop code.
UNIT_DEPS_test_teardown  := $(BROKER_SRCS)
unit_objs = $(COMMON_OBJS) $(patsubst %.c,$(B)/obj/%.o,$(sort $(UNIT_DEPS_$(1))))

.SECONDEXPANSION:
$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $$(call unit_objs,$$*)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS) $(SANFLAGS) $(UNIT_INC) -o $@ $< $(call unit_objs,$*) $(BROKER_LIBS)

$(B)/tests/shim/%: tests/shim/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) -o $@ $< -lpthread

# Helper programs of the test suites (the TCP relay, the raw broker-socket client).
$(B)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $<

tests: all $(UNIT_TESTS) $(SHIM_TESTS) $(TEST_TOOLS)

# The man pages, written in scdoc (man/*.scd), built into build/man/ (never committed).
MANS := $(patsubst man/%.scd,build/man/%,$(wildcard man/*.scd))
build/man/%: man/%.scd | build-deps
	@mkdir -p $(dir $@)
	$(call say,MAN,$@)scdoc <$< >$@.tmp && mv $@.tmp $@

man: $(MANS)

deps:
	@scripts/install-deps.sh

check: deps
	$(MAKE) tests fuzzers
	@scripts/layers.sh $(B) $(LAYERS)
	@B=$(B) tests/run.sh

# The end-to-end and stock suites again with OpenSSH 10.0 (built from Debian 13's source into
# build/openssh10) as the user's ssh, against its sshd and this machine's, and before them the
# engine suite's post-quantum warning cases with sid's OpenSSH 10 (10.1+, build/openssh-*)
# as the user's ssh (.ci/run runs it after `make check`).
check-openssh10: deps
	$(MAKE) tests
	@B=$(B) tests/openssh10.sh

# libFuzzer targets (clang, with ASan and UBSan), always in build/fuzz. `make fuzz` runs
# each for FUZZ_SECONDS on a copy of its committed seed corpus; `make check` replays the
# seeds only.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -std=gnu11 -g -O1 -D_GNU_SOURCE $(PROTO_INC) -Ishim/muxssh \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZERS      := build/fuzz/fuzz_proto build/fuzz/fuzz_argv build/fuzz/fuzz_socks
build/fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c $(PROTO_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_proto.c $(PROTO_SRCS)
build/fuzz/fuzz_argv: tests/fuzz/fuzz_argv.c $(ARGV_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_argv.c $(ARGV_SRCS)
build/fuzz/fuzz_socks: tests/fuzz/fuzz_socks.c broker/proto/socksparse.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_socks.c broker/proto/socksparse.c

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
	$(MAKE) all $(TEST_TOOLS) $(B)/bench/libempty.so
	@scripts/openssh10.sh build >/dev/null || echo "bench: no OpenSSH 10.0 to time" >&2
	@B=$(B) scripts/bench.sh

# The first connection with the post-quantum key exchange, plain ssh and muxshim (cold), and
# the broker's CPU per handshake (also part of `make bench`).
bench-kex: deps
	$(MAKE) all
	@scripts/openssh10.sh build >/dev/null || echo "bench-kex: no OpenSSH 10.0 to time" >&2
	@B=$(B) scripts/bench-kex.sh

# Goal 5 alone: the shim over an empty preloaded library, 15 rounds of 1000 execs of true.
bench-exec: all $(B)/bench/libempty.so
	@B=$(B) scripts/bench-exec.sh

# Goal 2 as users have it: SendEnv LANG LC_* with LANG set (also part of `make bench`).
bench-env: deps
	$(MAKE) all $(TEST_TOOLS)
	@B=$(B) scripts/bench-env.sh

# A local forward: 1 GiB through -L and the first byte of 1,000 short connections, plain ssh
# and muxshim (also part of `make bench`).
bench-fwd: deps
	$(MAKE) all
	@B=$(B) scripts/bench-fwd.sh

# What the Debian package holds (debian/rules calls this with PREFIX=/usr): the library and
# the programs in PREFIX/lib/muxshim/ (muxrun finds them at ../lib/muxshim from itself), the
# man pages, the completions where each shell looks, the systemd user units.
D := $(DESTDIR)$(PREFIX)
install: all man
	install -d $(D)/bin $(D)/lib/muxshim $(D)/share/man/man1 $(D)/share/man/man7 \
	    $(D)/share/bash-completion/completions $(D)/share/zsh/vendor-completions \
	    $(D)/share/fish/vendor_completions.d $(D)/lib/systemd/user
	install -m 0644 $(B)/libmuxshim.so $(D)/lib/muxshim/
	install -m 0755 $(B)/muxssh $(B)/muxbroker $(D)/lib/muxshim/
	install -m 0755 scripts/muxrun $(D)/bin/muxrun
	install -m 0644 $(filter %.1,$(MANS)) $(D)/share/man/man1/
	install -m 0644 $(filter %.7,$(MANS)) $(D)/share/man/man7/
	install -m 0644 completions/muxrun.bash $(D)/share/bash-completion/completions/muxrun
	install -m 0644 completions/_muxrun $(D)/share/zsh/vendor-completions/_muxrun
	install -m 0644 completions/muxrun.fish $(D)/share/fish/vendor_completions.d/muxrun.fish
	install -m 0644 systemd/muxbroker.socket $(D)/lib/systemd/user/
	sed 's|@LIBDIR@|$(PREFIX)/lib/muxshim|' systemd/muxbroker.service.in >$(D)/lib/systemd/user/muxbroker.service
	chmod 0644 $(D)/lib/systemd/user/muxbroker.service

# The Debian package, built with dpkg-buildpackage from debian/ in a copy of the tree in
# build/deb/src (so its .deb, .buildinfo and .changes land in build/deb/), on the libssh2
# that make builds here (build/libssh2, made first).
deb: $(SSH2_FLAGS)
	rm -rf build/deb && mkdir -p build/deb/src
	tar -c --exclude=./build --exclude=./.git --exclude=./bench/out . | tar -x -C build/deb/src
	cd build/deb/src && MUXSHIM_SSH2_ROOT=$(abspath $(SSH2_ROOT)) dpkg-buildpackage -b -us -uc \
	    >../build.log 2>&1 || { tail -20 ../build.log; echo "make deb: see build/deb/build.log" >&2; exit 1; }
	@ls build/deb/*.deb

format:
	clang-format -i broker/*.c broker/*/*.[ch] shim/*/*.[ch] tests/unit/*.[ch] tests/shim/*.c \
	    tests/tools/*.c tests/fuzz/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    $(UNIT_INC) -Ishim/lib broker shim

clean:
	rm -rf $(B)

.PHONY: FORCE build-deps man deb bench-env bench-exec bench-fwd bench-kex bench-net all tests fuzzers fuzz deps check check-openssh10 demo soak bench install format lint clean
# Objects are kept, and one that is missing is built again (.SECONDARY, which named every
# target, let make skip a missing object when what it links was newer than the sources).
.PRECIOUS: $(B)/obj/%.o $(B)/shimobj/%.o

# Objects built before -MMD have no .d, so their headers are unknown: in a build directory
# that has no $(DEPSTAMP) yet, they go (once), to be built again.
ifeq ($(wildcard $(DEPSTAMP)),)
$(shell rm -rf $(B)/obj $(B)/shimobj && mkdir -p $(B) && touch $(DEPSTAMP))
endif
-include $(shell find $(B)/obj $(B)/shimobj -name '*.d' 2>/dev/null)
