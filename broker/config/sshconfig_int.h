/* What sshconfig.c, sshconfig_run.c and sshconfig_cache.c share (sshconfig.h is the
 * interface). */
#ifndef MUXSHIM_SSHCONFIG_INT_H
#define MUXSHIM_SSHCONFIG_INT_H

#include <stddef.h>

#include "sshconfig.h"

/* sshconfig.c */
/* The home directory and name of the current uid, from passwd as OpenSSH does (once per
 * thread). */
void sshconfig_pw_home(char *home, size_t hlen, char *name, size_t nlen);
/* The agent sockets c names through the client's environment env, made paths as ssh makes
 * them: IdentityAgent "$NAME" (ssh's legacy form) becomes NAME's value ("none" when unset
 * or empty), ForwardAgent "$NAME" its value ("" when unset: no forwarding), and the
 * default agent, a relative SSH_AUTH_SOCK, is joined to cwd like any path. Per question,
 * after every parse: what the cache keeps depends on no environment but its key's. */
void sshconfig_env_paths(struct hostcfg *c, const char *cwd, char *const *env);

/* forwards.c */
/* Append a "localforward" (kind 'L') or "dynamicforward" ('D') value of ssh -G to
 * c->forwards; 0, or -1 when it does not fit. */
int sshconfig_add_forward(struct hostcfg *c, char kind, const char *v);
/* Add a "remoteforward" value as "R V" to c->rforwards; -1 when it does not fit. */
int sshconfig_add_rforward(struct hostcfg *c, const char *v);
/* After the last line: drop the dynamic lines ssh -G's dump repeats for each local forward
 * to a socket path (readconf.c dump_cfg_forwards prints those under both keywords). */
void sshconfig_forwards_done(struct hostcfg *c);

/* sshconfig_run.c */
/* Runs ssh -G; on success the parsed config, with its stderr kept as warnings, and in *raw
 * the output itself (heap). */
int sshconfig_run_g(const char *real_ssh, const char *cwd, char *const *opts, const char *dest,
                    const char *command, char *const *env, struct hostcfg *cfg, char **raw,
                    size_t *rawlen, char *err, size_t errlen);

#endif
