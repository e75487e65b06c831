/* ssh's %-tokens (percent_expand) and ${VAR} (percent_dollar_expand), and the client set. */
#ifndef MUXSHIM_PERCENT_H
#define MUXSHIM_PERCENT_H

#include <stddef.h>

#include "sshconfig.h"

struct pct {
    char key;        /* the letter after '%' */
    const char *val; /* what it becomes */
};

/* The values behind ssh's DEFAULT_CLIENT_PERCENT_EXPAND_ARGS (%C %L %i %k %l %n %p %d %h
 * %r %u), filled by pct_client. */
struct pct_client {
    char hash[41], thishost[256], shorthost[256], uid[16], port[16], home[1024], locuser[256];
    const char *keyalias, *host_arg, *remhost, *remuser;
    struct pct t[11];
};

/* Expand in into out as OpenSSH's percent_expand: "%%" is '%', each known %x its value; with
 * env (not NULL) also "${NAME}" from it. 0; -1 with err naming an unknown token, a missing
 * variable, a '%' at the end, or an overlong result (ssh's words where it has them). */
int pct_expand(const char *in, const struct pct *t, int nt, char *const *env, char *out,
               size_t outlen, char *err, size_t errlen);
/* The client token set of cfg (local user, home, uid, host name, connection hash); 0 or -1. */
int pct_client(const struct hostcfg *cfg, struct pct_client *c);
/* cfg->localcommand expanded as ssh 9.2's ssh_session2() does (the client set, %T as NONE,
 * %%); 0, or -1 for an unknown token or a result that does not fit (the real ssh says why). */
int percent_local_command(const struct hostcfg *cfg, char *out, size_t outlen);

#endif
