/* ProxyCommand: the command ssh would run, as the transport of one connection. */
#ifndef MUXSHIM_PROXY_H
#define MUXSHIM_PROXY_H

#include <stddef.h>

#include "sshconfig.h"

struct proxy;

/* "exec " and cfg's ProxyCommand with ssh's tokens (%h %k %n %p %r %%) expanded into out,
 * as sshconnect.c's expand_proxy_command; 0, or -1 with err. */
int proxy_expand(const struct hostcfg *cfg, char *out, size_t outlen, char *err, size_t errlen);
/* Run cfg's ProxyCommand as ssh does (the client's $SHELL, else /bin/sh, -c "exec …", in
 * cwd with env) with a pipe as its stdin and another as its stdout, as ssh gives it. Its
 * stderr goes to errfd (the asking client's, not taken; -1 none) until proxy_settle, then
 * to the broker log; a thread relays between the pipes and a socketpair and reaps it.
 * Returns our end of the socketpair and *out, or -1 with err. */
int proxy_start(const struct hostcfg *cfg, char *const *env, const char *cwd, int errfd,
                struct proxy **out, char *err, size_t errlen);
/* The connection is made (ok) or not: its stderr stops going to the client (failed: once
 * the command, sent SIGHUP, has written what it had to say, or after 1 s). */
void proxy_settle(struct proxy *p, int ok);
/* The connection ends: SIGHUP the command if it still runs (as ssh does), let go of p. */
void proxy_release(struct proxy *p);

#endif
