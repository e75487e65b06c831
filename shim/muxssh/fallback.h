/* Running the real ssh when muxshim cannot serve a session. */
#ifndef MUXSHIM_FALLBACK_H
#define MUXSHIM_FALLBACK_H

#include <stddef.h>

#include "argv.h"

/* The real ssh: $MUXSHIM_REAL_SSH, else the first `ssh` on PATH that is not this program.
 * Returns 0 with the path in out, or -1. */
int fallback_real_ssh(char *out, size_t outlen);
/* How the real ssh reads -P, from what `real_ssh -F /dev/null -G -P x y` takes as the host
 * name; SSH_DIALECT_UNKNOWN when it does not answer. */
enum ssh_dialect fallback_dialect(const char *real_ssh);
/* Exec the real ssh with argv unchanged (argv[0] included) and MUXSHIM_GUARD=1 set; returns
 * only on failure (after printing a one-line error), with 255 to exit with. */
int fallback_exec(const char *real_ssh, char **argv);

#endif
