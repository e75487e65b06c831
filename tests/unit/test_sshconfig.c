/* sshconfig: resolving through the real `ssh -G`, the cache, the host token set. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlpath.h"
#include "percent.h"
#include "sshconfig.h"

#include "check.h"

extern char **environ;

static char dir[] = "/tmp/muxshim-test-sshconfig-XXXXXX";
static char cfgpath[512];

static void write_config(const char *text)
{
    FILE *f = fopen(cfgpath, "w");
    if (!f) {
        perror(cfgpath);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* ctlpath_live_master: nothing there, a stale socket, a listening one. */
static void test_live_master(const struct hostcfg *own)
{
    struct hostcfg c = *own;
    snprintf(c.controlpath, sizeof c.controlpath, "%s/master.sock", dir);
    CHECK(!ctlpath_live_master(&c), "no socket, no master");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, c.controlpath, strlen(c.controlpath) + 1); /* dir is short */
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "bind");
    CHECK(!ctlpath_live_master(&c), "a socket nobody listens on is stale");
    CHECK(listen(fd, 4) == 0, "listen");
    CHECK(ctlpath_live_master(&c), "a listening master");
    c.controlmaster_client = 0;
    CHECK(!ctlpath_live_master(&c), "ControlMaster yes/ask does not look for one");
    close(fd);
    unlink(c.controlpath);
}

/* Resolve dest with -F cfgpath and extra options. */
static int resolve(const char *dest, const char *const *extra, struct hostcfg *c, char *err)
{
    char *opts[16];
    int n = 0;
    opts[n++] = "-F";
    opts[n++] = cfgpath;
    for (int i = 0; extra && extra[i]; i++)
        opts[n++] = (char *)extra[i];
    opts[n] = NULL;
    return sshconfig_resolve("/usr/bin/ssh", dir, opts, dest, "", environ, c, err, 512);
}

/* The first stderr line of the real `ssh -G -F cfg dest`. */
static void ssh_g_stderr(const char *dest, char *out, size_t outlen)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/ssh -G -F %s %s 2>&1 >/dev/null | head -1", cfgpath, dest);
    FILE *p = popen(cmd, "r");
    out[0] = 0;
    if (p) {
        if (!fgets(out, (int)outlen, p))
            out[0] = 0;
        pclose(p);
    }
    out[strcspn(out, "\r\n")] = 0;
}

static void test_fields(void)
{
    char err[512];
    static struct hostcfg c;
    write_config("Host alpha\n"
                 "  HostName 127.0.0.9\n"
                 "  Port 2222\n"
                 "  User someone\n"
                 "  IdentityFile /nonexistent/id_a\n"
                 "  IdentityFile ~/id_b\n"
                 "  IdentitiesOnly yes\n"
                 "  UserKnownHostsFile /tmp/kh1 /tmp/kh2\n"
                 "  StrictHostKeyChecking accept-new\n"
                 "  SendEnv LANG LC_*\n"
                 "  SetEnv FOO=bar\n"
                 "  ControlPersist 45\n"
                 "  EscapeChar none\n"
                 "  RequestTTY no\n"
                 "  ServerAliveInterval 7\n"
                 "  ConnectTimeout 3\n"
                 "Host beta\n"
                 "  HostName 127.0.0.9\n"
                 "  Port 2222\n"
                 "  User someone\n"
                 "Host gamma\n"
                 "  HostName 127.0.0.9\n"
                 "  Port 2222\n"
                 "  User someone\n"
                 "Host jump\n  ProxyJump alpha\n"
                 "Host agent\n  ForwardAgent yes\n"
                 "Host fwd\n  LocalForward 1234 localhost:22\n"
                 "Host own\n  ControlPath /tmp/cp-%C\n"
                 "Host gss\n  GSSAPIAuthentication yes\n  GSSAPIDelegateCredentials yes\n");
    const char *missing_id[] = {"-i", "/nonexistent/id_a", NULL};
    int rc = resolve("alpha", missing_id, &c, err);
    CHECK(rc == 0, "resolve alpha: %s", err);
    CHECK(!strcmp(c.host, "alpha"), "host %s", c.host);
    CHECK(!strcmp(c.hostname, "127.0.0.9"), "hostname %s", c.hostname);
    CHECK(c.port == 2222, "port %d", c.port);
    CHECK(!strcmp(c.user, "someone"), "user %s", c.user);
    CHECK(c.n_userknownhostsfile == 2 && !strcmp(c.userknownhostsfile[0], "/tmp/kh1") &&
              !strcmp(c.userknownhostsfile[1], "/tmp/kh2"),
          "userknownhostsfile");
    CHECK(c.stricthostkeychecking == HC_STRICT_ACCEPT_NEW, "strict %d", c.stricthostkeychecking);
    CHECK(c.identitiesonly == 1, "identitiesonly");
    CHECK(c.n_sendenv == 2 && !strcmp(c.sendenv[0], "LANG") && !strcmp(c.sendenv[1], "LC_*"),
          "sendenv n=%d", c.n_sendenv);
    CHECK(c.n_setenv == 1 && !strcmp(c.setenv[0], "FOO=bar"), "setenv");
    CHECK(c.controlpersist == 45, "controlpersist %d", c.controlpersist);
    CHECK(c.escapechar == -1, "escapechar %d", c.escapechar);
    CHECK(c.requesttty == HC_TTY_NO, "requesttty %d", c.requesttty);
    CHECK(c.serveraliveinterval == 7, "serveraliveinterval %d", c.serveraliveinterval);
    CHECK(c.connecttimeout == 3, "connecttimeout %d", c.connecttimeout);
    CHECK(c.unsupported[0] == 0, "unsupported '%s'", c.unsupported);
    CHECK(!c.has_own_controlpath, "controlpath");
    /* ssh -G warns about a missing -i file; the real ssh prints that too. */
    CHECK(strstr(c.warnings, "Identity file /nonexistent/id_a not accessible") != NULL,
          "warnings '%s'", c.warnings);

    static struct hostcfg b, g;
    CHECK(resolve("beta", NULL, &b, err) == 0, "resolve beta: %s", err);
    CHECK(resolve("gamma", NULL, &g, err) == 0, "resolve gamma: %s", err);
    CHECK(!strcmp(b.token, g.token), "same settings, same token");
    /* Identities, known-hosts files and policy steer the login: one authority. */
    CHECK(!strcmp(b.token, c.token), "different identities, same authority");
    static struct hostcfg a2;
    CHECK(resolve("alpha", NULL, &a2, err) == 0 && !a2.warnings[0], "no -i, no warning: '%s'",
          a2.warnings);
    const char *port[] = {"-p", "2223", NULL};
    static struct hostcfg bp;
    CHECK(resolve("beta", port, &bp, err) == 0 && strcmp(bp.token, b.token) != 0,
          "another port, another token");
    const char *user[] = {"-l", "other", NULL};
    static struct hostcfg bu;
    CHECK(resolve("beta", user, &bu, err) == 0 && strcmp(bu.token, b.token) != 0 &&
              !strcmp(bu.user, "other"),
          "another user, another token");

    static struct hostcfg u;
    CHECK(resolve("jump", NULL, &u, err) == 0 && !u.unsupported[0] && !strcmp(u.proxyjump, "alpha"),
          "ProxyJump served: '%s' '%s'", u.unsupported, u.proxyjump);
    CHECK(resolve("gss", NULL, &u, err) == 0 && !u.unsupported[0] && u.gssapiauthentication,
          "GSSAPI is decided at login, not a hand-over: '%s'", u.unsupported);
    CHECK(resolve("beta", NULL, &u, err) == 0 && !u.gssapiauthentication, "GSSAPI off by default");
    const char *fam[] = {"-4", "-o", "BatchMode=yes", "-C", "-c", "aes256-ctr", NULL};
    CHECK(resolve("beta", fam, &u, err) == 0 && !strcmp(u.token, b.token),
          "-4, BatchMode, -C, -c: same authority");
    const char *bind[] = {"-b", "127.0.0.1", NULL};
    CHECK(resolve("beta", bind, &u, err) == 0 && strcmp(u.token, b.token) != 0,
          "another BindAddress, another authority");
    CHECK(resolve("agent", NULL, &u, err) == 0 && !u.unsupported[0] &&
              !strcmp(u.forwardagent, "yes"),
          "ForwardAgent served: '%s' '%s'", u.unsupported, u.forwardagent);
    CHECK(resolve("fwd", NULL, &u, err) == 0 && !u.unsupported[0] &&
              !strncmp(u.forwards, "L ", 2) && strstr(u.forwards, "1234") &&
              strstr(u.forwards, "[localhost]:22"),
          "LocalForward in the config is served, for the client to bind: '%s' '%s'", u.unsupported,
          u.forwards);
    CHECK(resolve("own", NULL, &u, err) == 0 && u.has_own_controlpath &&
              !strncmp(u.controlpath, "/tmp/cp-", 8) && !strchr(u.controlpath, '%') &&
              u.controlmaster_client,
          "own ControlPath, expanded: '%s'", u.controlpath);
    test_live_master(&u);
    /* LocalCommand: kept only with PermitLocalCommand; %C as ssh computes it for ControlPath */
    const char *lc[] = {"-o", "LocalCommand=echo %n %h %p %r %C %T %% %k", "-o",
                        "ControlPath=/tmp/%C", NULL};
    CHECK(resolve("beta", lc, &u, err) == 0 && !u.localcommand[0] && !u.unsupported[0],
          "LocalCommand without PermitLocalCommand is ignored: '%s'", u.localcommand);
    const char *lcp[] = {
        "-o", "PermitLocalCommand=yes", "-o", "LocalCommand=echo %n %h %p %r %C %T %% %k",
        "-o", "ControlPath=/tmp/%C",    NULL};
    char cmd[8192], want[32768];
    CHECK(resolve("beta", lcp, &u, err) == 0 && !u.unsupported[0] &&
              !strcmp(u.localcommand, "echo %n %h %p %r %C %T %% %k"),
          "LocalCommand served, as written: '%s' '%s'", u.localcommand, u.unsupported);
    snprintf(want, sizeof want, "echo beta %s %d %s %s NONE %% beta", u.hostname, u.port, u.user,
             u.controlpath + 5);
    CHECK(percent_local_command(&u, cmd, sizeof cmd) == 0 && !strcmp(cmd, want),
          "expanded: '%s' want '%s'", cmd, want);
    snprintf(u.localcommand, sizeof u.localcommand, "echo %%Z");
    CHECK(percent_local_command(&u, cmd, sizeof cmd) < 0, "unknown token refused");
    const char *cm_yes[] = {"-o", "ControlMaster=yes", NULL};
    CHECK(resolve("own", cm_yes, &u, err) == 0 && !u.controlmaster_client,
          "ControlMaster yes never uses a master");
    /* Served now: ProxyCommand (its own authority), KnownHostsCommand, VerifyHostKeyDNS,
     * CanonicalizeHostname, VisualHostKey; ProxyCommand - and ProxyUseFdpass are not. */
    const char *served[] = {"-o", "ProxyCommand=nc %h %p",    "-o", "KnownHostsCommand=/bin/cat %H",
                            "-o", "VerifyHostKeyDNS=ask",     "-o", "VisualHostKey=yes",
                            "-o", "CanonicalizeHostname=yes", NULL};
    CHECK(resolve("beta", served, &u, err) == 0 && !u.unsupported[0] &&
              !strcmp(u.proxycommand, "nc %h %p") && !strcmp(u.knownhostscommand, "/bin/cat %H") &&
              u.verifyhostkeydns == 2 && u.visualhostkey && strcmp(u.token, b.token) != 0,
          "served settings: '%s' '%s' '%s' dns %d", u.unsupported, u.proxycommand,
          u.knownhostscommand, u.verifyhostkeydns);
    const char *dnsyes[] = {"-o", "VerifyHostKeyDNS=yes", "-o", "ProxyCommand=none", NULL};
    CHECK(resolve("beta", dnsyes, &u, err) == 0 && u.verifyhostkeydns == 1 && !u.proxycommand[0] &&
              !strcmp(u.token, b.token),
          "VerifyHostKeyDNS yes, ProxyCommand none");
    const char *stdio[] = {"-o", "ProxyCommand=-", NULL};
    CHECK(resolve("beta", stdio, &u, err) == 0 && !strcmp(u.unsupported, "ProxyCommand -"),
          "ProxyCommand - handed over: '%s'", u.unsupported);
    const char *fdpass[] = {"-o", "ProxyCommand=nc %h %p", "-o", "ProxyUseFdpass=yes", NULL};
    CHECK(resolve("beta", fdpass, &u, err) == 0 && !strcmp(u.unsupported, "ProxyUseFdpass"),
          "ProxyUseFdpass handed over: '%s'", u.unsupported);
    char *opts[] = {"-F", cfgpath, "-s", NULL};
    CHECK(sshconfig_resolve("/usr/bin/ssh", dir, opts, "beta", "sftp", environ, &u, err, 512) ==
                  0 &&
              u.sessiontype == HC_SESSION_SUBSYSTEM,
          "-s with a command word is a subsystem: %s", err);
}

static void test_cache(void)
{
    char err[512];
    static struct hostcfg c;
    write_config("Host cached\n  HostName 127.0.0.7\n  Port 2200\n");
    CHECK(resolve("cached", NULL, &c, err) == 0, "first: %s", err);
    unsigned long m0 = sshconfig_cache_misses();
    CHECK(resolve("cached", NULL, &c, err) == 0 && c.port == 2200, "second: %s", err);
    CHECK(sshconfig_cache_misses() == m0, "the second answer came from the cache");
    /* A changed file is read again, even within the same second. */
    write_config("Host cached\n  HostName 127.0.0.7\n  Port 2201\n");
    struct timeval tv[2] = {{1, 0}, {1, 0}}; /* a distinct mtime whatever the clock says */
    utimes(cfgpath, tv);
    CHECK(resolve("cached", NULL, &c, err) == 0 && c.port == 2201, "edited: port %d", c.port);
    CHECK(sshconfig_cache_misses() == m0 + 1, "the edit invalidated the cache");
}

static void test_errors(void)
{
    char err[512], want[512];
    static struct hostcfg c;
    write_config("Host bad\n  NoSuchKeyword yes\n");
    ssh_g_stderr("bad", want, sizeof want);
    CHECK(resolve("bad", NULL, &c, err) == -1, "a bad config fails");
    CHECK(want[0] && !strcmp(err, want), "ssh's own words: got '%s' want '%s'", err, want);
    chmod(cfgpath, 0);
    if (access(cfgpath, R_OK) != 0) { /* root reads anything; the check needs a normal user */
        ssh_g_stderr("x", want, sizeof want);
        CHECK(resolve("x", NULL, &c, err) == -1 && !strcmp(err, want),
              "unreadable: got '%s' want '%s'", err, want);
    }
    chmod(cfgpath, 0600);
    char *opts[] = {"-F", "/nonexistent/config", NULL};
    CHECK(sshconfig_resolve("/usr/bin/ssh", dir, opts, "x", "", environ, &c, err, 512) == -1 &&
              strstr(err, "/nonexistent/config"),
          "missing -F file: '%s'", err);
    CHECK(sshconfig_resolve("/nonexistent/ssh", dir, opts, "x", "", environ, &c, err, 512) == -1,
          "missing ssh binary");
}

struct tharg {
    struct hostcfg c;
    int rc;
};

static void *thread_resolve(void *p)
{
    struct tharg *a = p;
    char err[512];
    a->rc = resolve("par", NULL, &a->c, err);
    return NULL;
}

static void test_threads(void)
{
    write_config("Host par\n  HostName 127.0.0.5\n  Port 2345\n  User parallel\n");
    pthread_t t[8];
    static struct tharg a[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, thread_resolve, &a[i]);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++)
        CHECK(a[i].rc == 0 && a[i].c.port == 2345 && !strcmp(a[i].c.user, "parallel") &&
                  !strcmp(a[i].c.token, a[0].c.token),
              "thread %d", i);
}

static void test_parse_direct(void)
{
    static struct hostcfg c;
    char err[256];
    const char *text = "host h\nhostname example.org\nuser u\nport 22\nescapechar ~\n"
                       "controlpersist yes\nproxycommand none\nidentityfile %d/k_%r\n";
    CHECK(sshconfig_parse(text, strlen(text), NULL, &c, err, sizeof err) == 0, "parse: %s", err);
    CHECK(c.escapechar == '~' && c.controlpersist == 0 && !c.unsupported[0], "parse values");
    CHECK(c.n_identityfile == 1 && strstr(c.identityfile[0], "/k_u") && c.identityfile[0][0] == '/',
          "%%d and %%r expanded: %s", c.identityfile[0]);
    CHECK(sshconfig_parse("garbage", 7, NULL, &c, err, sizeof err) == -1, "no hostname: refused");
    CHECK(c.n_identityfile == 0 && !c.identityfile, "a refused parse leaves no lists");

    /* The lists are the hostcfg's own: a copy has its own, of exactly their count. */
    const char *lists = "host h\nhostname h\nuser u\nidentityfile /a\nidentityfile /b\n"
                        "userknownhostsfile /k1 /k2\nsendenv LANG\nsetenv A=1\n";
    static struct hostcfg d;
    CHECK(sshconfig_parse(lists, strlen(lists), NULL, &c, err, sizeof err) == 0, "parse: %s", err);
    CHECK(c.n_identityfile == 2 && c.n_userknownhostsfile == 2 && c.n_sendenv == 1 &&
              c.n_setenv == 1 && !strcmp(c.userknownhostsfile[1], "/k2") &&
              !strcmp(c.setenv[0], "A=1"),
          "lists parsed");
    CHECK(hostcfg_copy(&d, &c) == 0 && d.identityfile != c.identityfile &&
              !strcmp(d.identityfile[1], "/b") && !strcmp(d.sendenv[0], "LANG"),
          "a copy has lists of its own");
    snprintf(d.identityfile[0], HC_STR, "/changed");
    CHECK(!strcmp(c.identityfile[0], "/a"), "changing the copy leaves the original");
    hostcfg_clear(&d);
    CHECK(!d.identityfile && d.n_identityfile == 0 && !d.setenv && d.n_setenv == 0,
          "cleared: no lists");
    CHECK(sizeof(struct hostcfg) < 32 * 1024, "a hostcfg without its lists is %zu bytes",
          sizeof(struct hostcfg));
}

/* Relative paths mean what they mean to ssh: from the client's directory (cwd), ~ from
 * passwd; the name ssh shows stays at hand; "none" names no file. */
static void test_relative_parse(void)
{
    static struct hostcfg c;
    char err[256], want[HC_STR];
    const char *home = getenv("HOME");
    const char *text = "host h\nhostname h\nuser u\n"
                       "identityfile key.pem\nidentityfile ./key\nidentityfile ../id\n"
                       "identityfile none\nidentityfile ~root/k\nidentityfile /abs/k\n"
                       "userknownhostsfile kh /abs/kh\nglobalknownhostsfile gkh\n"
                       "identityagent ag.sock\nforwardagent fa.sock\ncontrolpath cp-x\n";
    CHECK(sshconfig_parse(text, strlen(text), "/w/proj", &c, err, sizeof err) == 0, "parse: %s",
          err);
    CHECK(c.n_identityfile == 5 && !strcmp(c.identityfile[0], "/w/proj/key.pem") &&
              !strcmp(c.identityfile[1], "/w/proj/./key") &&
              !strcmp(c.identityfile[2], "/w/proj/../id") &&
              !strcmp(c.identityfile[3], "/root/k") && !strcmp(c.identityfile[4], "/abs/k"),
          "identity files joined to the directory, none dropped: %d '%s' '%s' '%s'",
          c.n_identityfile, c.identityfile[0], c.identityfile[2], c.identityfile[3]);
    CHECK(!strcmp(c.identityfile[0] + c.identityfile_shown[0], "key.pem") &&
              !strcmp(c.identityfile[2] + c.identityfile_shown[2], "../id") &&
              c.identityfile_shown[4] == 0,
          "the names ssh shows");
    CHECK(c.n_userknownhostsfile == 2 && !strcmp(c.userknownhostsfile[0], "/w/proj/kh") &&
              !strcmp(c.userknownhostsfile[1], "/abs/kh") && c.n_globalknownhostsfile == 1 &&
              !strcmp(c.globalknownhostsfile[0], "/w/proj/gkh"),
          "known_hosts files: '%s' '%s'", c.userknownhostsfile[0], c.globalknownhostsfile[0]);
    CHECK(!strcmp(c.identityagent, "/w/proj/ag.sock") &&
              !strcmp(c.forwardagent, "/w/proj/fa.sock") &&
              !strcmp(c.controlpath, "/w/proj/cp-x") && !c.unsupported[0],
          "sockets: '%s' '%s' '%s'", c.identityagent, c.forwardagent, c.controlpath);

    const char *words = "host h\nhostname h\nuser u\nidentityfile k\nidentityfile ~/k\n"
                        "userknownhostsfile none\nglobalknownhostsfile ~/g\n"
                        "identityagent $MY_AGENT\nforwardagent yes\n";
    CHECK(sshconfig_parse(words, strlen(words), "/", &c, err, sizeof err) == 0, "parse: %s", err);
    snprintf(want, sizeof want, "%s/k", home && strcmp(home, "/") ? home : "");
    CHECK(c.n_identityfile == 2 && !strcmp(c.identityfile[0], "/k") &&
              c.identityfile_shown[0] == 1 && (!home || !strcmp(c.identityfile[1], want)),
          "from /: '%s' '%s' (want '%s')", c.identityfile[0], c.identityfile[1], want);
    CHECK(c.n_userknownhostsfile == 0 && c.n_globalknownhostsfile == 1 &&
              c.globalknownhostsfile[0][0] == '/' && !strcmp(c.identityagent, "$MY_AGENT") &&
              !strcmp(c.forwardagent, "yes"),
          "none, ~, $NAME and yes: %d '%s' '%s'", c.n_userknownhostsfile, c.globalknownhostsfile[0],
          c.identityagent);

    /* A path that cannot be made whole is ssh's to open: the session goes to it. */
    char longdir[HC_STR];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = '\0';
    CHECK(sshconfig_parse(words, strlen(words), longdir, &c, err, sizeof err) == 0 &&
              c.unsupported[0],
          "too long: '%s'", c.unsupported);
    hostcfg_clear(&c);
}

/* Through ssh -G and its cache: the same words in two directories are two answers, each
 * with its own directory's files; a file named from another directory is the same file. */
static void test_relative_resolve(void)
{
    static struct hostcfg a, b, c;
    char err[512], sub[600], rel[700], want[700];
    snprintf(sub, sizeof sub, "%s/proj", dir);
    mkdir(sub, 0700);
    write_config("Host rel\n  HostName 127.0.0.3\n");
    char *opts[] = {"-F", "../config", "-o", "IdentityFile=key.pem", "-o", "UserKnownHostsFile=kh",
                    NULL};
    CHECK(sshconfig_resolve("/usr/bin/ssh", sub, opts, "rel", "", environ, &a, err, 512) == 0,
          "from proj: %s", err);
    snprintf(want, sizeof want, "%s/key.pem", sub);
    CHECK(a.n_identityfile == 1 && !strcmp(a.identityfile[0], want) &&
              a.n_userknownhostsfile == 1 && !strncmp(a.userknownhostsfile[0], sub, strlen(sub)),
          "relative -F, IdentityFile, UserKnownHostsFile from proj: '%s'", a.identityfile[0]);
    char *opts2[] = {"-F", "config", "-o", "IdentityFile=key.pem", "-o", "UserKnownHostsFile=kh",
                     NULL};
    CHECK(sshconfig_resolve("/usr/bin/ssh", dir, opts2, "rel", "", environ, &b, err, 512) == 0,
          "from its parent: %s", err);
    snprintf(want, sizeof want, "%s/key.pem", dir);
    CHECK(b.n_identityfile == 1 && !strcmp(b.identityfile[0], want),
          "the other directory's answer: '%s'", b.identityfile[0]);
    unsigned long m0 = sshconfig_cache_misses();
    CHECK(sshconfig_resolve("/usr/bin/ssh", sub, opts, "rel", "", environ, &a, err, 512) == 0 &&
              sshconfig_cache_misses() == m0 && !strncmp(a.identityfile[0], sub, strlen(sub)),
          "a cached answer keeps its own directory: '%s'", a.identityfile[0]);
    snprintf(rel, sizeof rel, "IdentityFile=%s/key.pem", sub);
    char *opts3[] = {"-F", "config", "-o", rel, "-o", "UserKnownHostsFile=proj/kh", NULL};
    CHECK(sshconfig_resolve("/usr/bin/ssh", dir, opts3, "rel", "", environ, &c, err, 512) == 0 &&
              !strcmp(c.identityfile[0], a.identityfile[0]) &&
              !strcmp(c.userknownhostsfile[0], a.userknownhostsfile[0]) &&
              !strcmp(c.token, a.token),
          "the same files named from elsewhere: '%s' '%s'", c.identityfile[0],
          c.userknownhostsfile[0]);
    /* Agents named through the environment: a relative SSH_AUTH_SOCK, IdentityAgent and
     * ForwardAgent "$NAME" (set, unset, empty), each as ssh would connect to it. */
    char *envr[] = {"SSH_AUTH_SOCK=rel.sock", "MY_AG=ag2.sock", "MY_EMPTY=", "FWD=/abs/fwd", NULL};
    snprintf(want, sizeof want, "%s/rel.sock", sub);
    CHECK(sshconfig_resolve("/usr/bin/ssh", sub, opts, "rel", "", envr, &b, err, 512) == 0 &&
              !strcmp(b.identityagent, want),
          "a relative SSH_AUTH_SOCK: '%s'", b.identityagent);
    char *agopts[] = {"-F", "../config",         "-o", "IdentityAgent=$MY_AG",
                      "-o", "ForwardAgent=$FWD", NULL};
    snprintf(want, sizeof want, "%s/ag2.sock", sub);
    CHECK(sshconfig_resolve("/usr/bin/ssh", sub, agopts, "rel", "", envr, &b, err, 512) == 0 &&
              !strcmp(b.identityagent, want) && !strcmp(b.forwardagent, "/abs/fwd"),
          "$NAME agents: '%s' '%s' (%s)", b.identityagent, b.forwardagent, err);
    char *unset[] = {
        "-F", "../config", "-o", "IdentityAgent=$MY_EMPTY", "-o", "ForwardAgent=$NOT_SET_ANYWHERE",
        NULL};
    CHECK(sshconfig_resolve("/usr/bin/ssh", sub, unset, "rel", "", envr, &b, err, 512) == 0 &&
              !strcmp(b.identityagent, "none") && !b.forwardagent[0],
          "empty and unset: '%s' '%s'", b.identityagent, b.forwardagent);
    /* A relative -F is watched where ssh reads it: an edit is read again. */
    write_config("Host rel\n  HostName 127.0.0.4\n");
    struct timeval tv[2] = {{2, 0}, {2, 0}};
    utimes(cfgpath, tv);
    CHECK(sshconfig_resolve("/usr/bin/ssh", sub, opts, "rel", "", environ, &a, err, 512) == 0 &&
              !strcmp(a.hostname, "127.0.0.4"),
          "relative -F edited: %s", a.hostname);
    hostcfg_clear(&a);
    hostcfg_clear(&b);
    hostcfg_clear(&c);
    rmdir(sub);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cfgpath, sizeof cfgpath, "%s/config", dir);
    test_parse_direct();
    test_relative_parse();
    test_relative_resolve();
    test_fields();
    test_cache();
    test_errors();
    test_threads();
    unlink(cfgpath);
    rmdir(dir);
    printf("sshconfig: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
