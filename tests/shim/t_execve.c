/* Calls execve on argv[1] with argv[1..] as its argument vector (shim test). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    execve(argv[1], argv + 1, environ);
    printf("errno=%d\n", errno);
    return 99;
}
