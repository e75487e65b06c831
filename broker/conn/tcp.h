/* The TCP connection to a host as ssh makes it (ConnectTimeout, AddressFamily, BindAddress,
 * BindInterface). */
#ifndef MUXSHIM_TCP_H
#define MUXSHIM_TCP_H

#include <stddef.h>

#include "sshconfig.h"

/* TCP connection like ssh_connect_direct (TCP_NODELAY, SO_KEEPALIVE); returns the socket, or
 * -1 with ssh's own words in err ("ssh: connect to host ... port ...: ..."). Blocking. */
int tcp_connect(const struct hostcfg *cfg, char *err, size_t errlen);

#endif
