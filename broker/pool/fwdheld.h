/* Forwards a connection holds for `ssh -O forward` (as an OpenSSH master holds them): their
 * listeners live as long as the connection or until `ssh -O cancel`; each accepted connection
 * is a direct-tcpip (or direct-streamlocal) channel on it, with SOCKS read here for -D. */
#ifndef MUXSHIM_FWDHELD_H
#define MUXSHIM_FWDHELD_H

#include <stddef.h>

#include "objects.h"

/* -O forward: bind cfg's local and dynamic forwards (as ssh -G prints them; a relative socket
 * path is the caller's, under cwd) for c; one c holds already stays as it is. 0, or -1 when
 * one could not be bound. msg (cap bytes) gets what ssh -O forward prints for each (its last
 * line, "master forward request failed", is the caller's, after the remote ones). */
int pool_fwd_add(struct sshconn *c, const struct hostcfg *cfg, const char *cwd, char *msg,
                 size_t cap);
/* -O cancel: close cfg's local and dynamic forwards that c holds. msg gets what ssh -O cancel
 * prints for each it does not hold (the last line is the caller's); 0, or -1 when one was not
 * held (ssh -O cancel's exit status is 0 all the same). */
int pool_fwd_cancel(struct sshconn *c, const struct hostcfg *cfg, const char *cwd, char *msg,
                    size_t cap);
/* The i-th fd of c's held forwards to poll (listeners, SOCKS requests being read) and its
 * events; -1 past the last. */
int pool_fwd_pollfd(const struct sshconn *c, int i, short *events);
/* Poll found one of them ready: accept what waits, read the SOCKS requests (never waits). */
void pool_fwd_wake(struct sshconn *c);
/* c ends: close its listeners and the connections not yet handed to a channel. */
void pool_fwd_drop(struct sshconn *c);
/* One line per forward c holds (its remote ones too, rfwd.h), "SPEC\tconnection", into out
 * (cap bytes), NUL-terminated (empty when none); bytes written. */
size_t pool_fwd_list(const struct sshconn *c, char *out, size_t cap);

#endif
