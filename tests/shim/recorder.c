/* Stands in for muxssh in the shim tests: appends its argv and MUXSHIM_REAL_SSH to $RECORD,
 * says "recorded" on stdout and exits 42. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *path = getenv("RECORD");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (!f)
        return 3;
    for (int i = 0; i < argc; i++)
        fprintf(f, "%s%s", i ? " " : "", argv[i]);
    const char *real = getenv("MUXSHIM_REAL_SSH");
    fprintf(f, "\nreal=%s\n", real ? real : "(unset)");
    fclose(f);
    puts("recorded");
    return 42;
}
