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

#include "runtime.h"

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

char **fallback_argv(int argc, char **argv, const char *ctl_dir, int persist)
{
    char **v = calloc((size_t)argc + 8, sizeof *v);
    if (!v)
        return NULL;
    int n = 0;
    v[n++] = argv[0];
    if (ctl_dir) {
        char *path = NULL, *keep = NULL;
        if (asprintf(&path, "ControlPath=%s/cm-%%C", ctl_dir) < 0)
            path = NULL;
        if (asprintf(&keep, "ControlPersist=%d", persist) < 0)
            keep = NULL;
        if (!path || !keep) {
            free(path);
            free(keep);
            free(v);
            return NULL;
        }
        v[n++] = "-o";
        v[n++] = "ControlMaster=auto";
        v[n++] = "-o";
        v[n++] = path;
        v[n++] = "-o";
        v[n++] = keep;
    }
    for (int i = 1; i < argc; i++)
        v[n++] = argv[i];
    v[n] = NULL;
    return v;
}

/* Is this `ssh -G` output line "KEY VALUE" with a value that turns multiplexing on? */
static int line_controls(const char *line)
{
    if (!strncmp(line, "controlmaster ", 14))
        return strcmp(line + 14, "false") != 0;
    if (!strncmp(line, "controlpath ", 12))
        return strcmp(line + 12, "none") != 0;
    return 0;
}

int fallback_config_controls(const char *real_ssh, int argc, char **argv)
{
    char **v = calloc((size_t)argc + 2, sizeof *v);
    int fds[2], found = 1;
    if (!v || pipe2(fds, O_CLOEXEC) < 0) {
        free(v);
        return 1;
    }
    v[0] = argv[0];
    v[1] = "-G";
    for (int i = 1; i < argc; i++)
        v[i + 1] = argv[i];
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(null, 2) < 0)
            _exit(127);
        setenv("MUXSHIM_GUARD", "1", 1);
        execv(real_ssh, v);
        _exit(127);
    }
    free(v);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return 1;
    }
    /* Line by line; only the two keys matter, so over-long lines are skipped. */
    char buf[4096], line[1024];
    size_t n = 0;
    int seen = 0, skip = 0;
    found = 0;
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
            if (!skip) {
                seen |= !strncmp(line, "controlmaster ", 14);
                found |= line_controls(line);
            }
            n = 0;
            skip = 0;
        }
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* No answer from ssh -G (bad argv, missing -F file): do not add anything. */
    if (!seen || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    return found;
}

int fallback_exec(const char *real_ssh, int argc, char **argv, const char *ctl_dir)
{
    char **v = fallback_argv(argc, argv, ctl_dir, runtime_persist_default());
    if (!v) {
        fprintf(stderr, "muxssh: out of memory\n");
        return 255;
    }
    setenv("MUXSHIM_GUARD", "1", 1); /* the shim stays inert inside this ssh */
    execv(real_ssh, v);
    fprintf(stderr, "muxssh: cannot run %s: %s\n", real_ssh, strerror(errno));
    return 255;
}
