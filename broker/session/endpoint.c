/* A session's endpoints (the client's stdin, stdout and stderr, or the broker's own end of a
 * routed connection): how the one event loop reads and writes them without ever waiting on a
 * client, and without changing the file status flags of a description the user still has.
 *
 * A passed fd shares its open file description (and so its O_NONBLOCK) with the user's shell
 * and every other process holding the same terminal or pipe. So when the session starts:
 *   - a terminal or a pipe is reopened through /proc/self/fd/N: a new description of the same
 *     tty or pipe, non-blocking, private to the broker; the passed fd is closed at once;
 *   - a socket keeps its flags and is read and written with MSG_DONTWAIT;
 *   - a regular file, a block device, /dev/null and the like never block: used as they are;
 *   - what cannot be reopened falls back, see endpoint_nonblock. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "session_int.h"

/* A blocking fd is only touched when poll said it is ready, and then at most this much per
 * write: a terminal reports POLLOUT only while fewer than 256 bytes wait in its output buffer
 * and it has room (none while stopped by ^S), so a write this small does not wait, but for
 * the rare one that finds less room than that, or a ^S landing between poll and write. */
#define GATED_CHUNK 256

void session_endpoint_ready(struct endpoint *e)
{
    e->ready = 1;
}

/* Take fd as the endpoint, noting whether it is a terminal; its flags are untouched until the
 * session starts running (sess_endpoint_nonblock). Until then a terminal is only read when
 * poll said so. */
void sess_endpoint_open(struct endpoint *e, int fd)
{
    e->fd = fd;
    e->saved_flags = -1;
    e->ready = 0;
    e->tty = fd >= 0 && isatty(fd);
    e->gated = e->tty;
    e->sock = 0;
}

/* A pty master (/dev/ptmx, or a devpts instance's ptmx: both char 5:2). Opening it again would
 * make a new pty rather than a second description of this one. */
static int is_ptmx(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && major(st->st_rdev) == 5 && minor(st->st_rdev) == 2;
}

/* /dev/null, /dev/zero, /dev/full (char 1:3, 1:5, 1:7) never block, as regular files do. */
static int never_blocks(const struct stat *st)
{
    if (S_ISREG(st->st_mode) || S_ISBLK(st->st_mode) || S_ISDIR(st->st_mode))
        return 1;
    return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 &&
           (minor(st->st_rdev) == 3 || minor(st->st_rdev) == 5 || minor(st->st_rdev) == 7);
}

/* A new non-blocking description of the tty or pipe fd is, with fd's access mode: -1 if the
 * broker cannot open it, or it is not the same file. Never O_RDWR on a pipe: holding its other
 * end would hide the EOF (or EPIPE) the session waits for. */
static int reopen(int fd, int fl, const struct stat *st)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int nfd = open(path, (fl & O_ACCMODE) | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (nfd < 0)
        return -1;
    struct stat nst;
    if (fstat(nfd, &nst) < 0 || nst.st_dev != st->st_dev || nst.st_ino != st->st_ino ||
        nst.st_rdev != st->st_rdev) {
        close(nfd);
        errno = ESTALE;
        return -1;
    }
    return nfd;
}

/* The session starts: give the endpoint a way to be read and written that never waits. */
void sess_endpoint_nonblock(struct endpoint *e)
{
    struct stat st;
    if (e->fd < 0 || e->saved_flags != -1 || e->sock || fstat(e->fd, &st) < 0)
        return;
    int fl = fcntl(e->fd, F_GETFL);
    if (fl < 0)
        return;
    if (S_ISSOCK(st.st_mode)) {
        e->sock = 1; /* MSG_DONTWAIT per call; a shared socket's flags stay the caller's */
        e->gated = 0;
        return;
    }
    if (never_blocks(&st)) {
        e->gated = 0;
        return;
    }
    if (fl & O_NONBLOCK) {
        e->gated = 0; /* already so: nothing of the caller's to change */
        return;
    }
    int fifo = S_ISFIFO(st.st_mode);
    if ((e->tty && !is_ptmx(&st)) || fifo) {
        int nfd = reopen(e->fd, fl, &st);
        if (nfd >= 0) {
            close(e->fd);
            e->fd = nfd;
            e->gated = 0;
            return;
        }
    }
    if (fifo) {
        /* A pipe the broker cannot reopen (unusual: /proc hidden or not mounted): make the
         * shared description non-blocking while the session runs, as before there was a
         * reopen, and restore its flags before close. A pipe is not a shell's terminal. */
        e->saved_flags = fl;
        fcntl(e->fd, F_SETFL, fl | O_NONBLOCK);
        e->gated = 0;
        return;
    }
    /* A pty master, a terminal the broker may not open (another user's, e.g. after su), or
     * another device: it must stay blocking (a terminal is never put in non-blocking mode,
     * nor a device whose reopening may mean something else), so it is only touched when poll
     * said it is ready, in GATED_CHUNK writes. */
    e->gated = 1;
}

/* Restore the caller's flags and close our copy. */
void sess_endpoint_close(struct endpoint *e)
{
    if (e->fd < 0)
        return;
    if (e->saved_flags != -1)
        fcntl(e->fd, F_SETFL, e->saved_flags);
    close(e->fd);
    e->fd = -1;
}

ssize_t sess_endpoint_read(struct endpoint *e, void *p, size_t n)
{
    if (e->gated && !e->ready) {
        errno = EAGAIN;
        return -1;
    }
    e->ready = 0;
    return e->sock ? recv(e->fd, p, n, MSG_DONTWAIT) : read(e->fd, p, n);
}

ssize_t sess_endpoint_write(struct endpoint *e, const void *p, size_t n)
{
    if (e->gated) {
        if (!e->ready) {
            errno = EAGAIN;
            return -1;
        }
        e->ready = 0;
        if (n > GATED_CHUNK)
            n = GATED_CHUNK;
    }
    return e->sock ? send(e->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(e->fd, p, n);
}
