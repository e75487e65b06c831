/* posix_spawn (argv[1] == "p": posix_spawnp) of argv[2] with argv[2..]; with $SPAWN_OUT,
 * the child's stdout goes to that file through a file action. Exits with the child's
 * status, or prints the error. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const char *out = getenv("SPAWN_OUT");
    if (out)
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = !strcmp(argv[1], "p") ? posix_spawnp(&pid, argv[2], &fa, NULL, argv + 2, environ)
                                   : posix_spawn(&pid, argv[2], &fa, NULL, argv + 2, environ);
    if (rc != 0) {
        printf("errno=%d\n", rc);
        return 99;
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
