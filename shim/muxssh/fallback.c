/* Running the real ssh when muxshim cannot serve a session. */
#include "fallback.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Is path an executable file other than the program running now? */
static int other_executable(const char *path, const struct stat *self)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0)
        return 0;
    return !self || st.st_dev != self->st_dev || st.st_ino != self->st_ino;
}

int fallback_real_ssh(char *out, size_t outlen)
{
    struct stat self, *selfp = stat("/proc/self/exe", &self) == 0 ? &self : NULL;
    const char *env = getenv("MUXSHIM_REAL_SSH");
    if (env && env[0] == '/' && other_executable(env, selfp)) {
        snprintf(out, outlen, "%s", env);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/bin:/usr/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        char cand[PATH_MAX];
        if (n == 0)
            snprintf(cand, sizeof cand, "ssh");
        else
            snprintf(cand, sizeof cand, "%.*s/ssh", (int)n, path);
        if (other_executable(cand, selfp)) {
            snprintf(out, outlen, "%s", cand);
            return 0;
        }
        path += n + (colon != NULL);
    }
    return -1;
}

/* Runs real_ssh with the words v (v[0] is argv[0]), stdin and stderr /dev/null and the shim
 * inert, and hands each line of its stdout to on_line (over-long lines are skipped). Returns
 * 0 when it exited with 0, else -1. */
static int ask_ssh(const char *real_ssh, char **v, void (*on_line)(const char *, void *), void *arg)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(null, 2) < 0)
            _exit(127);
        setenv("MUXSHIM_GUARD", "1", 1);
        execv(real_ssh, v);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    char buf[4096], line[1024];
    size_t n = 0;
    int skip = 0;
    for (;;) {
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++) {
            if (buf[i] != '\n') {
                if (n + 1 < sizeof line)
                    line[n++] = buf[i];
                else
                    skip = 1;
                continue;
            }
            line[n] = 0;
            if (!skip)
                on_line(line, arg);
            n = 0;
            skip = 0;
        }
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* An `ssh -G -P x y` output line: which word became the host name? */
static void line_hostname(const char *line, void *arg)
{
    enum ssh_dialect *d = arg;
    if (!strcmp(line, "hostname x"))
        *d = SSH_DIALECT_P_FLAG;
    else if (!strcmp(line, "hostname y"))
        *d = SSH_DIALECT_P_TAG;
}

enum ssh_dialect fallback_dialect(const char *real_ssh)
{
    char *v[] = {"ssh", "-F", "/dev/null", "-G", "-P", "x", "y", NULL};
    enum ssh_dialect d = SSH_DIALECT_UNKNOWN;
    if (ask_ssh(real_ssh, v, line_hostname, &d) < 0)
        return SSH_DIALECT_UNKNOWN;
    return d;
}

int fallback_exec(const char *real_ssh, char **argv)
{
    /* Unchanged: no multiplexing of ours, so the session gets exactly what plain ssh gives
     * it (its own X11, agent, environment and forwardings; no master holding its pipes). */
    setenv("MUXSHIM_GUARD", "1", 1); /* the shim stays inert inside this ssh */
    execv(real_ssh, argv);
    fprintf(stderr, "muxssh: cannot run %s: %s\n", real_ssh, strerror(errno));
    return 255;
}
