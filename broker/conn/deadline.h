/* The deadline of one connection's key exchange and login, kept in the worker that makes
 * it: a watchdog thread cuts the socket when it passes, so that the blocked libssh2 call
 * fails at once. Time spent waiting for the user (a prompt) does not count. */
#ifndef MUXSHIM_DEADLINE_H
#define MUXSHIM_DEADLINE_H

#include <stddef.h>

#include "conn.h"

/* Without ServerAliveInterval × ServerAliveCountMax, the key exchange and login of a
 * connection get this long, as sshd's LoginGraceTime gives a client (ssh itself would wait
 * for ever). */
#define DEADLINE_DEFAULT_MS (120 * 1000L)

struct deadline;

/* The window of cfg's key exchange and login, in ms. */
long deadline_window_ms(const struct hostcfg *cfg);
/* Wait up to ms for the server's identification line on fd (ssh's ConnectTimeout for the
 * banner exchange): 0 when none came in time; 1 when it came, or the link failed or ended
 * (the handshake then says how). */
int deadline_wait_banner(int fd, long ms);
/* ssh's words for a connection on fd that timed out before (banner 0) or after the
 * server's identification line, at cfg's LogLevel (loglevel as hostcfg's). */
void deadline_words(int fd, int banner, int loglevel, char *err, size_t errlen);

/* Watch fd, a socket (TCP, or a proxy's socketpair): cut it window_ms from now. NULL with
 * nothing watched when no thread can start. */
struct deadline *deadline_start(int fd, long window_ms);
/* Stop the clock while the user is asked (pause 1); start it again (pause 0). d may be NULL. */
void deadline_pause(struct deadline *d, int pause);
/* pr, with its ask and say pausing d's clock while they run (pr itself when d is NULL);
 * valid until deadline_stop(d). */
const struct conn_prompter *deadline_prompter(struct deadline *d, const struct conn_prompter *pr);
/* Has the deadline passed (the socket is cut)? 0 for NULL. */
int deadline_fired(struct deadline *d);
/* Stop watching (before fd is closed) and free d; returns deadline_fired. d may be NULL. */
int deadline_stop(struct deadline *d);

#endif
