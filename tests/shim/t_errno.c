/* errno across the shim's constructors: a preinit function (run before every shared
 * library's constructors, the preloaded shim's included) sets errno, main prints it.
 *   t_errno [ARGV0]: with ARGV0 "ssh", the process calls itself ssh, as a real ssh the shim
 *   hands over from would (the hand-over is then off: MUXSHIM_GUARD or no muxssh). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static void set_errno(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    errno = 4242;
}

__attribute__((section(".preinit_array"), used)) static void (*const preinit)(int, char **,
                                                                              char **) = set_errno;

int main(void)
{
    int e = errno;
    printf("errno %d\n", e);
    return e == 4242 ? 0 : 1;
}
