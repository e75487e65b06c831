/* Running `ssh -G` as ssh would be run (the caller's ssh, cwd and environment), with a time
 * limit and a size limit on what it prints. */
#include "sshconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sshconfig_int.h"

#define SSH_G_TIMEOUT_MS 10000
#define SSH_G_MAX_OUT (256 * 1024)

/* Reads stdout and stderr of the child until both close or the deadline passes. */
static int drain(int out_fd, int err_fd, char **out, size_t *outlen, char *errbuf, size_t errcap)
{
    size_t cap = 16384, elen = 0;
    *outlen = 0;
    *out = malloc(cap);
    if (!*out)
        return -1;
    struct pollfd pf[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (pf[0].fd >= 0 || pf[1].fd >= 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = SSH_G_TIMEOUT_MS -
                    ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return -2;
        int n = poll(pf, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            char buf[8192];
            ssize_t r = read(pf[i].fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                pf[i].fd = -1;
                continue;
            }
            if (i == 0) {
                if (*outlen + (size_t)r > SSH_G_MAX_OUT)
                    return -1;
                if (*outlen + (size_t)r > cap) {
                    cap = cap * 2 + (size_t)r;
                    char *nb = realloc(*out, cap);
                    if (!nb)
                        return -1;
                    *out = nb;
                }
                memcpy(*out + *outlen, buf, (size_t)r);
                *outlen += (size_t)r;
            } else {
                size_t take = (size_t)r < errcap - 1 - elen ? (size_t)r : errcap - 1 - elen;
                memcpy(errbuf + elen, buf, take);
                elen += take;
                errbuf[elen] = 0;
            }
        }
    }
    return 0;
}

/* Remove from text every line that starts with prefix. ssh -G runs with stdin on
 * /dev/null and says a pty will not be allocated; that is decided per session instead. */
static void drop_line(char *text, const char *prefix)
{
    size_t pl = strlen(prefix);
    char *w = text;
    for (char *r = text; *r;) {
        size_t n = strcspn(r, "\n");
        size_t take = n + (r[n] == '\n');
        if (strncmp(r, prefix, pl) != 0) {
            memmove(w, r, take);
            w += take;
        }
        r += take;
    }
    *w = '\0';
}

/* Runs ssh -G; on success the parsed config, with its stderr kept as warnings, and in *raw
 * the output itself (heap). */
int sshconfig_run_g(const char *real_ssh, const char *cwd, char *const *opts, const char *dest,
                    const char *command, char *const *env, struct hostcfg *cfg, char **raw,
                    size_t *rawlen, char *err, size_t errlen)
{
    int rc = -1, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    char **argv = NULL, **envv = NULL, *out = NULL;
    size_t nopts = 0, nenv = 0, outlen = 0;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    int fa_init = 0;
    char errtext[2048] = "";

    while (opts && opts[nopts])
        nopts++;
    while (env && env[nenv])
        nenv++;
    argv = calloc(nopts + 6, sizeof *argv);
    envv = calloc(nenv + 2, sizeof *envv);
    if (!argv || !envv) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t a = 0;
    argv[a++] = (char *)real_ssh;
    argv[a++] = "-G";
    for (size_t i = 0; i < nopts; i++)
        argv[a++] = opts[i];
    argv[a++] = "--";
    argv[a++] = (char *)dest;
    if (command && command[0])
        argv[a++] = (char *)command;
    size_t e = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(env[i], "LD_PRELOAD=", 11) && strncmp(env[i], "MUXSHIM_DISABLE=", 16))
            envv[e++] = env[i];
    envv[e++] = "MUXSHIM_DISABLE=1";

    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    fa_init = 1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    if (cwd && cwd[0])
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    int sp = posix_spawn(&pid, real_ssh, &fa, NULL, argv, envv);
    if (sp != 0) {
        pid = -1;
        snprintf(err, errlen, "cannot run %s: %s", real_ssh, strerror(sp));
        goto out;
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;
    int d = drain(outp[0], errp[0], &out, &outlen, errtext, sizeof errtext);
    if (d < 0)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (d == -2) {
        snprintf(err, errlen, "ssh -G did not answer within %d s", SSH_G_TIMEOUT_MS / 1000);
        goto out;
    }
    if (d < 0) {
        snprintf(err, errlen, "cannot read the output of ssh -G");
        goto out;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        /* ssh's own words: its first stderr line. */
        char *nl = strpbrk(errtext, "\r\n");
        if (nl)
            *nl = 0;
        snprintf(err, errlen, "%s", errtext[0] ? errtext : "ssh -G failed");
        goto out;
    }
    if (sshconfig_parse(out, outlen, cwd, cfg, err, errlen) < 0)
        goto out;
    drop_line(errtext, "Pseudo-terminal will not be allocated");
    snprintf(cfg->warnings, sizeof cfg->warnings, "%s", errtext);
    *raw = out;
    *rawlen = outlen;
    out = NULL;
    rc = 0;
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    free(out);
    free(argv);
    free(envv);
    return rc;
}
