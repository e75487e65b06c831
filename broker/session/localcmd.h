/* LocalCommand with PermitLocalCommand: expanded by the broker, run by muxssh. */
#ifndef MUXSHIM_LOCALCMD_H
#define MUXSHIM_LOCALCMD_H

#include <stddef.h>

#include "objects.h"
#include "sshconfig.h"

/* At resolve time: the session's expanded LocalCommand (NULL when there is none or
 * PermitLocalCommand is off); returns NULL, or why the real ssh must run it instead. */
const char *localcmd_prepare(struct session *s);
/* Whether a session waiting for its connection must first have its LocalCommand run by its
 * client: sends LOCAL_COMMAND once and returns 1 until LOCAL_DONE came back, then 0. */
int localcmd_pending(struct session *s);
/* The client reported LOCAL_DONE: the session may go on. */
void localcmd_done(struct session *s);
/* The client reported FORWARDS_DONE: its forwards are bound, the session may go on. */
void localcmd_forwards_done(struct session *s);

#endif
