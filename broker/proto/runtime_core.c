/* The runtime directory and the broker's socket, checked: the one place that decides
 * whether muxssh, muxbroker and the shim use them. The shim links this file, so: stack
 * buffers and system calls only, no heap, no stdio, no locks. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int runtime_join(char *out, size_t cap, const char *a, const char *b, const char *c)
{
    const char *part[3] = {a, b, c ? c : ""};
    size_t n = 0;
    if (!cap)
        return -1;
    for (int i = 0; i < 3; i++)
        for (const char *p = part[i]; *p; p++) {
            if (n + 1 >= cap) {
                out[n] = '\0';
                return -1;
            }
            out[n++] = *p;
        }
    out[n] = '\0';
    return (int)n;
}

static void utoa(unsigned v, char out[12])
{
    char t[12];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 11);
    for (int i = 0; i < n; i++)
        out[i] = t[n - 1 - i];
    out[n] = '\0';
}

/* Why a failed open of path is failing, from errno e. */
static int open_failure(const char *path, int e)
{
    struct stat st;
    if (e == ENOENT)
        return RT_MISSING;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        return RT_SYMLINK;
    return e == ENOTDIR ? RT_NOT_DIR : RT_UNUSABLE;
}

int runtime_open(char *out, size_t outlen, int create, int *dirfd, struct runtime_found *found)
{
    const char *env = getenv("MUXSHIM_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
    char uid[12];
    int n;
    *found = (struct runtime_found){0};
    if (dirfd)
        *dirfd = -1;
    if (env && *env) {
        n = runtime_join(out, outlen, env, "", "");
        if (*env != '/')
            return RT_RELATIVE; /* the broker enters it: relative to what, then? */
    } else if (xdg && *xdg == '/') {
        n = runtime_join(out, outlen, xdg, "/muxshim", "");
    } else {
        utoa((unsigned)getuid(), uid);
        n = runtime_join(out, outlen, "/tmp/muxshim-", uid, "");
    }
    /* Leave room for "/broker.sock", the longest socket name in it, inside sun_path. */
    if (n < 0 || n >= RUNTIME_PATH_MAX - (int)sizeof "/broker.sock")
        return RT_TOO_LONG;
    if (create && mkdir(out, 0700) < 0 && errno != EEXIST) {
        found->err = errno;
        return RT_UNUSABLE;
    }
    /* O_PATH: a directory of another account is opened (and named) all the same. */
    int fd = open(out, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        found->err = errno;
        return open_failure(out, found->err);
    }
    struct stat st;
    int why = RT_OK;
    if (fstat(fd, &st) < 0) {
        found->err = errno;
        why = RT_UNUSABLE;
    } else if (S_ISLNK(st.st_mode)) {
        why = RT_SYMLINK;
    } else if (!S_ISDIR(st.st_mode)) {
        why = RT_NOT_DIR;
    } else if (st.st_uid != getuid()) {
        found->uid = (unsigned)st.st_uid;
        why = RT_OWNER;
    } else if (st.st_mode & 077) {
        found->mode = (unsigned)(st.st_mode & 07777);
        why = RT_MODE;
    }
    if (why == RT_OK && dirfd)
        *dirfd = fd;
    else
        close(fd);
    return why;
}

int runtime_dial(const char *dir, int nonblock, runtime_connect_fn conn, int *sock,
                 struct runtime_found *found)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    *sock = -1;
    *found = (struct runtime_found){0};
    if (runtime_join(sa.sun_path, sizeof sa.sun_path, dir, "/broker.sock", "") < 0)
        return RT_TOO_LONG;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (s < 0) {
        found->err = errno;
        return RT_NO_BROKER;
    }
    if ((conn ? conn : connect)(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        found->err = errno;
        close(s);
        return RT_NO_BROKER;
    }
    /* Who listens: argv, environment and answers to passwords go only to our own uid. */
    struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
    socklen_t len = sizeof cred;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof cred ||
        cred.uid != getuid()) {
        found->uid = (unsigned)cred.uid; /* -1 when the kernel did not say */
        close(s);
        return RT_IMPOSTOR;
    }
    *sock = s;
    return RT_OK;
}
