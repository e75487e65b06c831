/* connect() routing in the broker: a ROUTE request becomes a direct-tcpip session whose
 * other end is a loopback TCP socket handed to the program (see shim/route.c). */
#ifndef MUXSHIM_ROUTE_H
#define MUXSHIM_ROUTE_H

#include "json.h"
#include "objects.h"
#include "proto.h"

/* A connected loopback TCP pair of the family (AF_INET: 127.0.0.1, AF_INET6: ::1), made so
 * that nobody else can slip in between, without waiting (it fails rather than wait for a
 * handshake that did not complete at once); 0 with *mine and *theirs, or -1 with errno. */
int route_pair(int family, int *mine, int *theirs);
/* A non-blocking routed connect: connect a new socket from loopback port from_port (SO_REUSEPORT
 * beside the shim's listener) to the program's socket at to:to_port (loopback only), a TCP
 * simultaneous open; 0 and *mine, or -1 with errno. */
int route_connect_to(int family, int from_port, const char *to, int to_port, int *mine);
/* Lines for the status table: the routed channels open now on c, per destination, the
 * table's heading over the first when heading is nonzero; the length written (a line that
 * does not fit in cap is left out, with those after it). With j: the same as one object
 * each ("to", "via", "channels") into j's open array instead, and 0. */
size_t route_status(const struct sshconn *c, int heading, char *out, size_t cap, struct json *j);

#endif
