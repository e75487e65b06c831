/* -O check|stop|exit and the status table. */
#include "control.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ctlpath.h"
#include "doctor.h"
#include "engine.h"
#include "fwdheld.h"
#include "json.h"
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
    struct peer *p; /* NULL once the client left */
    int left;       /* answers still to come (and 1 while they are being asked) */
    int failed;
    int loglevel;
    char out[1024];  /* ssh -O forward's stdout: each port the server allocated */
    char text[4096]; /* its stderr */
    struct ctl_wait *next;
};
static struct ctl_wait *waits;

static void add_line(char *msg, size_t cap, const char *line)
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
            add_line(w->text, sizeof w->text, "muxclient: master forward request failed");
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
    char line[1300], what[1100];
    if (a->bound < 0) {
        w->failed = 1;
        rfwd_failed_words(a->want_port, a->listen_path, what, sizeof what);
        snprintf(line, sizeof line, "mux_client_forward: forwarding request failed: %s", what);
        if (w->loglevel >= 2)
            add_line(w->text, sizeof w->text, line);
    } else if (a->want_port == 0) {
        size_t n = strlen(w->out);
        snprintf(w->out + n, sizeof w->out - n, "%d\n", a->bound);
        snprintf(line, sizeof line, "Allocated port %d for remote forward to %s:%d", a->bound,
                 a->shown, a->target_port);
        if (w->loglevel >= 4)
            add_line(w->text, sizeof w->text, line);
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
            add_line(text, sizeof text,
                     "mux_client_forward: forwarding request failed: port not forwarded");
    }
    if (failed && s->cfg->loglevel >= 2)
        add_line(text, sizeof text, "muxclient: master cancel forward request failed");
    peer_send_ctl_reply(p, CTLR_OK, text); /* ssh -O cancel exits 0 whatever it says */
}

/* -O forward and -O cancel, for the first connection of the host, as an OpenSSH master holds
 * them for its one connection: local and dynamic forwards bound here (fwdheld.h), remote ones
 * asked of the server (rfwd.h), whose answers the reply waits for; for a dynamic one the
 * broker is the SOCKS server (inchan.h). */
static void forward(struct peer *p, const struct session *s, struct sshconn *c)
{
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
    if ((s->ctl_op & ~CTL_JSON) == CTL_DOCTOR) {
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

/* A MAC as ssh names it: an AEAD cipher's (libssh2's INTEGRATED-…) is "<implicit>". */
static const char *mac_name(const char *mac)
{
    return strncmp(mac, "INTEGRATED", 10) ? mac : "<implicit>";
}

/* One direction pair as "cs" or "cs/sc". */
static void pair_text(const char *cs, const char *sc, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", cs[0] ? cs : "-", strcmp(cs, sc) ? "/" : "",
             strcmp(cs, sc) ? sc : "");
}

void control_algs_text(const struct conn_facts *f, char *out, size_t cap)
{
    char cipher[160], mac[160];
    pair_text(f->cipher_cs, f->cipher_sc, cipher, sizeof cipher);
    pair_text(mac_name(f->mac_cs), mac_name(f->mac_sc), mac, sizeof mac);
    snprintf(out, cap, "kex %s, host key %s, cipher %s, MAC %s", f->kex[0] ? f->kex : "-",
             f->hostkey_alg[0] ? f->hostkey_alg : "-", cipher, mac);
}

/* s, or null when it is empty (a method not negotiated yet: the text's "-"). */
static void str_or_null(struct json *j, const char *key, const char *s)
{
    json_str(j, key, s[0] ? s : NULL);
}

void control_algs_json(struct json *j, const char *key, const struct conn_facts *f)
{
    json_object(j, key);
    str_or_null(j, "kex", f->kex);
    str_or_null(j, "host_key", f->hostkey_alg);
    str_or_null(j, "cipher_cs", f->cipher_cs);
    str_or_null(j, "cipher_sc", f->cipher_sc);
    str_or_null(j, "mac_cs", f->mac_cs[0] ? mac_name(f->mac_cs) : "");
    str_or_null(j, "mac_sc", f->mac_sc[0] ? mac_name(f->mac_sc) : "");
    json_close(j);
}

/* The engine: libssh2's version and its post-quantum key exchanges, as a line of text (the
 * status's first, doctor's "engine:") or, with j, an object named key. */
void control_engine(struct json *j, const char *key, char *out, size_t cap)
{
    char pq[256];
    engine_pq_kexes(pq, sizeof pq);
    if (!j) {
        if (out && cap)
            snprintf(out, cap, "libssh2 %s, %s%s", engine_version(),
                     pq[0] ? "post-quantum key exchange: " : "no post-quantum key exchange", pq);
        return;
    }
    json_object(j, key);
    json_str(j, "name", "libssh2");
    json_str(j, "version", engine_version());
    json_str(j, "built_with", engine_built_version());
    json_array(j, "post_quantum_kex");
    for (char *k = pq, *e; *k; k = *e ? e + 1 : e) {
        e = k + strcspn(k, ",");
        json_strn(j, NULL, k, (size_t)(e - k));
    }
    json_close(j);
    json_close(j);
}

/* Where the status goes: the text table (text, cap bytes, off used), or with j the JSON
 * document; each part below fills one from the same values. */
struct status_out {
    char *text;
    size_t cap, off;
    struct json *j;
};

/* Append to the text; 0, or -1 (nothing appended) when the line does not fit. */
static int say(struct status_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(struct status_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->text + o->off, o->cap - o->off, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->off) {
        o->text[o->off] = '\0';
        return -1;
    }
    o->off += (size_t)n;
    return 0;
}

/* One forward for the status: spec as ssh -G prints it ("L LISTEN TARGET", "D LISTEN"; len
 * bytes) on the connection to host, owned by a session's client (pid) or by what owner
 * names (ownerlen bytes, pid 0); the text's heading over the first (*seen still 0). 0, or
 * -1 when the text is full. */
static int forward_item(struct status_out *o, int *seen, const char *spec, size_t len,
                        const char *host, int pid, const char *owner, size_t ownerlen)
{
    if (!o->j) {
        const char *head = *seen ? ""
                                 : "FORWARD                                      "
                                   "HOST                         OWNER\n";
        int rc = pid ? say(o, "%s%-44.*s %-28.28s pid %d\n", head, (int)len, spec, host, pid)
                     : say(o, "%s%-44.*s %-28.28s %.*s\n", head, (int)len, spec, host,
                           (int)ownerlen, owner);
        *seen |= rc == 0;
        return rc;
    }
    /* kind letter, the listen word, the target (the rest, if any) */
    const char *end = spec + len, *listen = len > 2 ? spec + 2 : end;
    const char *sp = memchr(listen, ' ', (size_t)(end - listen));
    const char *kind = len < 2 || spec[1] != ' ' ? NULL
                       : spec[0] == 'L'          ? "local"
                       : spec[0] == 'D'          ? "dynamic"
                       : spec[0] == 'R'          ? "remote"
                                                 : NULL;
    json_object(o->j, NULL);
    if (kind)
        json_str(o->j, "kind", kind);
    else
        json_strn(o->j, "kind", spec, len ? 1 : 0);
    json_strn(o->j, "listen", listen, (size_t)((sp ? sp : end) - listen));
    if (sp)
        json_strn(o->j, "target", sp + 1, (size_t)(end - sp - 1));
    else
        json_null(o->j, "target");
    json_str(o->j, "host", host);
    if (pid) {
        json_str(o->j, "owner", "session");
        json_int(o->j, "pid", pid);
    } else {
        json_strn(o->j, "owner", owner, ownerlen);
        json_null(o->j, "pid");
    }
    json_strn(o->j, "spec", spec, len);
    json_close(o->j);
    return 0;
}

/* Every forward: a session's own -L/-D (those FORWARDS sent it: its client binds them),
 * owned by its client's pid, and those a connection holds for -O forward. */
static void forwards_list(struct status_out *o)
{
    int seen = 0;
    char held[4096];
    for (struct sshconn *c = pool_first(); c; c = c->next) {
        for (const struct session *s = c->sessions; s; s = s->next) {
            const struct peer *owner = session_client(s);
            if (s->fwd_state < 1 || !s->cfg || !owner)
                continue;
            for (const char *l = s->cfg->forwards, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1)
                if (forward_item(o, &seen, l, (size_t)(nl - l), c->cfg.hostname, (int)owner->pid,
                                 NULL, 0) < 0)
                    return;
        }
        pool_fwd_list(c, held, sizeof held);
        for (char *l = held, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1) {
            char *tab = strchr(l, '\t');
            if (!tab || tab > nl)
                tab = nl;
            if (forward_item(o, &seen, l, (size_t)(tab - l), c->cfg.hostname, 0,
                             tab < nl ? tab + 1 : "", tab < nl ? (size_t)(nl - tab - 1) : 0) < 0)
                return;
        }
    }
}

/* One connection's line (or object); -1 when the text is full. */
static int conn_item(struct status_out *o, const struct sshconn *c, time_t now)
{
    char idle[16] = "-", algs[512] = "-";
    int facts = c->state == C_READY || c->facts.kex[0];
    if (!o->j) {
        if (facts)
            control_algs_text(&c->facts, algs, sizeof algs);
        if (c->kem_given) { /* post-quantum rekeys without a KEM key pair made on the loop */
            size_t l = strlen(algs);
            snprintf(algs + l, sizeof algs - l, ", KEM key pairs made ahead %lu", c->kem_given);
        }
        if (c->idle_since)
            snprintf(idle, sizeof idle, "%lds", (long)(now - c->idle_since));
        return say(o, "%-28.28s %-12.12s %5d %-10s %8d %8lu %12llu %12llu %6s %s\n",
                   c->cfg.hostname, c->cfg.user, c->cfg.port, state_name(c), c->nsessions,
                   c->total_sessions, c->bytes_in, c->bytes_out, idle, algs);
    }
    json_object(o->j, NULL);
    json_str(o->j, "host", c->cfg.hostname);
    json_str(o->j, "user", c->cfg.user);
    json_int(o->j, "port", c->cfg.port);
    json_str(o->j, "state", state_name(c));
    json_int(o->j, "sessions", c->nsessions);
    json_uint(o->j, "total", c->total_sessions);
    json_uint(o->j, "bytes_in", c->bytes_in);
    json_uint(o->j, "bytes_out", c->bytes_out);
    if (c->idle_since)
        json_int(o->j, "idle_s", (long long)(now - c->idle_since));
    else
        json_null(o->j, "idle_s");
    if (facts)
        control_algs_json(o->j, "algorithms", &c->facts);
    else
        json_null(o->j, "algorithms");
    json_uint(o->j, "kem_key_pairs_ahead", c->kem_given);
    json_close(o->j);
    return 0;
}

/* The broker's own figures, taken before the status is written (so the JSON document's
 * buffer is not counted as heap in use). */
struct figures {
    size_t heap, cached; /* bytes */
    unsigned answers;
    struct loop_turns lt;
    double self, children; /* cpu ms */
};

static void figures(struct figures *f)
{
    /* What the broker's allocations hold, in every arena: unlike its RSS, this falls back
     * once sessions end, so a leak shows as growth here. */
    struct mallinfo2 mi = mallinfo2();
    f->heap = mi.uordblks + mi.hblkhd;
    f->cached = sshconfig_cache_bytes(&f->answers);
    f->lt = loop_turns();
    /* every thread's, ended ones too: the kernel's count, to 1 us */
    f->self = cpu_ms(RUSAGE_SELF);
    f->children = cpu_ms(RUSAGE_CHILDREN);
}

/* The status into o: the engine, the connections, routed channels, forwards, the per-host
 * counters, then the broker's own figures (f). */
static void status(struct status_out *o, const struct figures *f)
{
    struct json *j = o->j;
    time_t now = time(NULL);
    char eng[512];
    if (j) {
        json_object(j, NULL);
        json_int(j, "format", 1);
        control_engine(j, "engine", NULL, 0);
        json_array(j, "connections");
    } else {
        control_engine(NULL, NULL, eng, sizeof eng);
        say(o, "muxbroker with %s\n", eng);
        say(o, "%-28s %-12s %5s %-10s %8s %8s %12s %12s %6s %s\n", "HOST", "USER", "PORT", "STATE",
            "SESSIONS", "TOTAL", "BYTES_IN", "BYTES_OUT", "IDLE", "ALGORITHMS");
    }
    int conns = 0;
    for (struct sshconn *c = pool_first(); c; c = c->next) {
        if (conn_item(o, c, now) < 0)
            break;
        conns++;
    }
    if (j) {
        json_close(j);
        json_array(j, "routes");
    }
    size_t routes = 0; /* the routed channels, a heading over the first line */
    for (struct sshconn *c = pool_first(); c; c = c->next)
        routes +=
            route_status(c, routes == 0, o->text + o->off + routes, o->cap - o->off - routes, j);
    o->off += routes;
    if (j) {
        json_close(j);
        json_array(j, "forwards");
    }
    forwards_list(o);
    if (!j) {
        o->off += stats_format(o->text + o->off, o->cap - o->off);
        say(o,
            "broker pid %d, %d connection%s, %zu KiB of heap in use (%zu KiB of it the ssh -G "
            "cache, %u answer%s)\n",
            (int)getpid(), conns, conns == 1 ? "" : "s", f->heap / 1024, f->cached / 1024,
            f->answers, f->answers == 1 ? "" : "s");
        say(o, "loop: %lu turns, the longest %ld ms, %lu over %d ms\n", f->lt.turns,
            f->lt.max_us / 1000, f->lt.slow, LOOP_SLOW_US / 1000);
        say(o, "cpu: %.1f ms, its ended children %.1f ms\n", f->self, f->children);
        return;
    }
    json_close(j);
    json_array(j, "hosts");
    stats_json(j);
    json_close(j);
    json_object(j, "broker");
    json_int(j, "pid", (int)getpid());
    json_int(j, "connections", conns);
    json_uint(j, "heap_kib", f->heap / 1024);
    json_uint(j, "ssh_g_cache_kib", f->cached / 1024);
    json_uint(j, "ssh_g_cache_answers", f->answers);
    json_object(j, "loop");
    json_uint(j, "turns", f->lt.turns);
    json_int(j, "longest_ms", f->lt.max_us / 1000);
    json_uint(j, "slow", f->lt.slow);
    json_int(j, "slow_ms", LOOP_SLOW_US / 1000);
    json_close(j);
    json_real(j, "cpu_ms", f->self, 1);
    json_real(j, "children_cpu_ms", f->children, 1);
    json_close(j);
    json_close(j);
}

/* The JSON status's room: what a frame can carry, less its header and the text's length. */
#define STATUS_JSON_MAX (PROTO_MAX_FRAME - 64)

void control_list(struct peer *p, int json)
{
    char text[16384];
    struct status_out o = {text, sizeof text, 0, NULL};
    struct json j;
    struct figures f;
    figures(&f);
    char *doc = json ? malloc(STATUS_JSON_MAX) : NULL;
    if (json && !doc) {
        peer_send_ctl_reply(p, CTLR_ERROR, "muxbroker: out of memory for the status\n");
        peer_finish(p);
        return;
    }
    text[0] = '\0';
    if (doc) {
        json_init(&j, doc, STATUS_JSON_MAX - 1);
        o.j = &j;
    }
    status(&o, &f);
    if (doc) {
        size_t n = json_finish(&j);
        doc[n] = '\n'; /* a line, as the text's last one */
        doc[n + 1] = '\0';
    }
    peer_send_ctl_reply(p, CTLR_OK, doc ? doc : text);
    free(doc);
    peer_finish(p);
}
