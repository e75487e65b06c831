/* Jump hosts: ProxyJump read as ssh reads it, and the ssh options that reach the last hop. */
#ifndef MUXSHIM_JUMP_H
#define MUXSHIM_JUMP_H

#include <stddef.h>

/* From a ProxyJump value ("a,u@b:2200", ssh:// forms too) and the option words the
 * session was started with, the destination of the last hop and the option words ssh's own
 * ProxyJump would give it: -l and -p from the hop, -J with the hops before it, and -F if
 * the command line had one. *opts is heap (free with proto_strv_free). 0, or -1 with err. */
int jump_hop(const char *proxyjump, char *const *origin_opts, char ***opts, char *dest,
             size_t destlen, char *err, size_t errlen);

#endif
