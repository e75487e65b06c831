/* Per host counters: sessions the broker served and sessions handed to the real ssh. */
#ifndef MUXSHIM_STATS_H
#define MUXSHIM_STATS_H

#include <stddef.h>

#include "json.h"

/* Count one session served for user@host:port. */
void stats_served(const char *host, int port, const char *user);
/* Count one session handed to the real ssh for user@host:port, with why (the reason's
 * head: its first word when a colon follows it, else its first 48 bytes). */
void stats_handed(const char *host, int port, const char *user, const char *why);
/* Append one line per host ("HOST:PORT USER: served N, handed to ssh M (REASON: K, ...)")
 * to out; returns the bytes written (at most outlen - 1). */
size_t stats_format(char *out, size_t outlen);
/* The same counters as one object per host into j's open array: "host", "port", "user",
 * "served", "handed", "reasons" (objects "reason", "count"), in the order of the lines. */
void stats_json(struct json *j);

#endif
