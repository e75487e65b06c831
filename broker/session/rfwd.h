/* Remote forwards (-R, RemoteForward): the server listens for the session (tcpip-forward on
 * its connection, once the connection is up and before the command runs, as ssh's
 * ssh_init_forwarding asks), each forwarded-tcpip channel goes to the session's client to
 * connect (inchan_ask: its target, or SOCKS for a dynamic one), and the session's forwards
 * are cancelled when it ends. A session sees only its own listeners' channels: libssh2
 * files each channel under the listen address and port the server names. */
#ifndef MUXSHIM_RFWD_H
#define MUXSHIM_RFWD_H

#include "objects.h"

/* Whether s, waiting on its ready connection, must still have its remote forwards asked
 * for: makes the requests one at a time (ssh's words for an allocated port or a refusal on
 * its client's stderr; under ExitOnForwardFailure a refusal ends s with 255) and returns 1
 * until all are answered, then 0. */
int rfwd_pending(struct session *s);
/* s leaves its connection: its forwards are cancelled (by the pump, rfwd_step). */
void rfwd_session_gone(struct session *s);
/* Take the channels the server opened on c's listeners, go on with requests and cancels;
 * nonzero on progress. */
int rfwd_step(struct sshconn *c);
/* Whether c has listeners (the server may open channels on them: read its socket). */
int rfwd_reads(const struct sshconn *c);
/* Forget c's listeners (libssh2 frees them with the session). */
void rfwd_drop(struct sshconn *c);

#endif
