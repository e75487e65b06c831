/* `muxrun doctor`: would a session be served by the broker, and on which connection? */
#include "doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "accept.h"
#include "control.h"
#include "engine.h"
#include "json.h"
#include "pool.h"
#include "proto.h"
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

/* The route as the text's "route:" line says it, or as a "route" object in j. */
static void route(struct out *o, struct json *j, const struct hostcfg *c)
{
    const char *kind = c->proxyjump[0] ? "ProxyJump" : c->proxycommand[0] ? "ProxyCommand" : NULL;
    const char *via = c->proxyjump[0] ? c->proxyjump : c->proxycommand;
    if (j) {
        json_object(j, "route");
        json_str(j, "kind",
                 c->proxyjump[0]      ? "proxyjump"
                 : c->proxycommand[0] ? "proxycommand"
                                      : "direct");
        json_str(j, "via", kind ? via : NULL);
        json_str(j, "bind_address", !kind && c->bindaddress[0] ? c->bindaddress : NULL);
        json_str(j, "bind_interface",
                 !kind && !c->bindaddress[0] && c->bindinterface[0] ? c->bindinterface : NULL);
        json_close(j);
    } else if (kind) {
        put(o, "route: %s %s\n", kind, via);
    } else {
        put(o, "route: direct%s%s%s%s\n", c->bindaddress[0] ? ", from " : "", c->bindaddress,
            !c->bindaddress[0] && c->bindinterface[0] ? ", from interface " : "",
            c->bindaddress[0] ? "" : c->bindinterface);
    }
}

/* The answer, text or JSON (j); 1 if served. */
static int report(const struct session *s, struct out *o, struct json *j)
{
    const struct hostcfg *c = s->cfg;
    if (j) {
        json_object(j, NULL);
        json_int(j, "format", 1);
        json_str(j, "destination", s->dest);
        json_str(j, "user", c->user);
        json_str(j, "host", c->hostname);
        json_int(j, "port", c->port);
    } else {
        put(o, "destination: %s -> %s@%s port %d\n", s->dest, c->user, c->hostname, c->port);
    }
    route(o, j, c);
    const char *why = c->unsupported[0]                    ? c->unsupported
                      : c->forwardagent[0] && engine_old() ? "ForwardAgent"
                                                           : pool_remembered(s);
    if (why) {
        if (j) {
            json_bool(j, "served", 0);
            json_str(j, "reason", why);
            json_null(j, "connection");
        } else {
            put(o, "served by the broker: no, handed to ssh: %s\n", why);
        }
        return 0;
    }
    char eng[512];
    if (j) {
        control_engine(j, "engine", NULL, 0);
        json_array(j, "open_connections");
    } else {
        control_engine(NULL, NULL, eng, sizeof eng);
        put(o, "engine: %s\n", eng);
    }
    struct sshconn *found[64];
    int n = pool_find(c->token, found, 64), took = -1;
    for (int i = 0; i < n && took < 0; i++) {
        char reason[512], algs[512];
        int learn = 0;
        int ok = conn_accepts(&found[i]->facts, c, s->known, s->env, &learn, reason, sizeof reason);
        if (j) {
            json_object(j, NULL);
            json_int(j, "index", i + 1);
            control_algs_json(j, "algorithms", &found[i]->facts);
            json_bool(j, "takes_it", ok);
            json_str(j, "reason", ok ? NULL : reason);
            json_close(j);
        } else {
            control_algs_text(&found[i]->facts, algs, sizeof algs);
            put(o, "open connection %d of %d: %s\n", i + 1, n, algs);
            if (!ok)
                put(o, "open connection %d of %d does not take it: %s\n", i + 1, n, reason);
        }
        if (ok)
            took = i;
    }
    if (j) {
        json_close(j);
        json_bool(j, "served", 1);
        json_null(j, "reason");
        json_object(j, "connection");
        json_str(j, "kind", took >= 0 ? "open" : "new");
        if (took >= 0) {
            json_int(j, "index", took + 1);
            json_int(j, "sessions", found[took]->nsessions);
            json_uint(j, "total", found[took]->total_sessions);
        }
        json_int(j, "open", n);
        json_close(j);
    } else if (took >= 0) {
        put(o,
            "served by the broker: yes, sharing open connection %d of %d (%d session%s now, "
            "%lu so far)\n",
            took + 1, n, found[took]->nsessions, found[took]->nsessions == 1 ? "" : "s",
            found[took]->total_sessions);
    } else {
        put(o, "served by the broker: yes, on a new connection%s\n",
            n ? "" : " (none open to this authority)");
    }
    return 1;
}

int doctor_report(const struct session *s, char *text, size_t len)
{
    struct out o = {text, len, 0};
    struct json j;
    text[0] = '\0';
    if (!(s->ctl_op & CTL_JSON))
        return report(s, &o, NULL);
    json_init(&j, text, len - 1);
    int served = report(s, &o, &j);
    size_t n = json_finish(&j);
    text[n] = '\n';
    text[n + 1] = '\0';
    return served;
}
