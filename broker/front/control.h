/* -O check|stop|exit and the status table. */
#ifndef MUXSHIM_CONTROL_H
#define MUXSHIM_CONTROL_H

#include <stddef.h>

#include "objects.h"
#include "conn.h"

struct peer;

/* The host of s, client p's CONTROL request, is resolved: answer p (the session is released
 * after, session.h). */
void control_resolved(struct peer *p, const struct session *s);
/* Client p is gone: an -O forward of its that waits for the server's answers replies to
 * nobody. */
void control_peer_gone(struct peer *p);
/* Answer CTL_LIST at once with the status table. */
void control_list(struct peer *p);
/* The negotiated methods of f as `muxrun status` and doctor show them, into out (cap
 * bytes): "kex NAME, host key NAME, cipher NAME[/NAME], MAC NAME[/NAME]" (ssh's
 * "<implicit>" for an AEAD cipher's MAC; "/" when the two directions differ). */
void control_algs_text(const struct conn_facts *f, char *out, size_t cap);

#endif
