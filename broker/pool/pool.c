/* The pool: shared connections by authority and their life cycle (making, attaching
 * sessions, failing, killing, expiring). Pumping them is sweep.c, remembered hand-overs
 * sticky.c. */
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept.h"
#include "agentfwd.h"
#include "inchan.h"
#include "rfwd.h"
#include "alive.h"
#include "auth.h"
#include "clock.h"
#include "engine.h"
#include "envreq.h"
#include "fatal.h"
#include "fingerprint.h"
#include "fwdheld.h"
#include "hostkey.h"
#include "jobs.h"
#include "jump.h"
#include "localcmd.h"
#include "log.h"
#include "pool_int.h"
#include "proto.h"
#include "proxy.h"
#include "reap.h"
#include "runtime.h"
#include "session.h"
#include "spare.h"
#include "words.h"
#include "x11fwd.h"

/* Every connection, the newest first: linked by pool_link, unlinked by free_conn only. */
static struct sshconn *conns;

struct sshconn *pool_first(void)
{
    return conns;
}

void pool_link(struct sshconn *c)
{
    c->next = conns;
    conns = c;
}

int pool_channels(const struct sshconn *c)
{
    int n = 0;
    for (const struct session *s = c->sessions; s; s = s->next)
        if (s->state >= S_SETENV && s->state <= S_CLOSING && s->mode != MODE_NONE &&
            s->mode != MODE_TCPIP)
            n++;
    return n;
}

void pool_channel_freed(struct sshconn *c)
{
    c->chan_freed_ms = clock_ms(CLOCK_MONOTONIC);
}

static int has_room(const struct sshconn *c)
{
    return !c->draining && !c->suspect && c->state != C_DEAD &&
           (c->max_sessions == 0 || c->nsessions < c->max_sessions);
}

/* s joins c; made: c is being made for it. */
static void link_session(struct sshconn *c, struct session *s, int made)
{
    session_link(s, c, made);
    c->idle_since = 0;
    c->dirty = 1;
}

static reap_free_fn free_conn;
static void release_conn(struct sshconn *c);
static const struct session_owner_ops tunnel_owner;

/* The server's auth banner (engine.h), as ssh's own login would print it for s. */
static void show_banner(const struct sshconn *c, struct session *s)
{
    if (c->facts.banner[0] && session_client(s) && s->cfg && s->cfg->loglevel >= 3)
        session_say(s, c->facts.banner);
}

/* The tunnel through the last jump host that will carry c's SSH connection. */
static int start_tunnel(struct sshconn *c, struct session *s)
{
    char **opts = NULL, dest[HC_STR], err[512];
    int sp[2];
    if (jump_hop(s->cfg->proxyjump, s->opts, &opts, dest, sizeof dest, err, sizeof err) < 0) {
        blog("%s", err);
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        proto_strv_free(opts);
        blog("socketpair: %s", strerror(errno));
        return -1;
    }
    c->pending_job->sock = sp[1];
    c->tunnel = session_new_tunnel(s, opts, dest, s->cfg->hostname, s->cfg->port, sp[0], c,
                                   &tunnel_owner, err, sizeof err);
    if (!c->tunnel) {
        blog("no tunnel to %s through %s: %s", s->cfg->hostname, dest, err);
        return -1;
    }
    blog("connecting to %s port %d through %s", s->cfg->hostname, s->cfg->port, dest);
    return 0;
}

static struct sshconn *conn_new(struct session *s)
{
    struct sshconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    memcpy(c->cfg.hostname, s->cfg->hostname, sizeof c->cfg.hostname);
    memcpy(c->cfg.user, s->cfg->user, sizeof c->cfg.user);
    c->cfg.port = s->cfg->port;
    c->cfg.serveraliveinterval = s->cfg->serveraliveinterval;
    c->cfg.serveralivecountmax = s->cfg->serveralivecountmax;
    memcpy(c->token, s->cfg->token, sizeof c->token);
    const char *agent = words_env(s->env, "SSH_AUTH_SOCK");
    snprintf(c->agent_sock, sizeof c->agent_sock, "%s", agent ? agent : "");
    accept_fwd_agent(s->cfg, s->env, c->facts.fwd_agent, sizeof c->facts.fwd_agent);
    c->sock = -1;
    c->state = C_CONNECTING;
    c->persist = s->cfg->controlpersist >= 0 ? s->cfg->controlpersist : runtime_persist_default();
    struct connect_job *j = pool_connect_job_new(c, s);
    if (!j) {
        free(c);
        return NULL;
    }
    if (s->cfg->proxyjump[0]) {
        /* Through a jump host: the job starts once the tunnel's channel is open. */
        c->pending_job = j;
    } else if (pool_connect_job_start(j) < 0) {
        pool_connect_job_free(j);
        free(c);
        return NULL;
    }
    pool_link(c);
    if (c->pending_job && start_tunnel(c, s) < 0) {
        release_conn(c);
        return NULL;
    }
    blog("connecting to %s@%s port %d", c->cfg.user, c->cfg.hostname, c->cfg.port);
    return c;
}

/* Whether s may use the ready connection c of its authority (accept.h); a new host key
 * its policy lets in is added to its known_hosts, as ssh would. */
static int accepts(const struct sshconn *c, struct session *s)
{
    char why[512];
    int learn = 0;
    if (!conn_accepts(&c->facts, s->cfg, s->known, s->env, &learn, why, sizeof why)) {
        if (s->cfg->loglevel >= 5)
            blog("not sharing the connection to %s: %s", c->cfg.hostname, why);
        return 0;
    }
    session_hostkey_known(s, learn == 0); /* as ssh's HOST_OK: VisualHostKey shows it */
    if (learn == 1) {
        /* Added by a worker (the file is locked and read first); said now, as ssh says it
         * before the session, from whether the resolve job found the file writable. */
        char name[HC_STR + 16], msg[HC_STR + 600];
        hostkey_lookup_name(s->cfg, name, sizeof name);
        if (s->known && s->known->kh_writable) {
            pool_learn(s->cfg->userknownhostsfile[0], name, c->facts.hostkey, c->facts.hostkey_len,
                       s->cfg->hashknownhosts);
            fp_added_line(name, c->facts.hostkey, c->facts.hostkey_len, msg, sizeof msg);
        } else {
            snprintf(msg, sizeof msg,
                     "Failed to add the host to the list of known hosts (%.500s).\r\n",
                     s->cfg->userknownhostsfile[0]);
        }
        if (session_client(s) && s->cfg->loglevel >= 3)
            session_say(s, msg);
    }
    return 1;
}

void pool_attach(struct session *s)
{
    const char *why = pool_remembered(s);
    if (why) {
        session_reject(s, ERR_FALLBACK, why);
        return;
    }
    struct sshconn *wait = NULL;
    if (jobs_stopped()) {
        session_reject(s, ERR_FALLBACK, "the broker is stopping");
        return;
    }
    for (struct sshconn *c = conns; c; c = c->next) {
        if (strcmp(c->token, s->cfg->token) || !has_room(c))
            continue;
        if (c->state == C_READY) {
            if (!accepts(c, s))
                continue;
            link_session(c, s, 0);
            pool_say_kex(c, s);
            show_banner(c, s);
            if (!alive_fresh(c))
                alive_probe(c); /* idle a while (or the machine slept): ask first */
            return;
        }
        if (!wait)
            wait = c;
    }
    /* A connection still being made: wait for it, and see once it is up (pool_connected). */
    int made = 0;
    if (!wait && (wait = conn_new(s)) != NULL)
        made = 1;
    if (!wait) {
        session_reject(s, ERR_FALLBACK, "cannot start a connection");
        return;
    }
    link_session(wait, s, made);
}

void pool_unlink_session(struct sshconn *c, struct session *s)
{
    session_unlink(s);
    if (c->nsessions == 0)
        c->idle_since = time(NULL);
}

void pool_detach(struct session *s)
{
    if (s->conn)
        pool_unlink_session(s->conn, s);
}

/* Sessions waiting on c that c cannot serve go elsewhere: to another connection when c is
 * full or suspect, to the real ssh when the server takes no session channel at all. */
void pool_move_waiting(struct sshconn *c)
{
    int refused = c->spare_refused;
    int full = c->suspect || c->draining ||
               (c->max_sessions && pool_channels(c) >= c->max_sessions && !spare_count(c));
    if (!refused && !full)
        return;
    struct session *s = c->sessions;
    while (s) {
        struct session *next = s->next;
        if (s->state == S_WAITCONN && s->mode != MODE_NONE && s->mode != MODE_TCPIP &&
            session_client(s)) {
            pool_unlink_session(c, s);
            if (refused)
                session_reject(s, ERR_FALLBACK, "the server refused the session channel");
            else
                pool_attach(s);
        }
        s = next;
    }
}

/* Free a released connection (reap.h). */
static void free_conn(struct reap_node *r)
{
    struct sshconn *c = REAP_OBJ(r, struct sshconn, reap);
    if (c->pending_job) {
        pool_connect_job_free(c->pending_job);
        c->pending_job = NULL;
    }
    if (c->tunnel) {
        session_carried_gone(c->tunnel); /* it ends when our end of its socket closes below */
        c->tunnel = NULL;
    }
    for (struct sshconn **pp = &conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pool_kem_drop(c);
    spare_drop(c);
    inchan_drop(c);
    rfwd_drop(c);
    pool_fwd_drop(c);
    envreq_free(c->env_hint);
    if (c->ssh && !c->dead_link) {
        /* The goodbye in a worker, the proxy command's SIGHUP after it: the loop never
         * waits on the server. */
        pool_close_ssh(c->ssh, c->sock, c->proxy, "disconnected by muxshim");
    } else {
        if (c->ssh)
            conn_close(c->ssh, c->sock, NULL); /* cuts the socket first: does not wait */
        else if (c->sock >= 0)
            close(c->sock);
        proxy_release(c->proxy); /* SIGHUP, as ssh ends its proxy command */
    }
    free(c);
}

/* c goes: out of every search now (C_DEAD), released (reap.h) and freed at the end of the
 * loop turn. A tunnel that carries it no longer reports to it. */
static void release_conn(struct sshconn *c)
{
    c->state = C_DEAD;
    reap_release(&c->reap, free_conn);
    if (c->tunnel) {
        session_carried_gone(c->tunnel);
        c->tunnel = NULL;
    }
}

void pool_kill(struct sshconn *c, const char *msg)
{
    if (c->state == C_DEAD)
        return;
    blog("connection to %s ends: %s", c->cfg.hostname, msg);
    c->state = C_DEAD;
    c->dirty = 1;
    spare_drop(c);
    pool_fwd_drop(c); /* its held forwards' ports close with it, as with a master's exit */
    struct session *s = c->sessions;
    while (s) {
        struct session *next = s->next;
        char words[512];
        if (session_retry(s)) { /* nothing of the client's consumed: another connection */
            pool_unlink_session(c, s);
            pool_attach(s);
        } else if (c->lost_rc &&
                   fatal_words(c->ssh, c->lost_rc, FATAL_CORRUPT, c->sock, 1, c->cfg.hostname,
                               s->cfg ? s->cfg->loglevel : 3, words, sizeof words)) {
            session_conn_lost(s, words); /* a corrupted stream: ssh's words for it */
        } else {
            session_conn_lost(s, msg);
        }
        s = next;
    }
}

void pool_lost(struct sshconn *c)
{
    pool_broken(c, 0);
}

void pool_broken(struct sshconn *c, int rc)
{
    char msg[HC_STR + 64], words[512];
    snprintf(msg, sizeof msg, "Connection to %s closed by remote host.", c->cfg.hostname);
    c->dead_link = 1;
    c->lost_rc = rc = fatal_code(c->ssh, rc);
    if (fatal_words(c->ssh, rc, FATAL_CORRUPT, c->sock, 1, c->cfg.hostname, 3, words, sizeof words))
        blog("connection to %s is corrupted: %s", c->cfg.hostname, words);
    pool_kill(c, msg);
}

/* c could not be made: every waiting session gets the same answer, ssh's own error or
 * the real ssh; then c goes. */
static void conn_failed(struct sshconn *c, enum conn_status st, const char *err)
{
    blog("connection to %s@%s port %d failed: %s", c->cfg.user, c->cfg.hostname, c->cfg.port, err);
    c->state = C_DEAD;
    struct session *s = c->sessions;
    while (s) {
        struct session *next = s->next;
        pool_unlink_session(c, s);
        session_reject(s, st == CONN_FATAL ? ERR_FATAL : ERR_FALLBACK, err);
        s = next;
    }
    release_conn(c);
}

void pool_tunnel_done(struct sshconn *c, enum conn_status st, const char *err)
{
    struct connect_job *j = c->pending_job;
    if (!j || reap_released(&c->reap))
        return;
    c->pending_job = NULL;
    if (st == CONN_OK && pool_connect_job_start(j) == 0)
        return;
    pool_connect_job_free(j);
    if (c->state == C_CONNECTING)
        conn_failed(c, st == CONN_OK ? CONN_FALLBACK : st,
                    st == CONN_OK ? "cannot start a worker thread" : err);
}

/* c is up: sessions that waited for it without having made it go elsewhere unless they
 * accept it (another key, host key policy or algorithm list than its maker's). */
static void check_waiting(struct sshconn *c)
{
    struct session *s = c->sessions;
    while (s) {
        struct session *next = s->next;
        if (s->state == S_WAITCONN && !s->made_conn && s->cfg && !accepts(c, s)) {
            pool_unlink_session(c, s);
            pool_attach(s);
        }
        s = next;
    }
}

void pool_connected(struct connect_job *j)
{
    struct sshconn *c = j->conn;
    if (j->status == CONN_OK) {
        c->ssh = j->res.session;
        c->sock = j->res.sock;
        char fwd[sizeof c->facts.fwd_agent]; /* what its first session forwards (conn_new) */
        memcpy(fwd, c->facts.fwd_agent, sizeof fwd);
        c->facts = j->res.facts;
        memcpy(c->facts.fwd_agent, fwd, sizeof fwd);
        c->proxy = j->res.proxy; /* a ProxyCommand lives as long as its connection */
        j->res.proxy = NULL;
        libssh2_session_set_blocking(c->ssh, 0);
        engine_kem_wait(c->ssh, 1); /* rekeys take pairs a worker made (kex.c) */
        alive_init(c);
        agentfwd_init(c);
        x11fwd_init(c);
        c->state = C_READY;
        c->dirty = 1;
        blog("connected to %s@%s port %d", c->cfg.user, c->cfg.hostname, c->cfg.port);
        for (struct session *s = c->sessions; s; s = s->next)
            if (s->made_conn)
                session_hostkey_known(s, c->facts.hk_known);
        check_waiting(c);
        pool_kem_ahead(c);
        for (struct session *s = c->sessions; s; s = s->next)
            if (!s->made_conn || !c->facts.kex_said) /* (said before the login: conn.c) */
                pool_say_kex(c, s);
        for (struct session *s = c->sessions; s; s = s->next)
            if (!s->made_conn || !c->facts.banner_said)
                show_banner(c, s);
        return;
    }
    if (j->res.sticky)
        pool_remember_fallback(c->token, j->res.err, j->res.gssapi);
    conn_failed(c, j->status, j->res.err);
}

void pool_tick(time_t now)
{
    struct sshconn *c = conns;
    while (c) {
        struct sshconn *next = c->next;
        if (c->state == C_DEAD) {
            pool_sweep(c);
            if (!c->sessions && !reap_released(&c->reap))
                release_conn(c);
        } else if (c->state == C_READY) {
            spare_tick(c, now);
            switch (alive_tick(c)) {
            case ALIVE_DEAD: {
                char msg[HC_STR + 64];
                snprintf(msg, sizeof msg, "Timeout, server %s not responding.", c->cfg.hostname);
                c->dead_link = 1;
                pool_kill(c, msg);
                break;
            }
            case ALIVE_SUSPECT:
                if (!c->suspect)
                    blog("%s did not answer a probe: new sessions get a new connection",
                         c->cfg.hostname);
                c->suspect = 1;
                c->dead_link = 1;
                c->probe_at = 0;
                c->dirty = 1;
                break;
            default:
                break;
            }
            if (c->state == C_READY && c->nsessions == 0 && c->idle_since &&
                ((c->persist > 0 && now - c->idle_since >= c->persist) || c->draining ||
                 c->suspect)) {
                blog("closing idle connection to %s", c->cfg.hostname);
                release_conn(c);
            }
        }
        c = next;
    }
}

void pool_wake(struct sshconn *c)
{
    c->dirty = 1;
}

void pool_drain(struct sshconn *c)
{
    c->draining = 1;
}

int pool_find(const char *token, struct sshconn **out, int max)
{
    int n = 0;
    for (struct sshconn *c = conns; c && n < max; c = c->next)
        if (c->state == C_READY && !strcmp(c->token, token))
            out[n++] = c;
    return n;
}

void pool_shutdown(void)
{
    /* Released only: the caller's reap frees them (loop_reap). Ending one may not make
     * another (pool_attach turns sessions away once the loop has ended), but go round
     * until none is left to end in case it does. */
    for (int more = 1; more;) {
        more = 0;
        for (struct sshconn *c = conns; c; c = c->next) {
            if (reap_released(&c->reap))
                continue;
            pool_kill(c, "muxshim broker stopped");
            pool_sweep(c);
            release_conn(c);
            more = 1;
        }
    }
}

/* The connection's side of its tunnel's interface (session.h): the tunnel being open starts
 * the connect job; its failure or end before that fails the connection. */
static int tunnel_tell(void *owner, struct session *s, const struct session_note *n)
{
    struct sshconn *c = owner;
    switch (n->ev) {
    case SEV_STARTED:
        pool_tunnel_done(c, CONN_OK, "");
        return 1;
    case SEV_ERROR:
        pool_tunnel_done(c, n->code == ERR_FATAL ? CONN_FATAL : CONN_FALLBACK, n->text);
        return 0;
    case SEV_RELEASE:
        if (c->tunnel == s)
            c->tunnel = NULL;
        return 0;
    default:
        return 0;
    }
}

static const struct session_owner_ops tunnel_owner = {.tell = tunnel_tell};

const struct session_pool_ops pool_session_ops = {
    .attach = pool_attach,
    .detach = pool_detach,
    .broken = pool_broken,
    .channel_freed = pool_channel_freed,
};
