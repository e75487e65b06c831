/* Host configuration from `ssh -G`: parsing its output, running it, and caching answers. */
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

#include <uthash.h>

#include <openssl/evp.h>

#include "words.h"

#define SSH_G_TIMEOUT_MS 10000
#define SSH_G_MAX_OUT (256 * 1024)
#define CACHE_MAX 256

/* ---- parsing ---- */

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
}

static int yes(const char *v)
{
    return !strcmp(v, "yes") || !strcmp(v, "true");
}

/* The home directory and name of the current uid, from passwd as OpenSSH does. Read once
 * per thread: each resolve runs in a thread of its own, so once per ssh -G answer, as ssh
 * reads it once per run, instead of once per path expanded. */
static void pw_home(char *home, size_t hlen, char *name, size_t nlen)
{
    static __thread int have;
    static __thread char h[1024], n[256];
    if (!have) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res) {
            copy(h, sizeof h, pw.pw_dir);
            copy(n, sizeof n, pw.pw_name);
        }
        have = 1;
    }
    copy(home, hlen, h);
    copy(name, nlen, n);
}

/* Expand a leading ~ and the %-tokens ssh leaves unexpanded in `ssh -G` paths. */
static void expand_path(const struct hostcfg *c, const char *in, char *out, size_t outlen)
{
    char home[1024], name[256];
    pw_home(home, sizeof home, name, sizeof name);
    size_t o = 0;
    const char *p = in;
    if (p[0] == '~' && (p[1] == '/' || p[1] == 0)) {
        o = (size_t)snprintf(out, outlen, "%s", home);
        p++;
    }
    for (; *p && o + 1 < outlen; p++) {
        const char *rep = NULL;
        char num[32];
        if (*p == '%' && p[1]) {
            switch (p[1]) {
            case '%':
                rep = "%";
                break;
            case 'd':
                rep = home;
                break;
            case 'u':
                rep = name;
                break;
            case 'h':
                rep = c->hostname;
                break;
            case 'r':
                rep = c->user;
                break;
            case 'n':
                rep = c->host;
                break;
            case 'i':
                snprintf(num, sizeof num, "%u", (unsigned)getuid());
                rep = num;
                break;
            case 'p':
                snprintf(num, sizeof num, "%d", c->port);
                rep = num;
                break;
            }
        }
        if (rep) {
            o += (size_t)snprintf(out + o, outlen - o, "%s", rep);
            if (o >= outlen)
                o = outlen - 1;
            p++;
        } else {
            out[o++] = *p;
        }
    }
    if (o >= outlen)
        o = outlen - 1;
    out[o] = 0;
}

static void add_words(char (*arr)[HC_STR], int *n, int max, const char *v)
{
    char tmp[HC_STR];
    copy(tmp, sizeof tmp, v);
    char *save = NULL;
    for (char *w = strtok_r(tmp, " ", &save); w && *n < max; w = strtok_r(NULL, " ", &save))
        copy(arr[(*n)++], HC_STR, w);
}

static int loglevel(const char *v)
{
    static const char *names[] = {"QUIET",   "FATAL",  "ERROR",  "INFO",
                                  "VERBOSE", "DEBUG1", "DEBUG2", "DEBUG3"};
    if (!strcasecmp(v, "DEBUG"))
        return 5;
    for (int i = 0; i < 8; i++)
        if (!strcasecmp(v, names[i]))
            return i;
    return 3;
}

static int escapechar(const char *v)
{
    if (!strcmp(v, "none"))
        return -1;
    if (v[0] == '\\' && v[1] == '^' && v[2]) /* ssh -G prints control characters vis-encoded */
        return v[2] & 31;
    if (v[0] == '^' && v[1])
        return v[1] & 31;
    return (unsigned char)v[0];
}

static void note_unsupported(struct hostcfg *c, const char *what)
{
    if (!c->unsupported[0])
        copy(c->unsupported, sizeof c->unsupported, what);
}

/* Settings muxshim cannot serve: the session then runs the real ssh. */
static void check_unsupported(struct hostcfg *c, const char *k, const char *v)
{
    static const struct {
        const char *key, *text;
    } present[] = {
        {"localforward", "LocalForward"},
        {"remoteforward", "RemoteForward"},
        {"dynamicforward", "DynamicForward"},
        {"certificatefile", "CertificateFile"},
        {"localcommand", NULL},
    };
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        if (!strcmp(k, present[i].key) && present[i].text)
            note_unsupported(c, present[i].text);
    if (!strcmp(k, "proxycommand") && !strcmp(v, "-"))
        note_unsupported(c, "ProxyCommand -");
    else if (!strcmp(k, "forwardagent") && strcmp(v, "no"))
        note_unsupported(c, "ForwardAgent");
    else if (!strcmp(k, "forwardx11") && yes(v))
        note_unsupported(c, "ForwardX11");
    else if (!strcmp(k, "tunnel") && strcmp(v, "false") && strcmp(v, "no"))
        note_unsupported(c, "Tunnel");
    else if (!strcmp(k, "pkcs11provider") && strcmp(v, "none"))
        note_unsupported(c, "PKCS11Provider");
    else if (!strcmp(k, "stdiofoward") || !strcmp(k, "stdioforward"))
        note_unsupported(c, "-W");
}

int sshconfig_parse(const char *text, size_t len, struct hostcfg *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->port = 22;
    c->connecttimeout = -1;
    c->serveralivecountmax = 3;
    c->numberofpasswordprompts = 3;
    c->controlpersist = -1;
    c->controlmaster_client = 1;
    c->escapechar = '~';
    c->loglevel = 3;
    c->pubkeyauthentication = c->passwordauthentication = c->kbdinteractiveauthentication = 1;
    copy(c->identityagent, sizeof c->identityagent, "SSH_AUTH_SOCK");
    int permitlocal = 0, fdpass = 0;
    char idfiles[HC_MAX_FILES][HC_STR];
    int nid = 0;

    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[4 * HC_STR];
        if (l >= sizeof line)
            l = sizeof line - 1;
        memcpy(line, p, l);
        line[l] = 0;
        p = nl ? nl + 1 : end;
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = 0;
        const char *k = line, *v = sp + 1;
        check_unsupported(c, k, v);
        if (!strcmp(k, "host"))
            copy(c->host, HC_STR, v);
        else if (!strcmp(k, "hostname"))
            copy(c->hostname, HC_STR, v);
        else if (!strcmp(k, "user"))
            copy(c->user, HC_STR, v);
        else if (!strcmp(k, "port"))
            c->port = atoi(v);
        else if (!strcmp(k, "hostkeyalias"))
            copy(c->hostkeyalias, HC_STR, v);
        else if (!strcmp(k, "proxyjump") && strcmp(v, "none"))
            copy(c->proxyjump, HC_STR, v);
        else if (!strcmp(k, "proxycommand") && strcmp(v, "none"))
            copy(c->proxycommand, HC_STR, v);
        else if (!strcmp(k, "bindaddress"))
            copy(c->bindaddress, HC_STR, v);
        else if (!strcmp(k, "addressfamily"))
            c->addressfamily = !strcmp(v, "inet") ? AF_INET : !strcmp(v, "inet6") ? AF_INET6 : 0;
        else if (!strcmp(k, "connecttimeout"))
            c->connecttimeout = !strcmp(v, "none") ? -1 : atoi(v);
        else if (!strcmp(k, "serveraliveinterval"))
            c->serveraliveinterval = atoi(v);
        else if (!strcmp(k, "serveralivecountmax"))
            c->serveralivecountmax = atoi(v);
        else if (!strcmp(k, "controlpersist"))
            c->controlpersist = !strcmp(v, "no") ? -1 : !strcmp(v, "yes") ? 0 : atoi(v);
        else if (!strcmp(k, "controlpath") && strcmp(v, "none")) {
            c->has_own_controlpath = 1;
            copy(c->controlpath, HC_STR, v);
        } else if (!strcmp(k, "controlmaster"))
            c->controlmaster_client = strcmp(v, "true") && strcmp(v, "ask");
        else if (!strcmp(k, "identityfile") && nid < HC_MAX_FILES)
            copy(idfiles[nid++], HC_STR, v);
        else if (!strcmp(k, "identitiesonly"))
            c->identitiesonly = yes(v);
        else if (!strcmp(k, "identityagent"))
            copy(c->identityagent, HC_STR, v);
        else if (!strcmp(k, "userknownhostsfile"))
            add_words(c->userknownhostsfile, &c->n_userknownhostsfile, HC_MAX_FILES, v);
        else if (!strcmp(k, "globalknownhostsfile"))
            add_words(c->globalknownhostsfile, &c->n_globalknownhostsfile, HC_MAX_FILES, v);
        else if (!strcmp(k, "stricthostkeychecking"))
            c->stricthostkeychecking = !strcmp(v, "true") || !strcmp(v, "yes") ? HC_STRICT_YES
                                       : !strcmp(v, "accept-new") ? HC_STRICT_ACCEPT_NEW
                                       : !strcmp(v, "false") || !strcmp(v, "no") ? HC_STRICT_NO
                                                                                 : HC_STRICT_ASK;
        else if (!strcmp(k, "numberofpasswordprompts"))
            c->numberofpasswordprompts = atoi(v);
        else if (!strcmp(k, "hashknownhosts"))
            c->hashknownhosts = yes(v);
        else if (!strcmp(k, "checkhostip"))
            c->checkhostip = yes(v);
        else if (!strcmp(k, "batchmode"))
            c->batchmode = yes(v);
        else if (!strcmp(k, "gssapiauthentication"))
            c->gssapiauthentication = yes(v);
        else if (!strcmp(k, "pubkeyauthentication"))
            c->pubkeyauthentication = strcmp(v, "no") && strcmp(v, "false");
        else if (!strcmp(k, "passwordauthentication"))
            c->passwordauthentication = yes(v);
        else if (!strcmp(k, "kbdinteractiveauthentication"))
            c->kbdinteractiveauthentication = yes(v);
        else if (!strcmp(k, "preferredauthentications"))
            copy(c->preferredauthentications, HC_STR, v);
        else if (!strcmp(k, "hostkeyalgorithms"))
            copy(c->hostkeyalgorithms, HC_STR, v);
        else if (!strcmp(k, "kexalgorithms"))
            copy(c->kexalgorithms, HC_STR, v);
        else if (!strcmp(k, "ciphers"))
            copy(c->ciphers, HC_STR, v);
        else if (!strcmp(k, "macs"))
            copy(c->macs, HC_STR, v);
        else if (!strcmp(k, "compression"))
            c->compression = yes(v);
        else if (!strcmp(k, "remotecommand"))
            copy(c->remotecommand, HC_STR, v);
        else if (!strcmp(k, "requesttty"))
            c->requesttty = !strcmp(v, "no") || !strcmp(v, "false")   ? HC_TTY_NO
                            : !strcmp(v, "yes") || !strcmp(v, "true") ? HC_TTY_YES
                            : !strcmp(v, "force")                     ? HC_TTY_FORCE
                                                                      : HC_TTY_AUTO;
        else if (!strcmp(k, "sessiontype"))
            c->sessiontype = !strcmp(v, "none")        ? HC_SESSION_NONE
                             : !strcmp(v, "subsystem") ? HC_SESSION_SUBSYSTEM
                                                       : HC_SESSION_DEFAULT;
        else if (!strcmp(k, "stdinnull"))
            c->stdinnull = yes(v);
        else if (!strcmp(k, "forkafterauthentication"))
            c->forkafterauthentication = yes(v);
        else if (!strcmp(k, "escapechar"))
            c->escapechar = escapechar(v);
        else if (!strcmp(k, "loglevel"))
            c->loglevel = loglevel(v);
        else if (!strcmp(k, "sendenv") && c->n_sendenv < HC_MAX_ENV)
            copy(c->sendenv[c->n_sendenv++], sizeof c->sendenv[0], v);
        else if (!strcmp(k, "setenv") && c->n_setenv < HC_MAX_ENV)
            copy(c->setenv[c->n_setenv++], HC_STR, v);
        else if (!strcmp(k, "permitlocalcommand"))
            permitlocal = yes(v);
        else if (!strcmp(k, "localcommand"))
            copy(c->localcommand, HC_STR, v);
        else if (!strcmp(k, "knownhostscommand") && strcmp(v, "none"))
            copy(c->knownhostscommand, HC_STR, v);
        else if (!strcmp(k, "verifyhostkeydns"))
            c->verifyhostkeydns = !strcmp(v, "ask") ? 2 : yes(v);
        else if (!strcmp(k, "visualhostkey"))
            c->visualhostkey = yes(v);
        else if (!strcmp(k, "proxyusefdpass"))
            fdpass = yes(v);
    }
    if (!permitlocal) /* ssh ignores LocalCommand then */
        c->localcommand[0] = 0;
    if (fdpass && c->proxycommand[0]) /* the command hands back a socket: not done here */
        note_unsupported(c, "ProxyUseFdpass");
    if (!c->hostname[0] || !c->user[0]) {
        snprintf(err, errlen, "ssh -G printed no hostname or user");
        return -1;
    }
    /* Paths: ~ and %-tokens need the host fields, so expand them last. */
    for (int i = 0; i < nid; i++)
        expand_path(c, idfiles[i], c->identityfile[i], HC_STR);
    c->n_identityfile = nid;
    for (int i = 0; i < c->n_userknownhostsfile; i++) {
        char tmp[HC_STR];
        expand_path(c, c->userknownhostsfile[i], tmp, sizeof tmp);
        copy(c->userknownhostsfile[i], HC_STR, tmp);
    }
    if (strcmp(c->identityagent, "SSH_AUTH_SOCK") && strcmp(c->identityagent, "none")) {
        char tmp[HC_STR];
        expand_path(c, c->identityagent, tmp, sizeof tmp);
        copy(c->identityagent, HC_STR, tmp);
    }
    token_compute(c, getuid(), c->token);
    return 0;
}

/* ---- running ssh -G ---- */

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
static int run_ssh_g(const char *real_ssh, const char *cwd, char *const *opts, const char *dest,
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
    if (sshconfig_parse(out, outlen, cfg, err, errlen) < 0)
        goto out;
    drop_line(errtext, "Pseudo-terminal will not be allocated");
    copy(cfg->warnings, sizeof cfg->warnings, errtext);
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

/* ---- the cache ---- */

/* The answer is kept as ssh -G's text (a few KB) and parsed again on a hit: a parsed
 * hostcfg is about 150 KB, which 256 entries would make a 38 MB cache. */
struct centry {
    char key[65];   /* hex SHA-256 of the question */
    char files[65]; /* hex SHA-256 of the config files' stat results when answered */
    char *text;     /* ssh -G's output */
    size_t len;
    char *warnings; /* what ssh -G said on stderr */
    UT_hash_handle hh;
};

static void centry_free(struct centry *ce)
{
    free(ce->text);
    free(ce->warnings);
    free(ce);
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct centry *cache;
static unsigned long misses;

static void hex(const unsigned char *md, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void digest_str(EVP_MD_CTX *m, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0xffffffffu;
    EVP_DigestUpdate(m, &n, sizeof n);
    if (s)
        EVP_DigestUpdate(m, s, n);
}

static void digest_stat(EVP_MD_CTX *m, const char *path)
{
    struct stat st;
    long long v[5] = {-1, -1, -1, -1, -1};
    if (stat(path, &st) == 0) {
        v[0] = (long long)st.st_dev;
        v[1] = (long long)st.st_ino;
        v[2] = (long long)st.st_mtim.tv_sec;
        v[3] = (long long)st.st_mtim.tv_nsec;
        v[4] = (long long)st.st_size;
    }
    digest_str(m, path);
    EVP_DigestUpdate(m, v, sizeof v);
}

/* The state of every file the answer can depend on: -F files (else ~/.ssh/config),
 * /etc/ssh/ssh_config, ~/.ssh, /etc/ssh/ssh_config.d and what it holds. */
static void files_state(const char *cwd, char *const *opts, char out[65])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char md[32];
    char home[1024], name[256], path[2048];
    pw_home(home, sizeof home, name, sizeof name);
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    int have_f = 0;
    for (int i = 0; opts && opts[i]; i++) {
        const char *f = NULL;
        if (!strcmp(opts[i], "-F") && opts[i + 1])
            f = opts[++i];
        else if (!strncmp(opts[i], "-F", 2) && opts[i][2])
            f = opts[i] + 2;
        if (!f)
            continue;
        have_f = 1;
        if (f[0] == '~' && f[1] == '/')
            snprintf(path, sizeof path, "%s%s", home, f + 1);
        else if (f[0] != '/' && cwd)
            snprintf(path, sizeof path, "%s/%s", cwd, f);
        else
            snprintf(path, sizeof path, "%s", f);
        digest_stat(m, path);
    }
    if (!have_f) {
        snprintf(path, sizeof path, "%s/.ssh/config", home);
        digest_stat(m, path);
        digest_stat(m, "/etc/ssh/ssh_config");
    }
    snprintf(path, sizeof path, "%s/.ssh", home);
    digest_stat(m, path);
    digest_stat(m, "/etc/ssh/ssh_config.d");
    DIR *d = opendir("/etc/ssh/ssh_config.d");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "/etc/ssh/ssh_config.d/%s", de->d_name);
            digest_stat(m, path);
        }
        closedir(d);
    }
    EVP_DigestFinal_ex(m, md, NULL);
    EVP_MD_CTX_free(m);
    hex(md, out);
}

static void question_key(const char *real_ssh, const char *cwd, char *const *opts, const char *dest,
                         const char *command, char *const *env, char out[65])
{
    static const char *vars[] = {"HOME", "USER", "LOGNAME", "SSH_AUTH_SOCK"};
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char md[32];
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    digest_str(m, real_ssh);
    digest_str(m, cwd);
    for (int i = 0; opts && opts[i]; i++)
        digest_str(m, opts[i]);
    digest_str(m, NULL);
    digest_str(m, dest);
    digest_str(m, command);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        digest_str(m, words_env(env, vars[i]));
    EVP_DigestFinal_ex(m, md, NULL);
    EVP_MD_CTX_free(m);
    hex(md, out);
}

int sshconfig_resolve(const char *real_ssh, const char *cwd, char *const *opts, const char *dest,
                      const char *command, char *const *env, struct hostcfg *cfg, char *err,
                      size_t errlen)
{
    char key[65], state[65];
    question_key(real_ssh, cwd, opts, dest, command, env, key);
    files_state(cwd, opts, state);

    pthread_mutex_lock(&cache_lock);
    struct centry *ce = NULL;
    HASH_FIND_STR(cache, key, ce);
    if (ce && !strcmp(ce->files, state) &&
        sshconfig_parse(ce->text, ce->len, cfg, err, errlen) == 0) {
        copy(cfg->warnings, sizeof cfg->warnings, ce->warnings);
        pthread_mutex_unlock(&cache_lock);
        return 0;
    }
    misses++;
    pthread_mutex_unlock(&cache_lock);

    char *raw = NULL;
    size_t rawlen = 0;
    if (run_ssh_g(real_ssh, cwd, opts, dest, command, env, cfg, &raw, &rawlen, err, errlen) < 0)
        return -1;

    pthread_mutex_lock(&cache_lock);
    HASH_FIND_STR(cache, key, ce);
    if (!ce) {
        if (HASH_COUNT(cache) >= CACHE_MAX) {
            struct centry *it, *tmp;
            HASH_ITER(hh, cache, it, tmp)
            {
                HASH_DEL(cache, it);
                centry_free(it);
            }
        }
        ce = calloc(1, sizeof *ce);
        if (ce) {
            memcpy(ce->key, key, sizeof key);
            HASH_ADD_STR(cache, key, ce);
        }
    }
    char *warnings = strdup(cfg->warnings);
    if (ce && warnings) {
        memcpy(ce->files, state, sizeof state);
        free(ce->text);
        free(ce->warnings);
        ce->text = raw;
        ce->len = rawlen;
        ce->warnings = warnings;
        raw = warnings = NULL;
    } else if (ce) {
        HASH_DEL(cache, ce);
        centry_free(ce);
    }
    pthread_mutex_unlock(&cache_lock);
    free(raw);
    free(warnings);
    return 0;
}

unsigned long sshconfig_cache_misses(void)
{
    pthread_mutex_lock(&cache_lock);
    unsigned long n = misses;
    pthread_mutex_unlock(&cache_lock);
    return n;
}
