/* Jump hosts: the last hop of ProxyJump and the options that reach it, as ssh.c builds its
 * "ssh -W" proxy command for ProxyJump. */
#include "jump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getopt's view of ssh's option string: letters that take an argument. */
static const char with_arg[] = "BbcDEeFIiJLlmOopQRSWw";

/* The -F argument among the option words, or NULL. */
static const char *config_file(char *const *opts)
{
    for (int i = 0; opts && opts[i]; i++) {
        const char *w = opts[i];
        if (w[0] != '-' || w[1] == '-' || !w[1])
            continue;
        for (const char *c = w + 1; *c; c++) {
            if (!strchr(with_arg, *c))
                continue;
            const char *arg = c[1] ? c + 1 : opts[i + 1];
            if (*c == 'F')
                return arg;
            if (!c[1] && opts[i + 1])
                i++; /* the argument was the next word */
            break;
        }
    }
    return NULL;
}

/* "[user@]host[:port]", "[user@][v6addr][:port]" or "ssh://[user@]host[:port]". */
static int split_hop(const char *hop, char *user, size_t ul, char *host, size_t hl, int *port)
{
    const char *p = hop;
    if (!strncmp(p, "ssh://", 6))
        p += 6;
    user[0] = '\0';
    *port = -1;
    const char *at = strrchr(p, '@');
    if (at) {
        if (at == p || (size_t)(at - p) >= ul)
            return -1;
        snprintf(user, ul, "%.*s", (int)(at - p), p);
        p = at + 1;
    }
    const char *colon;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close || close == p + 1)
            return -1;
        snprintf(host, hl, "%.*s", (int)(close - p - 1), p + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon)
            return -1;
    } else {
        colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (!n || n >= hl)
            return -1;
        snprintf(host, hl, "%.*s", (int)n, p);
    }
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || v <= 0 || v > 65535)
            return -1;
        *port = (int)v;
    }
    return 0;
}

int jump_hop(const char *proxyjump, char *const *origin_opts, char ***opts, char *dest,
             size_t destlen, char *err, size_t errlen)
{
    const char *last = strrchr(proxyjump, ',');
    last = last ? last + 1 : proxyjump;
    char user[256], portstr[16];
    int port;
    if (split_hop(last, user, sizeof user, dest, destlen, &port) < 0) {
        snprintf(err, errlen, "bad ProxyJump \"%.200s\"", proxyjump);
        return -1;
    }
    char *rest = last > proxyjump ? strndup(proxyjump, (size_t)(last - proxyjump - 1)) : NULL;
    const char *cfg = config_file(origin_opts);
    char **v = calloc(9, sizeof *v);
    int n = 0, bad = !v || (last > proxyjump && !rest);
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *words[8];
    int nw = 0;
    if (user[0]) {
        words[nw++] = "-l";
        words[nw++] = user;
    }
    if (port > 0) {
        words[nw++] = "-p";
        words[nw++] = portstr;
    }
    if (rest) {
        words[nw++] = "-J";
        words[nw++] = rest;
    }
    if (cfg) {
        words[nw++] = "-F";
        words[nw++] = cfg;
    }
    for (int i = 0; !bad && i < nw; i++)
        bad = (v[n++] = strdup(words[i])) == NULL;
    free(rest);
    if (bad) {
        if (v)
            for (int i = 0; i < n; i++)
                free(v[i]);
        free(v);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *opts = v;
    return 0;
}
