/* muxbroker: the per-user daemon that holds shared SSH connections. Its modules are in
 * broker/'s folders (docs/layout.md); what it says to muxssh, docs/protocol.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libssh2.h>

#include "objects.h"
#include "engine.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "runtime.h"

#define LOG_ROTATE_BYTES (1024 * 1024)

/* What the loop's tick (tick below) looks after. */
static struct {
    int lock;      /* broker.lock, open */
    int locked;    /* we hold it (a socket-activated broker may serve before it does) */
    int inherited; /* we serve the socket systemd passed */
    char sock[RUNTIME_PATH_MAX + 16];
    dev_t dev; /* the socket file we bound at sock (not inherited) */
    ino_t ino;
} me = {.lock = -1};

/* Tell the starting muxssh how it went ("ok", "busy" or "error: …"), then let go of it. */
static void ready(int fd, const char *word)
{
    if (fd < 0)
        return;
    ssize_t w = write(fd, word, strlen(word));
    w = write(fd, "\n", 1);
    (void)w;
    close(fd);
}

static int open_log(const char *dir)
{
    char path[RUNTIME_PATH_MAX + 16], old[RUNTIME_PATH_MAX + 16];
    struct stat st;
    if (runtime_path(dir, "broker.log", path, sizeof path) < 0)
        return -1;
    if (stat(path, &st) == 0 && st.st_size > LOG_ROTATE_BYTES &&
        runtime_path(dir, "broker.log.old", old, sizeof old) == 0)
        rename(path, old);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    dup2(fd, STDERR_FILENO);
    close(fd);
    return 0;
}

/* Does something listen on sa's path (systemd's socket, with no broker behind it yet)? A
 * connection that systemd takes starts the socket-activated broker, which the client that
 * started us is about to reach anyway; nothing is sent. */
static int someone_listens(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    int listens = rc == 0 || errno == EAGAIN; /* (EAGAIN: its backlog is full) */
    close(fd);
    return listens;
}

/* Bind and listen on DIR's broker.sock, recording the file made in me: the socket, -1 with
 * err, or -2 when another listener (systemd's socket) has the path: it is left alone. */
static int listen_on(const char *dir, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (runtime_path(dir, "broker.sock", sa.sun_path, sizeof sa.sun_path) < 0) {
        snprintf(err, errlen, "socket path too long");
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(077);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc < 0 && errno == EADDRINUSE) {
        if (someone_listens(&sa)) {
            umask(old);
            close(fd);
            return -2;
        }
        unlink(sa.sun_path); /* stale: we hold the lock and nobody listens there */
        rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    }
    umask(old);
    struct stat st;
    if (rc < 0 || listen(fd, 128) < 0 || stat(sa.sun_path, &st) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", sa.sun_path, strerror(errno));
        close(fd);
        return -1;
    }
    me.dev = st.st_dev;
    me.ino = st.st_ino;
    return fd;
}

/* Is me.sock still the file we bound? Not once systemd's socket unit took the path (it
 * unlinks what is there and binds its own) or someone removed it. */
static int still_ours(void)
{
    struct stat st;
    return stat(me.sock, &st) == 0 && st.st_dev == me.dev && st.st_ino == me.ino;
}

/* Hold broker.lock and write our pid in it: 0, or -1 while another broker holds it. */
static int take_lock(void)
{
    if (flock(me.lock, LOCK_EX | LOCK_NB) < 0)
        return -1;
    me.locked = 1;
    /* The lock file names the broker's pid, for tests and `muxrun status`. */
    char pidtxt[32];
    int pn = snprintf(pidtxt, sizeof pidtxt, "%ld\n", (long)getpid());
    if (ftruncate(me.lock, 0) < 0 || pwrite(me.lock, pidtxt, (size_t)pn, 0) != pn)
        blog("cannot record the pid in broker.lock");
    return 0;
}

/* Once a second from the loop. A socket-activated broker that started while another held
 * broker.lock takes it once that one is gone; a broker whose socket file is no longer at its
 * path (systemd's socket took it) hands over: clients reach the other one from now on. */
static int tick(void)
{
    if (!me.locked && take_lock() == 0)
        blog("holding broker.lock now: the broker before us has finished");
    if (!me.inherited && !still_ours()) {
        blog("%s is no longer this broker's socket (systemd's, or removed): no new clients; "
             "exiting once the sessions (and ssh -O forward's forwards) here end",
             me.sock);
        return LOOP_HAND_OVER;
    }
    return LOOP_GO_ON;
}

/* The listening socket systemd passes (socket activation, sd_listen_fds(3) without
 * libsystemd): LISTEN_PID is this process, LISTEN_FDS is 1, and descriptor 3 is a listening
 * stream socket. -1 when there is none. The variables go either way, so that no child of
 * ours takes them for its own. */
static int inherited_socket(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int fd = -1, type = 0, listening = 0;
    socklen_t len = sizeof type, len2 = sizeof listening;
    char *end;
    if (pid && fds && !strcmp(fds, "1")) {
        long p = strtol(pid, &end, 10);
        if (!*end && p == (long)getpid() && getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
            type == SOCK_STREAM &&
            getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len2) == 0 && listening)
            fd = 3;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (fd >= 0 && (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
                    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0))
        fd = -1;
    return fd;
}

/* Is the inherited socket FD bound to DIR's broker.sock, where the clients look? */
static int socket_is_ours(int fd, const char *dir, char *err, size_t errlen)
{
    struct sockaddr_un sa = {0}, want = {0};
    socklen_t len = sizeof sa;
    if (runtime_path(dir, "broker.sock", want.sun_path, sizeof want.sun_path) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX ||
        strncmp(sa.sun_path, want.sun_path, sizeof sa.sun_path)) {
        snprintf(err, errlen, "the socket systemd passed is not %s", want.sun_path);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    int ready_fd = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ready-fd") && i + 1 < argc)
            ready_fd = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-V")) {
            char pq[256];
            engine_pq_kexes(pq, sizeof pq);
            printf("muxbroker: libssh2 %s (built with %s), %s%s, %s\n", engine_version(),
                   engine_built_version(),
                   pq[0] ? "post-quantum key exchange: " : "no post-quantum key exchange", pq,
                   engine_has_rfwd_streamlocal() ? "remote socket forwards"
                                                 : "no remote socket forwards");
            return 0;
        } else {
            fprintf(stderr, "muxbroker: usage: muxbroker [-V] [--ready-fd N]\n");
            return 2;
        }
    }
    int inherited = inherited_socket(); /* before anything opens a descriptor */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    struct sigaction sa = {.sa_handler = loop_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* Our own children (ssh -G) must run the real ssh, never the shim. */
    unsetenv("LD_PRELOAD");
    setenv("MUXSHIM_DISABLE", "1", 1);

    char err[256], dir[RUNTIME_PATH_MAX];
    struct runtime_found found;
    int dirfd, why = runtime_open(dir, sizeof dir, 1, &dirfd, &found);
    if (why != RT_OK) {
        char msg[300];
        runtime_why_text(why, dir, &found, err, sizeof err);
        snprintf(msg, sizeof msg, "error: %s", err);
        ready(ready_fd, msg);
        return 1;
    }
    /* Enter the directory that was checked, not whatever its path names by now. */
    int entered = fchdir(dirfd);
    close(dirfd);
    if (entered < 0) {
        ready(ready_fd, "error: cannot enter the runtime directory");
        return 1;
    }
    char lockpath[RUNTIME_PATH_MAX + 16];
    runtime_path(dir, "broker.lock", lockpath, sizeof lockpath);
    runtime_path(dir, "broker.sock", me.sock, sizeof me.sock);
    me.inherited = inherited >= 0;
    me.lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (me.lock < 0) {
        ready(ready_fd, "error: cannot open the lock file");
        return 1;
    }
    /* Another broker runs or is starting. One muxssh started is told so and finds it; one
     * systemd started serves its socket all the same, where clients now connect (exiting
     * would have systemd start it again and again, and leave them with no broker), and takes
     * the lock once the other, no longer reachable, has finished its sessions (tick). */
    if (take_lock() < 0 && !me.inherited) {
        ready(ready_fd, "busy");
        return 0;
    }
    open_log(dir);
    if (!me.locked) {
        char holder[32] = "";
        ssize_t n = pread(me.lock, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        blog("broker.lock is held by pid %s: serving the socket systemd passed; that broker "
             "exits once its sessions end",
             holder[0] ? holder : "?");
    }
    int listen_fd = inherited >= 0
                        ? (socket_is_ours(inherited, dir, err, sizeof err) ? inherited : -1)
                        : listen_on(dir, err, sizeof err);
    if (listen_fd == -2) { /* systemd's socket: the client that started us connects there */
        ready(ready_fd, "busy");
        return 0;
    }
    if (listen_fd < 0 || jobs_init() < 0 || libssh2_init(0) != 0) {
        blog("cannot start: %s", listen_fd < 0 ? err : "init failed");
        char msg[300];
        snprintf(msg, sizeof msg, "error: %s", listen_fd < 0 ? err : "init failed");
        ready(ready_fd, msg);
        return 1;
    }
    blog("started in %s%s", dir, inherited >= 0 ? " on the socket systemd passed" : "");
    ready(ready_fd, "ok");

    int rc = loop_run(listen_fd, tick);

    /* Unlink first so that new clients start a new broker instead of talking to us; a
     * socket systemd passed stays: systemd listens on it again and starts us anew. So does
     * one that systemd bound at our path while we ran (still_ours). */
    if (!me.inherited && still_ours())
        unlink(me.sock);
    close(listen_fd);
    pool_shutdown();
    loop_reap(); /* frees what the shutdown released */
    blog("stopped");
    libssh2_exit();
    close(me.lock);
    return rc;
}
