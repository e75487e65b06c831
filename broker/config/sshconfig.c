/* Host configuration from `ssh -G`: parsing its output (running it is sshconfig_run.c, the
 * cache sshconfig_cache.c). */
#include "sshconfig.h"

#include <ctype.h>
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

#include "sshconfig_int.h"
#include "words.h"

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
void sshconfig_pw_home(char *home, size_t hlen, char *name, size_t nlen)
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

/* ssh's tilde_expand: a leading "~" or "~user" (up to the first '/') becomes that passwd
 * entry's home, slashes after it folded to one, written to out; returns where the rest of
 * in starts. in itself (out "") when it has no "~" or names no user, as ssh then keeps it. */
static const char *tilde(const char *in, char *out, size_t outlen)
{
    out[0] = '\0';
    if (in[0] != '~')
        return in;
    const char *slash = strchr(in, '/');
    size_t ul = slash ? (size_t)(slash - in - 1) : strlen(in + 1);
    char home[1024] = "", name[256];
    if (ul == 0) {
        sshconfig_pw_home(home, sizeof home, name, sizeof name);
    } else if (ul < sizeof name) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        snprintf(name, sizeof name, "%.*s", (int)ul, in + 1);
        if (getpwnam_r(name, &pw, buf, sizeof buf, &res) == 0 && res)
            copy(home, sizeof home, pw.pw_dir);
    }
    if (!home[0])
        return in;
    size_t hl = strlen(home);
    if (snprintf(out, outlen, "%s%s", home, home[hl - 1] == '/' ? "" : "/") >= (int)outlen) {
        out[0] = '\0';
        return in;
    }
    const char *rest = in + 1 + ul;
    return rest + strspn(rest, "/");
}

/* Expand a leading ~ (tilde) and, with c, the %-tokens ssh leaves unexpanded in `ssh -G`
 * paths. */
static void expand_path(const struct hostcfg *c, const char *in, char *out, size_t outlen)
{
    char home[1024], name[256];
    sshconfig_pw_home(home, sizeof home, name, sizeof name);
    const char *p = tilde(in, out, outlen);
    size_t o = strlen(out);
    for (; *p && o + 1 < outlen; p++) {
        const char *rep = NULL;
        char num[32];
        if (c && *p == '%' && p[1]) {
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

/* A relative path (after ~ and %-tokens) as ssh opens it, from its own working directory:
 * path becomes cwd/path (HC_STR), and *shown (if given) where the name ssh shows, path as
 * it was, begins in it. Absolute paths, "" and a NULL cwd are left as they are (*shown 0).
 * Returns -1 when cwd/path does not fit. */
static int anchor(const char *cwd, char *path, int *shown)
{
    if (shown)
        *shown = 0;
    if (!cwd || !cwd[0] || !path[0] || path[0] == '/')
        return 0;
    size_t cl = strlen(cwd), pl = strlen(path);
    int sep = cwd[cl - 1] != '/';
    if (cl + (size_t)sep + pl >= HC_STR)
        return -1;
    memmove(path + cl + (size_t)sep, path, pl + 1);
    memcpy(path, cwd, cl);
    if (sep)
        path[cl] = '/';
    if (shown)
        *shown = (int)(cl + (size_t)sep);
    return 0;
}

int hostcfg_add(char (**list)[HC_STR], int *n, int max, const char *v)
{
    if (*n >= max)
        return -1;
    char(*l)[HC_STR] = realloc(*list, (size_t)(*n + 1) * HC_STR);
    if (!l)
        return -1;
    *list = l;
    copy(l[(*n)++], HC_STR, v);
    return 0;
}

/* One of a hostcfg's lists and its count. */
struct hc_list {
    char (**l)[HC_STR];
    int *n;
};
#define HC_NLISTS 6

/* c's lists, for clearing and copying them alike. */
static void lists_of(struct hostcfg *c, struct hc_list out[HC_NLISTS])
{
    out[0] = (struct hc_list){&c->identityfile, &c->n_identityfile};
    out[1] = (struct hc_list){&c->userknownhostsfile, &c->n_userknownhostsfile};
    out[2] = (struct hc_list){&c->globalknownhostsfile, &c->n_globalknownhostsfile};
    out[3] = (struct hc_list){&c->sendenv, &c->n_sendenv};
    out[4] = (struct hc_list){&c->setenv, &c->n_setenv};
    out[5] = (struct hc_list){&c->certificatefile, &c->n_certificatefile};
}

void hostcfg_clear(struct hostcfg *c)
{
    struct hc_list lists[HC_NLISTS];
    lists_of(c, lists);
    for (int i = 0; i < HC_NLISTS; i++) {
        free(*lists[i].l);
        *lists[i].l = NULL;
        *lists[i].n = 0;
    }
}

void hostcfg_free(struct hostcfg *c)
{
    if (!c)
        return;
    hostcfg_clear(c);
    free(c);
}

int hostcfg_copy(struct hostcfg *dst, const struct hostcfg *src)
{
    *dst = *src;
    struct hc_list lists[HC_NLISTS];
    lists_of(dst, lists);
    int rc = 0;
    for (int i = 0; i < HC_NLISTS; i++) {
        char(*from)[HC_STR] = *lists[i].l;
        *lists[i].l = NULL;
        if (*lists[i].n == 0)
            continue;
        if (!(*lists[i].l = malloc((size_t)*lists[i].n * HC_STR))) {
            rc = -1;
            continue;
        }
        memcpy(*lists[i].l, from, (size_t)*lists[i].n * HC_STR);
    }
    if (rc < 0)
        hostcfg_clear(dst);
    return rc;
}

/* v's words (space-separated) appended to a list; -1 when out of memory. */
static int add_words(char (**list)[HC_STR], int *n, int max, const char *v)
{
    char tmp[HC_STR];
    copy(tmp, sizeof tmp, v);
    char *save = NULL;
    for (char *w = strtok_r(tmp, " ", &save); w && *n < max; w = strtok_r(NULL, " ", &save))
        if (hostcfg_add(list, n, max, w) < 0)
            return -1;
    return 0;
}

static int loglevel(const char *v)
{
    static const char *names[] = {"QUIET",   "FATAL",  "ERROR",  "INFO",
                                  "VERBOSE", "DEBUG1", "DEBUG2", "DEBUG3"};
    if (!strcasecmp(v, "DEBUG"))
        return 5;
    if (!strcasecmp(v, "SILENT")) /* how ssh -G names QUIET (-q) */
        return 0;
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
        {"localcommand", NULL},
    };
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        if (!strcmp(k, present[i].key) && present[i].text)
            note_unsupported(c, present[i].text);
    if (!strcmp(k, "proxycommand") && !strcmp(v, "-"))
        note_unsupported(c, "ProxyCommand -");
    else if (!strcmp(k, "tunnel") && strcmp(v, "false") && strcmp(v, "no"))
        note_unsupported(c, "Tunnel");
    else if (!strcmp(k, "stdiofoward") || !strcmp(k, "stdioforward"))
        note_unsupported(c, "-W");
}

/* The paths besides IdentityFile, as ssh reads them (see anchor): ssh -G printed
 * UserKnownHostsFile, IdentityAgent, ForwardAgent and ControlPath with ~ and %-tokens
 * expanded, GlobalKnownHostsFile as written (ssh expands only its ~). A path that does not
 * fit once anchored sends the session to ssh. */
static void resolve_paths(struct hostcfg *c, const char *cwd)
{
    int bad = 0;
    char tmp[HC_STR];
    for (int i = 0; i < c->n_userknownhostsfile; i++) {
        expand_path(c, c->userknownhostsfile[i], tmp, sizeof tmp);
        bad |= anchor(cwd, tmp, NULL);
        copy(c->userknownhostsfile[i], HC_STR, tmp);
    }
    for (int i = 0; i < c->n_globalknownhostsfile; i++) {
        expand_path(NULL, c->globalknownhostsfile[i], tmp, sizeof tmp);
        bad |= anchor(cwd, tmp, NULL);
        copy(c->globalknownhostsfile[i], HC_STR, tmp);
    }
    /* "SSH_AUTH_SOCK", "none" and "$NAME" (an environment variable) name no path. */
    if (strcmp(c->identityagent, "SSH_AUTH_SOCK") && strcmp(c->identityagent, "none") &&
        c->identityagent[0] != '$') {
        expand_path(c, c->identityagent, tmp, sizeof tmp);
        bad |= anchor(cwd, tmp, NULL);
        copy(c->identityagent, HC_STR, tmp);
    }
    if (c->forwardagent[0] && strcmp(c->forwardagent, "yes") && c->forwardagent[0] != '$')
        bad |= anchor(cwd, c->forwardagent, NULL);
    if (c->has_own_controlpath)
        bad |= anchor(cwd, c->controlpath, NULL);
    if (bad)
        note_unsupported(c, "a relative path too long for its directory");
}

/* 1 when n is a name ssh takes for an environment variable (valid_env_name). */
static int env_name_ok(const char *n)
{
    if (!n[0])
        return 0;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '_')
            return 0;
    return 1;
}

void sshconfig_env_paths(struct hostcfg *c, const char *cwd, char *const *env)
{
    int bad = 0;
    char *ia = c->identityagent, *fa = c->forwardagent;
    const char *v;
    if (!strcmp(ia, "SSH_AUTH_SOCK")) {
        v = words_env(env, "SSH_AUTH_SOCK");
        if (v && v[0] && v[0] != '/') { /* ssh connects to it from its own directory */
            copy(ia, HC_STR, v);
            bad |= anchor(cwd, ia, NULL);
        }
    } else if (ia[0] == '$' && ia[1] != '{') { /* "${NAME}" ssh -G expanded already */
        if (!env_name_ok(ia + 1)) {
            note_unsupported(c, "IdentityAgent"); /* ssh refuses it, in its words */
        } else {
            v = words_env(env, ia + 1); /* unset or empty: ssh asks no agent */
            copy(ia, HC_STR, v && v[0] ? v : "none");
            if (v && v[0])
                bad |= anchor(cwd, ia, NULL);
        }
    }
    if (fa[0] == '$' && fa[1] != '{') {
        if (!env_name_ok(fa + 1)) {
            note_unsupported(c, "ForwardAgent");
        } else {
            v = words_env(env, fa + 1); /* unset: ssh forwards no agent */
            copy(fa, HC_STR, v ? v : "");
            bad |= anchor(cwd, fa, NULL);
        }
    }
    if (bad)
        note_unsupported(c, "a relative path too long for its directory");
}

int sshconfig_parse(const char *text, size_t len, const char *cwd, struct hostcfg *c, char *err,
                    size_t errlen)
{
    hostcfg_clear(c);
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
    int permitlocal = 0, fdpass = 0, oom = 0, bad_fwd = 0;
    c->streamlocalbindmask = 0177;
    c->forwardx11timeout = 1200; /* ssh's default, 20 minutes */
    copy(c->xauthlocation, sizeof c->xauthlocation, "/usr/bin/xauth");
    char idfiles[HC_MAX_FILES][HC_STR], certfiles[HC_MAX_FILES][HC_STR];
    int nid = 0, ncert = 0;

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
        else if (!strcmp(k, "bindinterface"))
            copy(c->bindinterface, HC_STR, v);
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
        else if (!strcmp(k, "certificatefile") && ncert < HC_MAX_FILES)
            copy(certfiles[ncert++], HC_STR, v);
        else if (!strcmp(k, "identitiesonly"))
            c->identitiesonly = yes(v);
        else if (!strcmp(k, "identityagent"))
            copy(c->identityagent, HC_STR, v);
        else if (!strcmp(k, "pkcs11provider"))
            copy(c->pkcs11provider, HC_STR, strcmp(v, "none") ? v : "");
        else if (!strcmp(k, "forwardagent"))
            copy(c->forwardagent, HC_STR, strcmp(v, "no") ? v : "");
        else if (!strcmp(k, "userknownhostsfile") && strcmp(v, "none"))
            oom |= add_words(&c->userknownhostsfile, &c->n_userknownhostsfile, HC_MAX_FILES, v);
        else if (!strcmp(k, "globalknownhostsfile") && strcmp(v, "none"))
            oom |= add_words(&c->globalknownhostsfile, &c->n_globalknownhostsfile, HC_MAX_FILES, v);
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
            oom |= hostcfg_add(&c->sendenv, &c->n_sendenv, HC_MAX_ENV, v);
        else if (!strcmp(k, "setenv") && c->n_setenv < HC_MAX_ENV)
            oom |= hostcfg_add(&c->setenv, &c->n_setenv, HC_MAX_ENV, v);
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
        else if (!strcmp(k, "warnweakcrypto"))
            c->warnweakcrypto = yes(v);
        else if (!strcmp(k, "obscurekeystroketiming"))
            c->ssh_9_5 = 1;
        else if (!strcmp(k, "proxyusefdpass"))
            fdpass = yes(v);
        else if (!strcmp(k, "localforward") || !strcmp(k, "dynamicforward"))
            bad_fwd |= sshconfig_add_forward(c, k[0] == 'l' ? 'L' : 'D', v);
        else if (!strcmp(k, "remoteforward"))
            bad_fwd |= sshconfig_add_rforward(c, v);
        else if (!strcmp(k, "permitremoteopen"))
            copy(c->permitremoteopen, HC_STR, v);
        else if (!strcmp(k, "gatewayports"))
            c->gatewayports = yes(v);
        else if (!strcmp(k, "exitonforwardfailure"))
            c->exitonforwardfailure = yes(v);
        else if (!strcmp(k, "streamlocalbindunlink"))
            c->streamlocalbindunlink = yes(v);
        else if (!strcmp(k, "streamlocalbindmask"))
            c->streamlocalbindmask = (int)strtol(v, NULL, 8);
        else if (!strcmp(k, "forwardx11"))
            c->forwardx11 = yes(v);
        else if (!strcmp(k, "forwardx11trusted"))
            c->forwardx11trusted = yes(v);
        else if (!strcmp(k, "forwardx11timeout"))
            c->forwardx11timeout = atoi(v);
        else if (!strcmp(k, "xauthlocation"))
            copy(c->xauthlocation, HC_STR, v);
    }
    sshconfig_forwards_done(c);
    if (bad_fwd)
        note_unsupported(c, "more forwards than muxshim holds");
    if (!permitlocal) /* ssh ignores LocalCommand then */
        c->localcommand[0] = 0;
    if (fdpass && c->proxycommand[0]) /* the command hands back a socket: not done here */
        note_unsupported(c, "ProxyUseFdpass");
    if (c->pkcs11provider[0] && c->batchmode) /* ssh says "pin required": no client to say it */
        note_unsupported(c, "PKCS11Provider with BatchMode");
    if (!c->hostname[0] || !c->user[0]) {
        snprintf(err, errlen, "ssh -G printed no hostname or user");
        hostcfg_clear(c);
        return -1;
    }
    /* Paths: ~ and %-tokens need the host fields, so expand them last. */
    for (int i = 0; i < nid; i++) {
        char tmp[HC_STR];
        if (!strcasecmp(idfiles[i], "none")) /* ssh skips it */
            continue;
        expand_path(c, idfiles[i], tmp, sizeof tmp);
        int at = c->n_identityfile;
        if (anchor(cwd, tmp, &c->identityfile_shown[at]) < 0)
            note_unsupported(c, "a relative path too long for its directory");
        oom |= hostcfg_add(&c->identityfile, &c->n_identityfile, HC_MAX_FILES, tmp);
    }
    for (int i = 0; i < ncert; i++) { /* as ssh: ~ and %-tokens, from its directory */
        char tmp[HC_STR];
        expand_path(c, certfiles[i], tmp, sizeof tmp);
        if (anchor(cwd, tmp, NULL) < 0)
            note_unsupported(c, "a relative path too long for its directory");
        oom |= hostcfg_add(&c->certificatefile, &c->n_certificatefile, HC_MAX_FILES, tmp);
    }
    if (oom) {
        snprintf(err, errlen, "out of memory");
        hostcfg_clear(c);
        return -1;
    }
    resolve_paths(c, cwd);
    token_compute(c, getuid(), c->token);
    return 0;
}
