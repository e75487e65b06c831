/* SendEnv/SetEnv: the env requests a session sends, whether a channel already sent other
 * ones can still give exactly the remote environment ssh would, and making request calls
 * safe with requests in flight on other channels. */
#ifndef MUXSHIM_ENVREQ_H
#define MUXSHIM_ENVREQ_H

#include "objects.h"

/* Whether env entry "NAME=VALUE" is selected by cfg's SendEnv patterns. */
int envreq_selected(const struct hostcfg *cfg, const char *entry);
/* The requests of a session, in ssh's order (the SendEnv matches of env, then SetEnv): a
 * NULL-terminated array of pointers into cfg and env (free the array only), NULL on ENOMEM. */
const char **envreq_build(const struct hostcfg *cfg, char *const *env);
/* Whether two request lists are equal, entry by entry (NULL counts as empty). */
int envreq_equal(const char *const *a, const char *const *b);
/* A deep copy of a request list (NULL for an empty one or on ENOMEM; *ok says which). */
char **envreq_dup(const char *const *list, int *ok);
/* Free a list made by envreq_dup. */
void envreq_free(char **list);
/* What a channel that was sent the requests done still needs for the remote environment
 * want gives: the entries of want to send, into rest (room for want's count + 1, pointers
 * into want, NULL-terminated). Returns their number, or -1 when done sets a variable want
 * does not (the channel cannot serve want: a variable cannot be unset). */
int envreq_rest(const char *const *done, const char *const *want, const char **rest);
/* Number of entries of a request list. */
int envreq_count(const char *const *list);
/* Before a channel request that waits for its reply (env, pty, exec): read what the server
 * sent so far through ch into libssh2's queue (unless retrying a half-sent call: drain 0),
 * then hold c's reads back until envreq_release, so that the call only takes its reply from
 * the queue and never reads, and so never a reply meant for another channel. Returns 0, or
 * the libssh2 error of the read. */
int envreq_hold(struct sshconn *c, LIBSSH2_CHANNEL *ch, int drain);
/* Let c's reads through again. */
void envreq_release(struct sshconn *c);

#endif
