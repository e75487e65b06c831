/* ssh's %-tokens for LocalCommand. */
#ifndef MUXSHIM_PERCENT_H
#define MUXSHIM_PERCENT_H

#include <stddef.h>

#include "sshconfig.h"

/* Expand cfg->localcommand's %-tokens as ssh 9.2's ssh_session2() does (%C %L %i %k %l %n %p
 * %d %h %r %u, %T as NONE, %%). Returns 0, or -1 for an unknown token or a result that does
 * not fit (the real ssh then says why). */
int percent_local_command(const struct hostcfg *cfg, char *out, size_t outlen);

#endif
