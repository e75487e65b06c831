/* -O check|stop|exit and the status table. */
#include "control.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ctlpath.h"
#include "doctor.h"
#include "engine.h"
#include "fwdheld.h"
#include "loop.h"
#include "peer.h"
#include "pool.h"
#include "proto.h"
#include "rfwd.h"
#include "route.h"
#include "session.h"
#include "sshconfig.h"
#include "stats.h"

/* An -O forward whose remote forwards wait for the server's answers (rfwd_held_add): its
 * client's reply goes once all came, as a master's mux_client_forward reads each in turn. */
struct ctl_wait {
    struct peer *p;  /* NULL once the client left */
    int left;        /* answers still to come (and 1 while they are being asked) */
    int failed;
    int loglevel;
    char out[1024];  /* ssh -O forward's stdout: each port the server allocated */
    char text[4096]; /* its stderr */
    struct ctl_wait *next;
};
static struct ctl_wait *waits;

static void say(char *msg, size_t cap, const char *line)
{
    size_t n = strlen(msg);
    snprintf(msg + n, cap - n, "%s\r\n", line);
}

/* All of w's answers came: its client hears them (stdout first, then the reply). */
static void wait_end(struct ctl_wait *w)
{
    for (struct ctl_wait **pp = &waits; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    if (w->p) {
        if (w->failed && w->loglevel >= 1)
            say(w->text, sizeof w->text, "muxclient: master forward request failed");
        if (w->out[0])
            peer_send_ctl_out(w->p, w->out);
        w->p->waits--; /* (not before: the client would be closed once CONTROL_OUT left) */
        peer_send_ctl_reply(w->p, w->failed ? CTLR_ERROR : CTLR_OK, w->text);
    }
    free(w);
}

/* One remote forward's answer (rfwd.h): mux_client_forward's words for it. */
static void answered(void *arg, const struct rfwd_answer *a)
{
    struct ctl_wait *w = arg;
    char line[1300];
    if (a->bound < 0) {
        w->failed = 1;
        snprintf(line, sizeof line,
                 "mux_client_forward: forwarding request failed: remote port forwarding failed "
                 "for listen port %d",
                 a->want_port);
        if (w->loglevel >= 2)
            say(w->text, sizeof w->text, line);
    } else if (a->want_port == 0) {
        size_t n = strlen(w->out);
        snprintf(w->out + n, sizeof w->out - n, "%d\n", a->bound);
        snprintf(line, sizeof line, "Allocated port %d for remote forward to %s:%d", a->bound,
                 a->shown, a->target_port);
        if (w->loglevel >= 4)
            say(w->text, sizeof w->text, line);
    }
    if (--w->left == 0)
        wait_end(w);
}

void control_peer_gone(struct peer *p)
{
    for (struct ctl_wait *w = waits; w; w = w->next)
        if (w->p == p)
            w->p = NULL;
}

/* Whether cfg has a dynamic remote forward (-R PORT: its target "[socks]:0"). */
static int dynamic_remote(const struct hostcfg *cfg)
{
    for (const char *l = cfg->rforwards, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1)
        if (nl - l > 10 && !strncmp(nl - 10, " [socks]:0", 10))
            return 1;
    return 0;
}

/* -O cancel: local and dynamic forwards, then remote ones, as mux_client_forwards goes. */
static void cancel(struct peer *p, const struct session *s, struct sshconn *c)
{
    char text[4096];
    int failed = pool_fwd_cancel(c, s->cfg, s->cwd, text, sizeof text) < 0;
    for (const char *l = s->cfg->rforwards, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1) {
        char line[1200];
        snprintf(line, sizeof line, "%.*s", (int)(nl - l), l);
        if (rfwd_held_cancel(c, line) == 0)
            continue;
        failed = 1;
        if (s->cfg->loglevel >= 2)
            say(text, sizeof text,
                "mux_client_forward: forwarding request failed: port not forwarded");
    }
    if (failed && s->cfg->loglevel >= 2)
        say(text, sizeof text, "muxclient: master cancel forward request failed");
    peer_send_ctl_reply(p, CTLR_OK, text); /* ssh -O cancel exits 0 whatever it says */
}

/* -O forward and -O cancel, for the first connection of the host, as an OpenSSH master holds
 * them for its one connection: local and dynamic forwards bound here (fwdheld.h), remote ones
 * asked of the server (rfwd.h), whose answers the reply waits for. A dynamic remote forward
 * (the broker would be a SOCKS server) is not served: said. */
static void forward(struct peer *p, const struct session *s, struct sshconn *c)
{
    if (dynamic_remote(s->cfg)) {
        peer_send_ctl_reply(p, CTLR_ERROR,
                            "muxshim: dynamic remote forwards (-R PORT) are not served by -O "
                            "forward or -O cancel here\r\n");
        return;
    }
    if (s->ctl_op == CTL_CANCEL) {
        cancel(p, s, c);
        return;
    }
    struct ctl_wait *w = calloc(1, sizeof *w);
    if (!w) {
        peer_send_ctl_reply(p, CTLR_ERROR, "muxshim: out of memory\r\n");
        return;
    }
    w->p = p;
    w->left = 1;
    w->loglevel = s->cfg->loglevel;
    w->next = waits;
    waits = w;
    p->waits++;
    w->failed = pool_fwd_add(c, s->cfg, s->cwd, w->text, sizeof w->text) < 0;
    for (const char *l = s->cfg->rforwards, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1) {
        char line[1200];
        snprintf(line, sizeof line, "%.*s", (int)(nl - l), l);
        w->left++;
        if (rfwd_held_add(c, line, s->cfg->permitremoteopen, s->cwd, answered, w) < 0) {
            w->left--;
            w->failed = 1; /* a line ssh -G would not print, or a request still in flight */
        }
    }
    if (--w->left == 0)
        wait_end(w);
}

void control_resolved(struct peer *p, const struct session *s)
{
    struct sshconn *found[64];
    int n = pool_find(s->cfg->token, found, 64);
    char text[4096];
    if (s->ctl_op == CTL_DOCTOR) {
        int served = doctor_report(s, text, sizeof text);
        peer_send_ctl_reply(p, served ? CTLR_OK : CTLR_NOT_FOUND, text);
    } else if (n == 0 || ctlpath_live_master(s->cfg)) {
        /* Nothing of ours, or an OpenSSH master on the caller's own ControlPath holds it:
         * muxssh asks the real ssh, which answers as it would without the shim. */
        peer_send_ctl_reply(p, CTLR_NOT_FOUND, "");
    } else if (s->ctl_op == CTL_FORWARD || s->ctl_op == CTL_CANCEL) {
        forward(p, s, found[0]);
    } else if (s->ctl_op == CTL_CHECK) {
        /* OpenSSH's wording, with the broker as the master. */
        snprintf(text, sizeof text, "Master running (pid=%d)\r\n", (int)getpid());
        peer_send_ctl_reply(p, CTLR_OK, text);
    } else if (s->ctl_op == CTL_STOP) {
        for (int i = 0; i < n; i++)
            pool_drain(found[i]);
        peer_send_ctl_reply(p, CTLR_OK, "Stop listening request sent.\r\n");
    } else {
        for (int i = 0; i < n; i++) {
            pool_drain(found[i]);
            pool_lost(found[i]);
        }
        peer_send_ctl_reply(p, CTLR_OK, "Exit request sent.\r\n");
    }
}

/* cpu_ms: user and system time of WHO (RUSAGE_SELF or RUSAGE_CHILDREN) in ms */
static double cpu_ms(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static const char *state_name(const struct sshconn *c)
{
    if (c->state == C_CONNECTING)
        return "connecting";
    if (c->state == C_DEAD)
        return "dead";
    return c->draining ? "stopped" : "ready";
}

/* One direction pair as "cs" or "cs/sc"; an AEAD cipher's MAC (libssh2's INTEGRATED-…) as
 * ssh names it. */
static void pair_text(const char *cs, const char *sc, int mac, char *out, size_t cap)
{
    if (mac && !strncmp(cs, "INTEGRATED", 10))
        cs = "<implicit>";
    if (mac && !strncmp(sc, "INTEGRATED", 10))
        sc = "<implicit>";
    snprintf(out, cap, "%s%s%s", cs[0] ? cs : "-", strcmp(cs, sc) ? "/" : "",
             strcmp(cs, sc) ? sc : "");
}

void control_algs_text(const struct conn_facts *f, char *out, size_t cap)
{
    char cipher[160], mac[160];
    pair_text(f->cipher_cs, f->cipher_sc, 0, cipher, sizeof cipher);
    pair_text(f->mac_cs, f->mac_sc, 1, mac, sizeof mac);
    snprintf(out, cap, "kex %s, host key %s, cipher %s, MAC %s", f->kex[0] ? f->kex : "-",
             f->hostkey_alg[0] ? f->hostkey_alg : "-", cipher, mac);
}

/* Every forward: a session's own -L/-D (those FORWARDS sent it: its client binds them),
 * owned by its client's pid, and those a connection holds for -O forward. A heading over the
 * first; bytes written to out (cap bytes). */
static size_t forwards_list(char *out, size_t cap)
{
    size_t off = 0;
    char held[4096];
    for (struct sshconn *c = pool_first(); c; c = c->next) {
        for (const struct session *s = c->sessions; s; s = s->next) {
            const struct peer *owner = session_client(s);
            if (s->fwd_state < 1 || !s->cfg || !owner)
                continue;
            for (const char *l = s->cfg->forwards, *nl; *l && (nl = strchr(l, '\n'));
                 l = nl + 1) {
                int n = snprintf(out + off, cap - off, "%s%-44.*s %-28.28s pid %d\n",
                                 off ? "" : "FORWARD                                      "
                                            "HOST                         OWNER\n",
                                 (int)(nl - l), l, c->cfg.hostname, (int)owner->pid);
                if (n < 0 || (size_t)n >= cap - off)
                    return off;
                off += (size_t)n;
            }
        }
        pool_fwd_list(c, held, sizeof held);
        for (char *l = held, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1) {
            char *tab = strchr(l, '\t');
            int n = snprintf(out + off, cap - off, "%s%-44.*s %-28.28s %.*s\n",
                             off ? "" : "FORWARD                                      "
                                        "HOST                         OWNER\n",
                             (int)(tab - l), l, c->cfg.hostname, (int)(nl - tab - 1), tab + 1);
            if (n < 0 || (size_t)n >= cap - off)
                return off;
            off += (size_t)n;
        }
    }
    return off;
}

void control_list(struct peer *p)
{
    char text[16384];
    size_t off = 0;
    time_t now = time(NULL);
    char pq[256];
    engine_pq_kexes(pq, sizeof pq);
    int n = snprintf(text, sizeof text, "muxbroker with libssh2 %s, %s%s\n", engine_version(),
                     pq[0] ? "post-quantum key exchange: " : "no post-quantum key exchange", pq);
    off = (size_t)n;
    n = snprintf(text + off, sizeof text - off, "%-28s %-12s %5s %-10s %8s %8s %12s %12s %6s %s\n",
                 "HOST", "USER", "PORT", "STATE", "SESSIONS", "TOTAL", "BYTES_IN", "BYTES_OUT",
                 "IDLE", "ALGORITHMS");
    off += (size_t)n;
    int conns = 0;
    for (struct sshconn *c = pool_first(); c; c = c->next) {
        char idle[16] = "-", algs[512] = "-";
        if (c->state == C_READY || c->facts.kex[0])
            control_algs_text(&c->facts, algs, sizeof algs);
        if (c->kem_given) { /* post-quantum rekeys without a KEM key pair made on the loop */
            size_t l = strlen(algs);
            snprintf(algs + l, sizeof algs - l, ", KEM key pairs made ahead %lu", c->kem_given);
        }
        if (c->idle_since)
            snprintf(idle, sizeof idle, "%lds", (long)(now - c->idle_since));
        n = snprintf(text + off, sizeof text - off,
                     "%-28.28s %-12.12s %5d %-10s %8d %8lu %12llu %12llu %6s %s\n", c->cfg.hostname,
                     c->cfg.user, c->cfg.port, state_name(c), c->nsessions, c->total_sessions,
                     c->bytes_in, c->bytes_out, idle, algs);
        if (n < 0 || (size_t)n >= sizeof text - off)
            break;
        off += (size_t)n;
        conns++;
    }
    size_t routes = 0; /* the routed channels, a heading over the first line */
    for (struct sshconn *c = pool_first(); c; c = c->next)
        routes += route_status(c, routes == 0, text + off + routes, sizeof text - off - routes);
    off += routes;
    off += forwards_list(text + off, sizeof text - off);
    off += stats_format(text + off, sizeof text - off);
    /* What the broker's allocations hold, in every arena: unlike its RSS, this falls back
     * once sessions end, so a leak shows as growth here. */
    struct mallinfo2 mi = mallinfo2();
    unsigned answers;
    size_t cached = sshconfig_cache_bytes(&answers);
    snprintf(text + off, sizeof text - off,
             "broker pid %d, %d connection%s, %zu KiB of heap in use (%zu KiB of it the ssh -G "
             "cache, %u answer%s)\n",
             (int)getpid(), conns, conns == 1 ? "" : "s", (mi.uordblks + mi.hblkhd) / 1024,
             cached / 1024, answers, answers == 1 ? "" : "s");
    off += strlen(text + off);
    struct loop_turns lt = loop_turns();
    off += (size_t)snprintf(text + off, sizeof text - off,
                            "loop: %lu turns, the longest %ld ms, %lu over %d ms\n", lt.turns,
                            lt.max_us / 1000, lt.slow, LOOP_SLOW_US / 1000);
    if (off < sizeof text) /* every thread's, ended ones too: the kernel's count, to 1 us */
        snprintf(text + off, sizeof text - off, "cpu: %.1f ms, its ended children %.1f ms\n",
                 cpu_ms(RUSAGE_SELF), cpu_ms(RUSAGE_CHILDREN));
    peer_send_ctl_reply(p, CTLR_OK, text);
    peer_finish(p);
}
