/* Starting a helper command (ProxyCommand, KnownHostsCommand) from a worker thread. */
#ifndef MUXSHIM_CHILD_H
#define MUXSHIM_CHILD_H

#include <sys/types.h>

/* posix_spawn argv[0] (a path) with env, in cwd (NULL or "": unchanged), fd0/fd1/fd2 as its
 * stdin/stdout/stderr (fd0 -1: /dev/null; fd2 -1: inherited), every other fd closed, and
 * ssh's signal state for a child (nothing blocked, every handler default: workers block all
 * signals and the broker ignores SIGPIPE). Returns 0 with *pid, or the errno value. */
int spawn_child(char *const *argv, char *const *env, const char *cwd, int fd0, int fd1, int fd2,
                pid_t *pid);

#endif
