/* Calls execle on argv[1] with argv[1..] as its argument vector (shim test). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    execle(argv[1], argv[1], argc > 2 ? argv[2] : NULL, argc > 3 ? argv[3] : NULL, (char *)NULL,
           environ);
    printf("errno=%d\n", errno);
    return 99;
}
