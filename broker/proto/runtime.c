/* The per-user runtime directory: location, creation and the 0700/owner check. */
#include "runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int runtime_path(const char *dir, const char *name, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int runtime_dir(char *out, size_t outlen, int create, char *err, size_t errlen)
{
    const char *env = getenv("MUXSHIM_DIR");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (env && *env)
        n = snprintf(out, outlen, "%s", env);
    else if (xdg && *xdg == '/')
        n = snprintf(out, outlen, "%s/muxshim", xdg);
    else
        n = snprintf(out, outlen, "/tmp/muxshim-%u", (unsigned)getuid());
    /* Leave room for "/broker.sock", the longest socket name in it, inside sun_path. */
    if (n < 0 || (size_t)n >= outlen || n >= RUNTIME_PATH_MAX - (int)sizeof "/broker.sock") {
        snprintf(err, errlen, "runtime directory path is too long for a socket");
        return -1;
    }
    if (create && mkdir(out, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create runtime directory %s: %s", out, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(out, &st) < 0) {
        snprintf(err, errlen, "runtime directory %s: %s", out, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "runtime directory %s is not a directory", out);
        return -1;
    }
    if (st.st_uid != getuid()) {
        snprintf(err, errlen, "runtime directory %s is owned by uid %u, not by uid %u", out,
                 (unsigned)st.st_uid, (unsigned)getuid());
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "runtime directory %s has mode %04o, want 0700", out,
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
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
