/* Starting a helper command (ProxyCommand, KnownHostsCommand) from a worker thread. */
#include "child.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

int spawn_child(char *const *argv, char *const *env, const char *cwd, int fd0, int fd1, int fd2,
                pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    if (fd0 >= 0)
        posix_spawn_file_actions_adddup2(&fa, fd0, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd1, 1);
    if (fd2 >= 0)
        posix_spawn_file_actions_adddup2(&fa, fd2, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (cwd && *cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int e = posix_spawn(pid, argv[0], &fa, &at, argv, (char **)env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return e;
}
