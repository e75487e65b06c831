/* libFuzzer target: ssh's command line as muxssh parses it. The input is split at NUL or
 * newline bytes into at most 256 words after "ssh"; a parse that succeeds must describe
 * argv consistently (options, destination, command), one that fails must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"

#define MAX_WORDS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    char *argv[MAX_WORDS + 2];
    int argc = 0;
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[argc++] = "ssh";
    char *w = copy;
    for (size_t i = 0; i <= size && argc <= MAX_WORDS; i++) {
        if (copy[i] == '\n' || copy[i] == '\0') {
            copy[i] = '\0';
            argv[argc++] = w;
            w = copy + i + 1;
        }
    }
    argv[argc] = NULL;
    struct ssh_args a;
    char err[512] = "";
    if (ssh_args_parse(argc, argv, &a, err, sizeof err) == 0) {
        int n = 0;
        while (a.opts && a.opts[n])
            n++;
        if (n != a.nopts || !a.command || n > 2 * argc + 4)
            abort();
        if (a.ncommand_words == 0 && a.command[0])
            abort();
        if (a.dest) { /* the destination is one of the words given */
            int found = 0;
            for (int i = 1; i < argc && !found; i++)
                found = a.dest == argv[i];
            if (!found)
                abort();
        }
        ssh_args_free(&a);
    } else if (!err[0] || strchr(err, '\n')) {
        abort();
    }
    free(copy);
    return 0;
}
