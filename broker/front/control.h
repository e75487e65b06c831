/* -O check|stop|exit and the status table. */
#ifndef MUXSHIM_CONTROL_H
#define MUXSHIM_CONTROL_H

#include <stddef.h>

#include "conn.h"
#include "json.h"
#include "objects.h"

struct peer;

/* The host of s, client p's CONTROL request, is resolved: answer p (the session is released
 * after, session.h). */
void control_resolved(struct peer *p, const struct session *s);
/* Client p is gone: an -O forward of its that waits for the server's answers replies to
 * nobody. */
void control_peer_gone(struct peer *p);
/* Answer CTL_LIST at once with the status table, or (json nonzero: CTL_JSON) the same as one
 * JSON object (docs/status-json.md). */
void control_list(struct peer *p, int json);
/* The negotiated methods of f as `muxrun status` and doctor show them, into out (cap
 * bytes): "kex NAME, host key NAME, cipher NAME[/NAME], MAC NAME[/NAME]" (ssh's
 * "<implicit>" for an AEAD cipher's MAC; "/" when the two directions differ). */
void control_algs_text(const struct conn_facts *f, char *out, size_t cap);
/* The same methods as an object named key in j: "kex", "host_key", "cipher_cs",
 * "cipher_sc", "mac_cs", "mac_sc" (null: not negotiated). */
void control_algs_json(struct json *j, const char *key, const struct conn_facts *f);
/* The engine: "libssh2 VERSION, post-quantum key exchange: A,B" (or "no post-quantum key
 * exchange") into out (cap bytes); with j, an object named key ("name", "version",
 * "built_with", "post_quantum_kex") into j instead. */
void control_engine(struct json *j, const char *key, char *out, size_t cap);

#endif
