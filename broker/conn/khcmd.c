/* KnownHostsCommand as OpenSSH 9.2's sshconnect.c runs it (load_hostkeys_command). */
#include "khcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "child.h"
#include "fingerprint.h"
#include "hostkey.h"
#include "percent.h"
#include "proto.h"

#define KHC_MAX_OUT (1024 * 1024)

/* OpenSSH's argv_split without comments: words, quotes removed, \' \" \\ and \space. */
static int split(const char *s, char ***argv)
{
    size_t n = 0, cap = 8;
    char **v = calloc(cap, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; s[i];) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        if (n + 2 > cap) {
            char **nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv)
                goto fail;
            v = nv;
            cap *= 2;
        }
        char *a = v[n++] = calloc(1, strlen(s + i) + 1);
        v[n] = NULL;
        if (!a)
            goto fail;
        int quote = 0;
        size_t j = 0;
        for (; s[i]; i++) {
            if (s[i] == '\\' && (s[i + 1] == '\'' || s[i + 1] == '"' || s[i + 1] == '\\' ||
                                 (!quote && s[i + 1] == ' ')))
                a[j++] = s[++i];
            else if (!quote && (s[i] == ' ' || s[i] == '\t'))
                break;
            else if (!quote && (s[i] == '"' || s[i] == '\''))
                quote = s[i];
            else if (quote && s[i] == quote)
                quote = 0;
            else
                a[j++] = s[i];
        }
        if (!s[i] && quote)
            goto fail; /* no closing quote */
    }
    *argv = v;
    return (int)n;
fail:
    proto_strv_free(v);
    return -1;
}

int khcmd_argv(const struct hostcfg *cfg, char *const *env, const char *name,
               const unsigned char *blob, size_t len, char ***argv, char *err, size_t errlen)
{
    struct pct_client pc;
    char type[64] = "NONE", fp[80] = "NONE", *b64 = NULL;
    char **v = NULL;
    *argv = NULL;
    if (pct_client(cfg, &pc) < 0) {
        snprintf(err, errlen, "cannot read the local user and host name");
        return -1;
    }
    if (blob) {
        if (hostkey_blob_type(blob, len, type, sizeof type) < 0) {
            snprintf(err, errlen, "malformed host key");
            return -1;
        }
        fp_sha256(blob, len, fp, sizeof fp);
        b64 = malloc(4 * ((len + 2) / 3) + 1);
        if (!b64) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        EVP_EncodeBlock((unsigned char *)b64, blob, (int)len);
    }
    int n = split(cfg->knownhostscommand, &v);
    if (n < 0)
        snprintf(err, errlen, "KnownHostsCommand-HOSTNAME \"%.200s\" contains invalid quotes",
                 cfg->knownhostscommand);
    else if (n == 0)
        snprintf(err, errlen, "KnownHostsCommand-HOSTNAME \"%.200s\" yielded no arguments",
                 cfg->knownhostscommand);
    struct pct t[16];
    memcpy(t, pc.t, sizeof pc.t);
    int nt = (int)(sizeof pc.t / sizeof pc.t[0]);
    t[nt++] = (struct pct){'H', name};
    t[nt++] = (struct pct){'I', "HOSTNAME"};
    t[nt++] = (struct pct){'t', type};
    t[nt++] = (struct pct){'f', fp};
    t[nt++] = (struct pct){'K', b64 ? b64 : "NONE"};
    for (int i = 1; i < n; i++) {
        size_t cap = strlen(v[i]) * 4 + 8192;
        char *x = malloc(cap);
        if (!x || pct_expand(v[i], t, nt, env, x, cap, err, errlen) < 0) {
            free(x);
            n = -1;
            break;
        }
        free(v[i]);
        v[i] = x;
    }
    free(b64);
    if (n <= 0) {
        proto_strv_free(v);
        return -1;
    }
    *argv = v;
    return 0;
}

/* Read fd to EOF into a heap string. */
static char *slurp(int fd)
{
    size_t len = 0, cap = 4096;
    char *b = malloc(cap);
    while (b) {
        if (len + 1024 > cap) {
            char *nb = cap < KHC_MAX_OUT ? realloc(b, cap * 2) : NULL;
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(b);
            return NULL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (b)
        b[len] = '\0';
    return b;
}

int khcmd_run(const struct hostcfg *cfg, char *const *env, const char *cwd, int errfd,
              const char *name, const unsigned char *blob, size_t len, char **out, char *err,
              size_t errlen)
{
    char **argv = NULL;
    int p[2] = {-1, -1}, rc = -1, status = 0;
    struct stat st;
    pid_t pid = -1;
    *out = NULL;
    if (khcmd_argv(cfg, env, name, blob, len, &argv, err, errlen) < 0)
        return -1;
    /* ssh's subprocess(): an absolute path that exists. */
    if (argv[0][0] != '/' || stat(argv[0], &st) < 0) {
        snprintf(err, errlen, "KnownHostsCommand-HOSTNAME program \"%.200s\" is not usable",
                 argv[0]);
        proto_strv_free(argv);
        return -1;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        proto_strv_free(argv);
        return -1;
    }
    int e = spawn_child(argv, env, cwd, -1, p[1], errfd, &pid);
    close(p[1]);
    if (e != 0) {
        snprintf(err, errlen, "KnownHostsCommand-HOSTNAME %.200s: %s", argv[0], strerror(e));
        goto out;
    }
    *out = slurp(p[0]);
    close(p[0]); /* a command that says too much gets EPIPE, not a reader that never comes */
    p[0] = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!*out)
        snprintf(err, errlen, "KnownHostsCommand-HOSTNAME: cannot read its output");
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        snprintf(err, errlen, "KnownHostsCommand failed");
    else
        rc = 0;
out:
    if (p[0] >= 0)
        close(p[0]);
    if (rc < 0) {
        free(*out);
        *out = NULL;
    }
    proto_strv_free(argv);
    return rc;
}

int khcmd_id(const struct hostcfg *cfg, char *const *env, const char *name,
             const unsigned char *blob, size_t len, unsigned char out[32])
{
    char **argv = NULL, err[256];
    if (khcmd_argv(cfg, env, name, blob, len, &argv, err, sizeof err) < 0)
        return -1;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int rc = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) ? 0 : -1;
    for (int i = 0; rc == 0 && argv[i]; i++)
        EVP_DigestUpdate(m, argv[i], strlen(argv[i]) + 1); /* with the NUL: words stay apart */
    if (rc == 0)
        EVP_DigestFinal_ex(m, out, NULL);
    EVP_MD_CTX_free(m);
    proto_strv_free(argv);
    return rc;
}
