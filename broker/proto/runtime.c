/* The runtime directory's messages, and the paths and settings in it (runtime_core.c holds
 * the checks). */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int runtime_path(const char *dir, const char *name, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

void runtime_why_text(int why, const char *dir, const struct runtime_found *found, char *err,
                      size_t errlen)
{
    unsigned me = (unsigned)getuid();
    switch (why) {
    case RT_RELATIVE:
        snprintf(err, errlen, "MUXSHIM_DIR is not an absolute path: %s", dir);
        break;
    case RT_TOO_LONG:
        snprintf(err, errlen, "runtime directory path is too long for a socket");
        break;
    case RT_MISSING:
    case RT_UNUSABLE:
        snprintf(err, errlen, "runtime directory %s: %s", dir, strerror(found->err));
        break;
    case RT_SYMLINK:
        snprintf(err, errlen, "runtime directory %s is a symbolic link", dir);
        break;
    case RT_NOT_DIR:
        snprintf(err, errlen, "runtime directory %s is not a directory", dir);
        break;
    case RT_OWNER:
        snprintf(err, errlen, "runtime directory %s is owned by uid %u, not by uid %u", dir,
                 found->uid, me);
        break;
    case RT_MODE:
        snprintf(err, errlen, "runtime directory %s has mode %04o, want 0700", dir, found->mode);
        break;
    case RT_NO_BROKER:
        snprintf(err, errlen, "no broker is listening in %s", dir);
        break;
    case RT_IMPOSTOR:
        if (found->uid == (unsigned)-1)
            snprintf(err, errlen, "%s/broker.sock: cannot tell who serves it", dir);
        else
            snprintf(err, errlen, "%s/broker.sock is served by uid %u, not by uid %u", dir,
                     found->uid, me);
        break;
    default:
        snprintf(err, errlen, "runtime directory %s is usable", dir);
    }
}

int runtime_dir(char *out, size_t outlen, int create, char *err, size_t errlen)
{
    struct runtime_found found;
    int why = runtime_open(out, outlen, create, NULL, &found);
    if (why == RT_OK)
        return 0;
    runtime_why_text(why, out, &found, err, errlen);
    return -1;
}

int runtime_persist_default(void)
{
    const char *s = getenv("MUXSHIM_PERSIST");
    if (!s || !*s)
        return RUNTIME_DEFAULT_PERSIST;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > 86400 * 365)
        return RUNTIME_DEFAULT_PERSIST;
    return (int)v;
}
