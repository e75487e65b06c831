/* Calls fexecve on argv[1] with argv[1..] as its argument vector (shim test). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>
extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("errno=%d\n", errno);
        return 99;
    }
    fexecve(fd, argv + 1, environ);
    printf("errno=%d\n", errno);
    return 99;
}
