/* `muxrun doctor`: would a session be served by the broker, and on which connection? */
#include "doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "accept.h"
#include "control.h"
#include "engine.h"
#include "pool.h"
#include "session.h"

struct out {
    char *p;
    size_t len, off;
};

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->off, o->len - o->off, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->off += (size_t)n < o->len - o->off ? (size_t)n : o->len - o->off - 1;
}

int doctor_report(const struct session *s, char *text, size_t len)
{
    const struct hostcfg *c = s->cfg;
    struct out o = {text, len, 0};
    text[0] = '\0';
    put(&o, "destination: %s -> %s@%s port %d\n", s->dest, c->user, c->hostname, c->port);
    if (c->proxyjump[0])
        put(&o, "route: ProxyJump %s\n", c->proxyjump);
    else if (c->proxycommand[0])
        put(&o, "route: ProxyCommand %s\n", c->proxycommand);
    else
        put(&o, "route: direct%s%s%s%s\n", c->bindaddress[0] ? ", from " : "", c->bindaddress,
            !c->bindaddress[0] && c->bindinterface[0] ? ", from interface " : "",
            c->bindaddress[0] ? "" : c->bindinterface);
    const char *why = c->unsupported[0]                    ? c->unsupported
                      : c->forwardagent[0] && engine_old() ? "ForwardAgent"
                                                           : pool_remembered(s);
    if (why) {
        put(&o, "served by the broker: no, handed to ssh: %s\n", why);
        return 0;
    }
    char pq[256];
    engine_pq_kexes(pq, sizeof pq);
    put(&o, "engine: libssh2 %s, %s%s\n", engine_version(),
        pq[0] ? "post-quantum key exchange: " : "no post-quantum key exchange", pq);
    struct sshconn *found[64];
    int n = pool_find(c->token, found, 64);
    for (int i = 0; i < n; i++) {
        char reason[512], algs[512];
        int learn = 0;
        control_algs_text(&found[i]->facts, algs, sizeof algs);
        put(&o, "open connection %d of %d: %s\n", i + 1, n, algs);
        if (conn_accepts(&found[i]->facts, c, s->known, s->env, &learn, reason, sizeof reason)) {
            put(&o,
                "served by the broker: yes, sharing open connection %d of %d (%d session%s now, "
                "%lu so far)\n",
                i + 1, n, found[i]->nsessions, found[i]->nsessions == 1 ? "" : "s",
                found[i]->total_sessions);
            return 1;
        }
        put(&o, "open connection %d of %d does not take it: %s\n", i + 1, n, reason);
    }
    put(&o, "served by the broker: yes, on a new connection%s\n",
        n ? "" : " (none open to this authority)");
    return 1;
}
