/* Whether a server's host key is let in, as ssh's verify_host_key. */
#ifndef MUXSHIM_VERIFY_H
#define MUXSHIM_VERIFY_H

#include <stddef.h>

#include "conn.h"

/* The host key policy for the key session s was handed, fd its socket, name the host as
 * known_hosts names it and files its known_hosts files: SSHFP (VerifyHostKeyDNS),
 * known_hosts and KnownHostsCommand, then StrictHostKeyChecking (ask through pr, add a new
 * key). CONN_OK with what let it in recorded in f, or a failure with err set. */
enum conn_status verify_hostkey(LIBSSH2_SESSION *s, int fd, const struct hostcfg *cfg,
                                char (*files)[HC_STR], int nfiles, const char *name,
                                const struct conn_prompter *pr, struct conn_facts *f, char *err,
                                size_t errlen);

#endif
