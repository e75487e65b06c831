/* The session layer (broker/session) alone, linked with the layers below it only (jobs,
 * conn, config, proto, base; no pool/, no front/). The test is what session.h says a session
 * talks to: its owner (session_owner_ops: a client, or the connection a tunnel carries) and
 * its pool (session_pool_ops); both record what they are told. Sessions are made from real
 * OPEN, CONTROL and HANDED frames and resolved by the real ssh -G (-F /dev/null) in a
 * worker; connections are built by hand (no server). Meant to run under ASan too: a session
 * freed twice, or before the reap, is a failure there. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "halfsent.h"
#include "localcmd.h"
#include "reap.h"
#include "sessions.h"

/* The pool: records what sessions ask of it. */
static struct pool_calls {
    int attach, detach, broken, channel_freed;
    struct session *attached;  /* the last session attach was asked for */
    struct sshconn *attach_to; /* attach links the session here (NULL: it keeps it off) */
} pc;

static void t_attach(struct session *s)
{
    pc.attach++;
    pc.attached = s;
    if (pc.attach_to)
        session_link(s, pc.attach_to, 1);
}

static void t_detach(struct session *s)
{
    pc.detach++;
    session_unlink(s);
}

static void t_broken(struct sshconn *c, int rc)
{
    (void)c;
    (void)rc;
    pc.broken++;
}

static void t_channel_freed(struct sshconn *c)
{
    (void)c;
    pc.channel_freed++;
}

static const struct session_pool_ops pool_ops = {
    .attach = t_attach, .detach = t_detach, .broken = t_broken, .channel_freed = t_channel_freed};

/* A connection as pool/ would hold it, with no server behind it. */
static struct sshconn *conn_new(enum conn_state st)
{
    struct sshconn *c = calloc(1, sizeof *c);
    snprintf(c->cfg.hostname, sizeof c->cfg.hostname, "unit.invalid");
    c->sock = -1;
    c->state = st;
    return c;
}

/* OPEN of dest with opts and command, owned by cl, asking the test's pool. */
static struct session *open_session(struct client *cl, char **opts, const char *dest,
                                    const char *command, uint32_t flags, char *err, size_t errlen)
{
    return open_for(&pool_ops, cl, opts, dest, command, flags, err, errlen);
}

/* A session of cl for `ssh -F /dev/null unit.invalid true`, resolved and attached to a new
 * connection in state st (*cp). */
static struct session *attached_session(struct client *cl, enum conn_state st, struct sshconn **cp)
{
    *cp = conn_new(st);
    pc.attach_to = *cp;
    char *opts[] = {"-F", "/dev/null", NULL};
    char err[256] = "";
    struct session *s = open_session(cl, opts, "unit.invalid", "true", 0, err, sizeof err);
    finish_jobs();
    return s;
}

static void reset(void)
{
    memset(&pc, 0, sizeof pc);
    session_freed_take();
}

/* An OPEN is resolved by ssh -G in a worker, then asks its pool for a connection with its
 * env requests built (SendEnv matches, then SetEnv); the connection lost, it finishes with
 * EXIT (ssh's words) then lets its client go, gives the fds back at once, leaves its
 * connection through the pool, and is freed at the reap, once. */
static void test_open_lost(void)
{
    reset();
    struct client cl = {0};
    struct sshconn *c = conn_new(C_CONNECTING);
    pc.attach_to = c;
    char *opts[] = {"-F", "/dev/null", "-o", "SendEnv=LANG", "-o", "SetEnv=FOO=bar", NULL};
    char err[256] = "";
    struct session *s = open_session(&cl, opts, "unit.invalid", "true", 0, err, sizeof err);
    CHECK(s != NULL, "OPEN makes a session: %s", err);
    if (!s)
        return;
    CHECK(s->state == S_RESOLVING && pc.attach == 0, "it resolves before it asks the pool");
    finish_jobs();
    CHECK(pc.attach == 1 && pc.attached == s, "resolved, it asks its pool once (%d)", pc.attach);
    CHECK(s->state == S_WAITCONN && s->mode == MODE_EXEC && s->conn == c && c->nsessions == 1,
          "it waits on the connection the pool gave it (state %d mode %d)", s->state, s->mode);
    CHECK(s->envall && s->envall[0] && !strcmp(s->envall[0], "LANG=C.UTF-8") && s->envall[1] &&
              !strcmp(s->envall[1], "FOO=bar") && !s->envall[2],
          "env requests: SendEnv's match, then SetEnv");
    CHECK(cl.n == 0, "nothing told yet: %s", told(&cl));
    int out = s->out.fd;
    session_conn_lost(s, "Connection to unit.invalid closed by remote host.");
    CHECK(s->state == S_DONE && !reap_released(&s->reap), "lost: done, not yet ended");
    session_finish(s);
    CHECK(!strcmp(told(&cl), "XF"), "EXIT then RELEASE: %s", told(&cl));
    CHECK(cl.notes[0].kind == EXIT_LOST && cl.notes[0].code == 255 &&
              !strcmp(cl.notes[0].text, "Connection to unit.invalid closed by remote host."),
          "EXIT_LOST 255 with ssh's words: %d %d '%s'", cl.notes[0].kind, cl.notes[0].code,
          cl.notes[0].text);
    CHECK(fcntl(out, F_GETFD) < 0 && errno == EBADF, "its fds are closed when it finishes");
    CHECK(pc.detach == 1 && c->nsessions == 0 && !c->sessions && !s->conn,
          "it left its connection through the pool (detach %d)", pc.detach);
    CHECK(reap_released(&s->reap) && session_freed_take() == 0, "released, not freed");
    CHECK(reap_run() == 1 && session_freed_take() == 1, "freed by the reap, once");
    free(c);
}

/* ssh -G fails: ERROR (fall back, ssh's own words) then RELEASE, counted once as handed to
 * ssh under the destination, never attached. */
static void test_resolve_fails(void)
{
    reset();
    struct client cl = {0};
    char *opts[] = {"-F", "/dev/null", "-o", "NoSuchOption=1", NULL};
    char err[256] = "", line[512];
    struct session *s = open_session(&cl, opts, "unit-bad.invalid", "true", 0, err, sizeof err);
    CHECK(s != NULL, "OPEN makes a session: %s", err);
    finish_jobs();
    CHECK(!strcmp(told(&cl), "EF"), "ERROR then RELEASE: %s", told(&cl));
    CHECK(cl.notes[0].code == ERR_FALLBACK && strstr(cl.notes[0].text, "nosuchoption"),
          "fall back with ssh's words: %d '%s'", cl.notes[0].code, cl.notes[0].text);
    CHECK(pc.attach == 0, "not attached");
    CHECK(stats_line("unit-bad.invalid:0", line, sizeof line) &&
              strstr(line, "served 0, handed to ssh 1 ("),
          "handed once: %s", stats_line("unit-bad.invalid:0", line, sizeof line));
    CHECK(reap_run() == 1 && session_freed_take() == 1, "freed by the reap, once");
}

/* What ssh says before the session (here: no pty without a terminal) and LocalCommand come
 * first, in order; a fatal reject then gives ERROR and RELEASE, and counts nothing. */
static void test_message_order(void)
{
    reset();
    struct client cl = {0};
    char *opts[] = {"-F", "/dev/null",
                    "-o", "RequestTTY=yes",
                    "-o", "PermitLocalCommand=yes",
                    "-o", "LocalCommand=echo %h",
                    NULL};
    char err[256] = "", line[512];
    struct session *s = open_session(&cl, opts, "unit-msg.invalid", "true", 0, err, sizeof err);
    CHECK(s != NULL, "OPEN makes a session: %s", err);
    finish_jobs();
    CHECK(pc.attach == 1 && !s->pty, "attached, with no pty");
    CHECK(cl.n >= 1 && cl.notes[0].ev == SEV_MESSAGE &&
              strstr(cl.notes[0].text, "Pseudo-terminal will not be allocated"),
          "MESSAGE: %s '%s'", told(&cl), cl.n ? cl.notes[0].text : "");
    int before = cl.n;
    CHECK(localcmd_pending(s) && localcmd_pending(s), "it waits for its LocalCommand");
    CHECK(cl.n == before + 1 && cl.notes[before].ev == SEV_LOCAL_COMMAND &&
              !strcmp(cl.notes[before].text, "echo unit-msg.invalid"),
          "LOCAL_COMMAND once, expanded: %s '%s'", told(&cl), cl.notes[before].text);
    session_reject(s, ERR_FATAL, "fatal for the test");
    CHECK(cl.n == before + 3 && cl.notes[before + 1].ev == SEV_ERROR &&
              cl.notes[before + 1].code == ERR_FATAL && cl.notes[before + 2].ev == SEV_RELEASE,
          "then ERROR (fatal) and RELEASE: %s", told(&cl));
    CHECK(!stats_line("unit-msg.invalid:22", line, sizeof line), "a fatal error counts nothing");
    CHECK(reap_run() == 1 && session_freed_take() == 1, "freed by the reap");
}

/* CONTROL: resolved, the owner answers (RESOLVED), then RELEASE; nothing counted. HANDED
 * (no owner): counted once as handed, under the resolved host, with its reason's head. */
static void test_control_handed(void)
{
    reset();
    struct client cl = {0};
    char *opts[] = {"-F", "/dev/null", NULL};
    struct proto_buf b = {0};
    struct proto_msg m;
    char err[256] = "", line[512];
    struct session *s = NULL;
    if (frame(&b, &m, MSG_CONTROL, "usslsl", (uint32_t)CTL_CHECK, SSH, "/", opts,
              "unit-ctl.invalid", env_plain) == 0)
        s = session_new(&m, NULL, CTL_CHECK, &pool_ops, err, sizeof err);
    proto_buf_free(&b);
    CHECK(s != NULL, "CONTROL makes a session: %s", err);
    if (s)
        session_set_owner(s, &owner_ops, &cl);
    finish_jobs();
    CHECK(!strcmp(told(&cl), "RF") && pc.attach == 0, "RESOLVED then RELEASE: %s", told(&cl));
    CHECK(!stats_line("unit-ctl.invalid:22", line, sizeof line), "a CONTROL counts nothing");
    CHECK(reap_run() == 1, "freed by the reap");

    s = NULL;
    if (frame(&b, &m, MSG_HANDED, "sslssl", SSH, "/", opts, "unit-handed.invalid",
              "ForwardX11: not served", env_plain) == 0)
        s = session_new(&m, NULL, SESSION_HANDED, &pool_ops, err, sizeof err);
    proto_buf_free(&b);
    CHECK(s != NULL, "HANDED makes a session: %s", err);
    finish_jobs();
    const char *l = stats_line("unit-handed.invalid:22", line, sizeof line);
    CHECK(l && strstr(l, ": served 0, handed to ssh 1 (ForwardX11: 1)"), "handed once: %s",
          l ? l : "(none)");
    CHECK(pc.attach == 0 && reap_run() == 1, "not attached; freed by the reap");
}

/* -N -f on a ready connection: STARTED (fork) once and counted served once however often
 * the pool says the connection is ready; the client gone, it ends with nothing more told. */
static void test_served_once(void)
{
    reset();
    struct client cl = {0};
    struct sshconn *c = conn_new(C_READY);
    pc.attach_to = c;
    char *opts[] = {"-F", "/dev/null", "-N", "-f", NULL};
    char err[256] = "", line[512];
    struct session *s = open_session(&cl, opts, "unit-n.invalid", "", 0, err, sizeof err);
    CHECK(s != NULL, "OPEN makes a session: %s", err);
    finish_jobs();
    CHECK(s->mode == MODE_NONE && s->conn == c, "-N: no session channel (mode %d)", s->mode);
    CHECK(session_unstarted(s) && session_retry(s) == 1 && session_retry(s) == 0,
          "unstarted, it may go to another connection once");
    CHECK(session_conn_ready(s) == 1 && session_conn_ready(s) == 1, "ready: it runs");
    CHECK(s->state == S_RUNNING && !session_unstarted(s), "running and started");
    CHECK(!strcmp(told(&cl), "S") && cl.notes[0].code == STARTED_FORK, "one STARTED (fork): %s",
          told(&cl));
    const char *l = stats_line("unit-n.invalid:22", line, sizeof line);
    CHECK(l && strstr(l, ": served 1, handed to ssh 0"), "served once: %s", l ? l : "(none)");
    CHECK(session_retry(s) == 0, "started: no other connection");
    session_client_gone(s);
    CHECK(session_client(s) == NULL && c->dirty && !reap_released(&s->reap),
          "client gone: the pump will end it");
    c->dirty = 0;
    CHECK(session_step(s) == 1 && s->state == S_DONE, "a -N session with no client is done");
    session_finish(s);
    CHECK(cl.n == 1, "nothing told once the client is gone: %s", told(&cl));
    CHECK(pc.detach == 1 && c->nsessions == 0, "it left its connection");
    CHECK(reap_run() == 1 && session_freed_take() == 1, "freed by the reap");
    free(c);
}

/* session_free is idempotent: a client still holding the session is told once (RELEASE),
 * the pool detaches it once, the reap frees it once; nothing acts on it afterwards. */
static void test_free_twice(void)
{
    reset();
    struct client cl = {0};
    struct sshconn *c;
    struct session *s = attached_session(&cl, C_CONNECTING, &c);
    CHECK(s && s->conn == c, "attached");
    session_free(s);
    session_free(s);
    CHECK(!strcmp(told(&cl), "F") && session_client(s) == NULL, "one RELEASE: %s", told(&cl));
    CHECK(pc.detach == 1 && c->nsessions == 0, "detached once (%d)", pc.detach);
    session_client_gone(s); /* its client going after that changes nothing */
    session_free(s);
    CHECK(pc.detach == 1 && cl.n == 1, "a released session does nothing more");
    CHECK(session_freed_take() == 0, "nothing freed before the reap");
    CHECK(reap_run() == 1 && session_freed_take() == 1, "freed by the reap, once");
    CHECK(reap_run() == 0, "and not again");
    free(c);
}

/* The client goes while its session waits: on a connection being made, the session leaves
 * it and is released at once; on a ready one, it is done and the connection is pumped. */
static void test_client_gone_waiting(void)
{
    reset();
    struct client cl = {0};
    struct sshconn *c;
    struct session *s = attached_session(&cl, C_CONNECTING, &c);
    session_client_gone(s);
    CHECK(pc.detach == 1 && c->nsessions == 0 && reap_released(&s->reap),
          "waiting on a connection being made: detached and released");
    CHECK(cl.n == 0, "a gone client is told nothing: %s", told(&cl));
    CHECK(reap_run() == 1, "freed by the reap");

    free(c);
    reset();
    memset(&cl, 0, sizeof cl);
    s = attached_session(&cl, C_READY, &c);
    c->dirty = 0;
    session_client_gone(s);
    CHECK(s->state == S_DONE && c->dirty && pc.detach == 0 && !reap_released(&s->reap),
          "waiting on a ready connection: done, left to the pump");
    session_free(s);
    CHECK(reap_run() == 1 && cl.n == 0, "freed by the reap, nothing told");
    free(c);
}

/* The client that answers a connection's questions: the oldest client of its waiting
 * sessions that can be asked, or through a tunnel the connection carries, such a client of
 * the carried connection. */
static int can_ask(void *client)
{
    return ((struct client *)client)->askable;
}

/* A hand-built session of cl (NULL: a tunnel carrying carries) joining c at the head. */
static struct session *member(struct sshconn *c, struct client *cl, struct sshconn *carries)
{
    struct session *s = calloc(1, sizeof *s);
    s->pool_ops = &pool_ops;
    s->in.fd = s->out.fd = s->err.fd = -1;
    s->in.saved_flags = s->out.saved_flags = s->err.saved_flags = -1;
    s->exit_kind = -1;
    s->state = S_WAITCONN;
    s->tunnel_for = carries;
    session_set_owner(s, &owner_ops, carries ? (void *)carries : (void *)cl);
    session_link(s, c, 0);
    return s;
}

static void test_asker(void)
{
    reset();
    struct sshconn *jump = conn_new(C_CONNECTING), *dest = conn_new(C_CONNECTING);
    struct client a = {.askable = 0}, b = {.askable = 1}, cc = {.askable = 1}, d = {.askable = 1};
    struct session *all[5];
    all[0] = member(dest, &a, NULL); /* oldest, cannot be asked */
    all[1] = member(dest, &b, NULL);
    all[2] = member(dest, &cc, NULL); /* newest */
    CHECK(session_asker(dest, can_ask) == &b, "the oldest client that can be asked");
    b.askable = 0;
    CHECK(session_asker(dest, can_ask) == &cc, "else the next oldest");
    a.askable = cc.askable = 0;
    CHECK(session_asker(dest, can_ask) == NULL, "none when none can be asked");
    a.askable = b.askable = 1;
    struct session *t = all[3] = member(jump, NULL, dest); /* older than d */
    all[4] = member(jump, &d, NULL);
    CHECK(session_client(t) == NULL, "a tunnel has no client");
    CHECK(session_asker(jump, can_ask) == &a, "through the older tunnel: its connection's client");
    a.askable = b.askable = 0;
    CHECK(session_asker(jump, can_ask) == &d, "else the jump connection's own client");
    session_carried_gone(t); /* as pool/ does when dest goes: t tells dest nothing more */
    for (int i = 0; i < 5; i++)
        session_free(all[i]);
    CHECK(!jump->sessions && !dest->sessions && pc.detach == 5, "all five left their connections");
    CHECK(reap_run() == 5, "and are freed at the reap");
    free(jump);
    free(dest);
}

/* A jump host's tunnel reports to the connection it carries (its owner, not a client). */
static struct client carried_told;
static struct sshconn *carried;

static int carried_tell(void *owner, struct session *s, const struct session_note *n)
{
    CHECK(owner == carried, "the tunnel tells the connection it carries");
    return owner_tell(&carried_told, s, n);
}

static const struct session_owner_ops carried_ops = {.tell = carried_tell};

/* A tunnel through jump to dest.invalid:2222 for carried (socketpair end sp[0]). */
static struct session *tunnel(void)
{
    struct session origin = {.real_ssh = SSH, .cwd = "/", .env = env_plain, .pool_ops = &pool_ops};
    char *opts[] = {"-F", "/dev/null", NULL}, err[256] = "";
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return NULL;
    close(sp[1]);
    struct session *s =
        session_new_tunnel(&origin, proto_strv_dup(opts), "unit-jump.invalid", "dest.invalid", 2222,
                           sp[0], carried, &carried_ops, err, sizeof err);
    CHECK(s != NULL, "a tunnel: %s", err);
    finish_jobs();
    return s;
}

/* A tunnel freed before it carried anything fails its connection at the reap (ERROR fatal,
 * then RELEASE); rejected, it fails it with the reason; once the carried connection is gone
 * (session_carried_gone), it tells nothing. No tunnel counts as served or handed. */
static void test_tunnel(void)
{
    reset();
    struct sshconn *jump = conn_new(C_READY);
    carried = conn_new(C_CONNECTING);
    pc.attach_to = jump;
    struct session *s = tunnel();
    if (!s)
        return;
    CHECK(pc.attach == 1 && s->conn == jump && s->mode == MODE_TCPIP && s->fwd_port == 2222 &&
              !strcmp(s->fwd_host, "dest.invalid"),
          "resolved: a direct-tcpip channel to dest.invalid:2222 on the jump connection");
    CHECK(session_client(s) == NULL, "no client");
    CHECK(session_conn_ready(s) == 1 && s->state == S_OPENING, "it opens its own channel");
    session_free(s);
    CHECK(carried_told.n == 0 && pc.detach == 1, "released: nothing told before the reap");
    CHECK(reap_run() == 1, "freed by the reap");
    CHECK(!strcmp(told(&carried_told), "EF") && carried_told.notes[0].code == ERR_FATAL &&
              !strcmp(carried_told.notes[0].text, "the jump host's connection ended"),
          "the carried connection fails: %s '%s'", told(&carried_told), carried_told.notes[0].text);

    memset(&carried_told, 0, sizeof carried_told);
    s = tunnel();
    session_reject(s, ERR_FALLBACK, "no route to the jump host");
    CHECK(!strcmp(told(&carried_told), "EF") && carried_told.notes[0].code == ERR_FALLBACK &&
              !strcmp(carried_told.notes[0].text, "no route to the jump host"),
          "rejected: the carried connection falls back: %s", told(&carried_told));
    CHECK(reap_run() == 1 && carried_told.n == 2, "freed, told nothing more");

    memset(&carried_told, 0, sizeof carried_told);
    s = tunnel();
    session_carried_gone(s);
    session_free(s);
    CHECK(reap_run() == 1 && carried_told.n == 0, "carried connection gone: nothing told");
    char line[512];
    CHECK(!stats_line("dest.invalid:2222", line, sizeof line) &&
              !stats_line("unit-jump.invalid:22", line, sizeof line),
          "tunnels count nothing");
    free(jump);
    free(carried);
}

/* A bad OPEN: no session, err says why; what was made of it, its fds too (owned even on
 * failure), freed at the reap. */
static void test_bad_open(void)
{
    reset();
    struct client cl = {0};
    char *opts[] = {"-F", "/dev/null", NULL}, err[256] = "";
    struct proto_buf b = {0};
    struct proto_msg m;
    int fds[3];
    three_fds(fds);
    struct session *s = NULL;
    if (frame(&b, &m, MSG_OPEN, "sslsslu", "ssh", "/", opts, "unit.invalid", "true", env_plain,
              (uint32_t)0) == 0)
        s = session_new(&m, fds, 0, &pool_ops, err, sizeof err);
    proto_buf_free(&b);
    CHECK(s == NULL && strstr(err, "absolute ssh path"), "relative ssh: %s", err);
    s = open_session(&cl, opts, "unit.invalid", "nohost", OPEN_STDIO_FWD, err, sizeof err);
    CHECK(s == NULL && strstr(err, "bad -W argument \"nohost\""), "bad -W: %s", err);
    CHECK(reap_run() == 2 && session_freed_take() == 2 && pc.attach == 0 && cl.n == 0,
          "both freed at the reap, nothing told");
    CHECK(fcntl(fds[0], F_GETFD) < 0 && fcntl(fds[2], F_GETFD) < 0, "its fds are closed");
}

/* libssh2's one pending send (halfsent.h): an EAGAIN counts only when it left a packet half
 * sent (the session is blocked sending), and then the connection waits to write. */
static void test_halfsent(void)
{
    struct sshconn *c = conn_new(C_CONNECTING);
    int full[2], empty[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, full) == 0 &&
              socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, empty) == 0,
          "socketpairs");
    char junk[4096] = {0};
    while (write(full[0], junk, sizeof junk) > 0) /* nobody reads full[1]: its queue fills */
        ;
    LIBSSH2_SESSION *in = libssh2_session_init(), *out = libssh2_session_init();
    libssh2_session_set_blocking(in, 0);
    libssh2_session_set_blocking(out, 0);
    int rin = libssh2_session_handshake(in, empty[0]);  /* banner sent, waits for the server's */
    int rout = libssh2_session_handshake(out, full[0]); /* cannot send its banner */
    CHECK(rin == LIBSSH2_ERROR_EAGAIN && rout == LIBSSH2_ERROR_EAGAIN, "both wait (%d %d)", rin,
          rout);
    c->ssh = in;
    CHECK(halfsent_eagain(c, rin) == 0 && !c->want_write, "an EAGAIN on reading: not half sent");
    c->ssh = out;
    CHECK(halfsent_eagain(c, LIBSSH2_ERROR_SOCKET_SEND) == 0 && !c->want_write,
          "another error: not half sent");
    CHECK(halfsent_eagain(c, rout) == 1 && c->want_write, "an EAGAIN on sending: half sent");
    CHECK(!halfsent_held(c), "no mark, nothing held");
    struct session s0 = {0};
    c->blocked = &s0;
    CHECK(halfsent_held(c), "a session's mark holds the connection");
    c->blocked = NULL;
    c->spare_blocked = 2;
    CHECK(halfsent_held(c), "a spare's mark holds it");
    c->spare_blocked = 0;
    c->inchan_blocked = (struct inchan *)&s0;
    CHECK(halfsent_held(c), "an incoming channel's mark holds it");
    libssh2_session_free(in);
    libssh2_session_free(out);
    for (int i = 0; i < 2; i++) {
        close(full[i]);
        close(empty[i]);
    }
    free(c);
}

/* No argument: every case; else only the one named. */
int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {{"open_lost", test_open_lost},
                 {"resolve_fails", test_resolve_fails},
                 {"message_order", test_message_order},
                 {"control_handed", test_control_handed},
                 {"served_once", test_served_once},
                 {"free_twice", test_free_twice},
                 {"client_gone", test_client_gone_waiting},
                 {"asker", test_asker},
                 {"tunnel", test_tunnel},
                 {"bad_open", test_bad_open},
                 {"halfsent", test_halfsent}};
    if (jobs_init() < 0 || libssh2_init(0) != 0) {
        printf("session: cannot start\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (argc < 2 || !strcmp(argv[1], cases[i].name))
            cases[i].fn();
    printf("session: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
