/* The runtime directory's checks (runtime_open) and who serves broker.sock (runtime_dial):
 * a relative MUXSHIM_DIR, a missing, created, open, symlinked, non-directory, too long,
 * foreign or shared directory, no listener, our own listener, and (as root) a listener of
 * another uid, which must receive nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "runtime.h"

#define OTHER_UID 65534

static char base[64];

static int open_with(const char *dir, int create, int *fd, struct runtime_found *f, char *out)
{
    setenv("MUXSHIM_DIR", dir, 1);
    return runtime_open(out, RUNTIME_PATH_MAX, create, fd, f);
}

/* A listening socket bound at path, or -1. */
static int listen_at(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 4) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

static void test_directory(void)
{
    char out[RUNTIME_PATH_MAX], path[128], err[256];
    struct runtime_found f;
    int fd;
    CHECK(open_with("rel/dir", 1, &fd, &f, out) == RT_RELATIVE && fd == -1, "relative refused");
    CHECK(access("rel", F_OK) < 0, "a relative directory is not created");
    setenv("MUXSHIM_DIR", "rel/dir", 1);
    CHECK(runtime_dir(out, sizeof out, 1, err, sizeof err) < 0 &&
              !strcmp(err, "MUXSHIM_DIR is not an absolute path: rel/dir"),
          "relative: %s", err);
    snprintf(path, sizeof path, "%s/rt", base);
    CHECK(open_with(path, 0, &fd, &f, out) == RT_MISSING, "missing, not created");
    CHECK(open_with(path, 1, &fd, &f, out) == RT_OK && fd >= 0 && !strcmp(out, path), "created: %s",
          out);
    struct stat a, b;
    CHECK(fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
              (b.st_mode & 0777) == 0700 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
          "the descriptor is the directory, 0700, close-on-exec");
    if (fd >= 0)
        close(fd);
    CHECK(open_with(path, 0, NULL, &f, out) == RT_OK, "no descriptor asked");
    chmod(path, 0750);
    CHECK(open_with(path, 0, NULL, &f, out) == RT_MODE && f.mode == 0750, "group access");
    chmod(path, 0700);
    char link[128];
    snprintf(link, sizeof link, "%s/link", base);
    CHECK(symlink(path, link) == 0, "symlink made");
    CHECK(open_with(link, 1, &fd, &f, out) == RT_SYMLINK && fd == -1, "a symlink is refused");
    runtime_why_text(RT_SYMLINK, link, &f, err, sizeof err);
    CHECK(strstr(err, "is a symbolic link") != NULL, "symlink: %s", err);
    char file[128];
    snprintf(file, sizeof file, "%s/file", base);
    close(open(file, O_CREAT | O_WRONLY, 0600));
    CHECK(open_with(file, 1, &fd, &f, out) == RT_NOT_DIR, "a file is refused");
    char longest[128]; /* 95 bytes: "/broker.sock" after it would not fit sun_path */
    snprintf(longest, sizeof longest, "/tmp/%090d", 0);
    CHECK(open_with(longest, 0, &fd, &f, out) == RT_TOO_LONG, "too long for the sockets");
    longest[94] = '\0'; /* 94 bytes fit: only missing */
    CHECK(open_with(longest, 0, &fd, &f, out) == RT_MISSING, "94 bytes are not too long");
    unsetenv("MUXSHIM_DIR");
    if (getuid() != 0) {
        printf("# skip: the foreign directory needs root\n");
        return;
    }
    char theirs[128];
    snprintf(theirs, sizeof theirs, "%s/theirs", base);
    mkdir(theirs, 0700);
    CHECK(chown(theirs, OTHER_UID, OTHER_UID) == 0, "chown");
    CHECK(open_with(theirs, 1, &fd, &f, out) == RT_OWNER && f.uid == OTHER_UID,
          "another uid's directory: uid %u", f.uid);
}

/* As root: a child of another uid listens, the socket is moved into our directory; dial
 * must refuse it, and the child must have received 0 bytes. */
static void test_impostor(const char *dir)
{
    if (getuid() != 0) {
        printf("# skip: the impostor needs root\n");
        return;
    }
    char shared[96], sock[128], there[160];
    snprintf(shared, sizeof shared, "%s/shared", base);
    snprintf(sock, sizeof sock, "%s/l.sock", shared);
    snprintf(there, sizeof there, "%s/broker.sock", dir);
    mkdir(shared, 0777);
    chmod(shared, 0777);
    int ready[2], told[2];
    if (pipe(ready) < 0 || pipe(told) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(OTHER_UID) < 0 || setuid(OTHER_UID) < 0)
            _exit(1);
        int l = listen_at(sock);
        chmod(sock, 0777);
        if (write(ready[1], l >= 0 ? "y" : "n", 1) != 1 || l < 0)
            _exit(1);
        int c = accept(l, NULL, NULL);
        long got = 0;
        char buf[256];
        ssize_t n;
        while (c >= 0 && (n = read(c, buf, sizeof buf)) > 0)
            got += n;
        dprintf(told[1], "%ld", c >= 0 ? got : -1);
        _exit(0);
    }
    close(ready[1]);
    close(told[1]);
    char y = 0;
    CHECK(read(ready[0], &y, 1) == 1 && y == 'y', "the other uid listens");
    CHECK(rename(sock, there) == 0, "its socket moved into our directory: %s", strerror(errno));
    struct runtime_found f;
    int s;
    int why = runtime_dial(dir, 0, NULL, &s, &f);
    CHECK(why == RT_IMPOSTOR && s == -1 && f.uid == OTHER_UID, "impostor refused: %d uid %u", why,
          f.uid);
    if (s >= 0)
        close(s);
    char said[32] = "";
    ssize_t n = read(told[0], said, sizeof said - 1);
    said[n > 0 ? n : 0] = 0;
    CHECK(!strcmp(said, "0"), "the impostor received nothing: %s bytes", said);
    waitpid(pid, NULL, 0);
    char err[256];
    runtime_why_text(why, dir, &f, err, sizeof err);
    CHECK(strstr(err, "is served by uid 65534, not by uid 0") != NULL, "message: %s", err);
    unlink(there);
    close(ready[0]);
    close(told[0]);
}

static void test_dial(void)
{
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/rt", base);
    snprintf(path, sizeof path, "%s/broker.sock", dir);
    struct runtime_found f;
    int s;
    CHECK(runtime_dial(dir, 0, NULL, &s, &f) == RT_NO_BROKER && s == -1, "nobody listens");
    int l = listen_at(path);
    CHECK(l >= 0, "our listener");
    CHECK(runtime_dial(dir, 1, NULL, &s, &f) == RT_OK && s >= 0, "our own uid is accepted");
    if (s >= 0)
        close(s);
    close(l);
    unlink(path);
    test_impostor(dir);
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/muxrt-XXXXXX");
    if (!mkdtemp(base) || chdir(base) < 0) {
        printf("cannot make a directory\n");
        return 1;
    }
    chmod(base, 0755);
    test_directory();
    test_dial();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd) != 0)
        printf("# cannot remove %s\n", base);
    printf("runtime: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
