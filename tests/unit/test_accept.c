/* conn_accepts: which sessions of one authority may share a made connection (host key,
 * login key, algorithms, address family), and which settings never split one; and when
 * GSSAPI would matter (Kerberos credentials present). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accept.h"
#include "auth.h"
#include "keyfile.h"
#include "offer.h"
#include "sshconfig.h"

#include "check.h"

static char dir[64];

static void die(const char *what)
{
    fprintf(stderr, "test_accept: %s\n", what);
    exit(2);
}

static void run(const char *fmt, const char *arg)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, arg, arg, arg, arg);
    int rc = system(cmd);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        die(cmd);
}

/* The public blob of dir/name (its .pub) into out; its length. */
static size_t blob_of(const char *name, unsigned char *out)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    long n = keyfile_identity_public(path, out, CF_BLOB_MAX);
    if (n <= 0)
        die("cannot read a test key");
    return (size_t)n;
}

/* A session's config as `ssh -G` prints it, with extra lines appended (a
 * userknownhostsfile line among them replaces the default one). */
static void session(struct hostcfg *c, const char *extra)
{
    char kh[128] = "";
    if (!strstr(extra, "userknownhostsfile"))
        snprintf(kh, sizeof kh, "userknownhostsfile %s/known_hosts\n", dir);
    char text[8192], err[256];
    snprintf(text, sizeof text,
             "host lab\nhostname 127.0.0.1\nuser git\nport 2222\n"
             "identityfile %s/id_a\nidentityfile %s/id_nopub\n"
             "%sglobalknownhostsfile %s/none\n"
             "kexalgorithms curve25519-sha256,curve25519-sha256@libssh.org,"
             "ecdh-sha2-nistp256\n"
             "hostkeyalgorithms ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,rsa-sha2-512\n"
             "ciphers chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr\n"
             "macs umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256\n"
             "%s",
             dir, dir, kh, dir, extra);
    if (sshconfig_parse(text, strlen(text), NULL, c, err, sizeof err) < 0)
        die(err);
}

/* The key id of dir/name's public key. */
static void id_of(const char *name, struct keyid *out)
{
    unsigned char blob[CF_BLOB_MAX];
    size_t n = blob_of(name, blob);
    conn_keyid(blob, n, out);
}

static int ok(const struct conn_facts *f, const struct hostcfg *c, char *const *env, int *learn)
{
    char why[512];
    int l = 0;
    struct accept_files *af = accept_files_read(c);
    int rc = conn_accepts(f, c, af, env, &l, why, sizeof why);
    accept_files_free(af);
    if (learn)
        *learn = l;
    if (!rc && !why[0])
        printf("FAIL: refused without a reason\n");
    return rc;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_accept.%d", (int)getpid());
    run("rm -rf %s && mkdir -p %s", dir);
    run("ssh-keygen -q -t ed25519 -N '' -C a -f %s/id_a && "
        "ssh-keygen -q -t ed25519 -N '' -C b -f %s/id_b",
        dir);
    run("ssh-keygen -q -t ed25519 -N '' -C h -f %s/host && "
        "ssh-keygen -q -t ed25519 -N '' -C h2 -f %s/host2",
        dir);
    /* A key whose .pub is gone: the public half comes from the private key itself. */
    run("ssh-keygen -q -t ed25519 -N '' -C n -f %s/id_nopub && cp %s/id_nopub.pub %s/nopub.pub "
        "&& rm %s/id_nopub.pub",
        dir);
    run("printf '[127.0.0.1]:2222 ' > %s/known_hosts && cut -d' ' -f1,2 %s/host.pub >> "
        "%s/known_hosts",
        dir);

    static struct conn_facts f;
    static struct hostcfg c;
    char line[256];
    f.hostkey_len = blob_of("host", f.hostkey);
    f.login = LOGIN_KEY;
    id_of("id_a", &f.login_key);
    snprintf(f.kex, sizeof f.kex, "curve25519-sha256");
    snprintf(f.hostkey_alg, sizeof f.hostkey_alg, "ssh-ed25519");
    snprintf(f.cipher_cs, sizeof f.cipher_cs, "aes128-ctr");
    snprintf(f.cipher_sc, sizeof f.cipher_sc, "aes128-ctr");
    snprintf(f.mac_cs, sizeof f.mac_cs, "hmac-sha2-256");
    snprintf(f.mac_sc, sizeof f.mac_sc, "hmac-sha2-256");
    f.family = AF_INET;
    char *noenv[] = {NULL};
    int learn = 0;

    session(&c, "");
    CHECK(ok(&f, &c, noenv, &learn) && !learn, "same authority, known host key, offered key");

    /* PKCS#11: a token's key logged in (id_b, known only to a login): the same provider
     * shares, another provider or none does not; a session of a provider does not share a
     * connection an identity file logged in (the token's keys come before the files). */
    {
        static struct conn_facts t;
        t = f;
        id_of("id_b", &t.login_key);
        snprintf(t.pkcs11, sizeof t.pkcs11, "/usr/lib/p11.so");
        session(&c, "pkcs11provider /usr/lib/p11.so\n");
        CHECK(ok(&t, &c, noenv, NULL), "a token's login shares with the same provider");
        session(&c, "pkcs11provider /usr/lib/other.so\n");
        CHECK(!ok(&t, &c, noenv, NULL), "a token's login is not another provider's");
        session(&c, "");
        CHECK(!ok(&t, &c, noenv, NULL), "a token's login is not a session's without a provider");
        session(&c, "pkcs11provider /usr/lib/p11.so\n");
        CHECK(!ok(&f, &c, noenv, NULL), "an identity file's login is not a provider's session's");
        session(&c, "pkcs11provider none\n");
        CHECK(ok(&f, &c, noenv, NULL), "PKCS11Provider none is no provider");
    }

    /* Settings that only steer the login or the local side never split. */
    session(&c, "batchmode yes\npasswordauthentication no\nkbdinteractiveauthentication no\n"
                "pubkeyauthentication no\npreferredauthentications publickey\n"
                "connecttimeout 5\nnumberofpasswordprompts 1\nloglevel QUIET\nsendenv LANG\n"
                "setenv A=b\nrequesttty force\nescapechar none\ncompression yes\n"
                "stricthostkeychecking yes\nidentitiesonly yes\n");
    CHECK(ok(&f, &c, noenv, NULL), "BatchMode, *Authentication, Compression... share");

    /* (d) the address family */
    session(&c, "addressfamily inet\n");
    CHECK(ok(&f, &c, noenv, NULL), "-4 on a connection over IPv4 shares");
    session(&c, "addressfamily inet6\n");
    CHECK(!ok(&f, &c, noenv, NULL), "-6 on a connection over IPv4 does not");
    f.family = 0;
    CHECK(ok(&f, &c, noenv, NULL), "through a tunnel there is no family to refuse");
    f.family = AF_INET;

    /* (c) the algorithms */
    session(&c, "ciphers aes256-ctr\n");
    CHECK(!ok(&f, &c, noenv, NULL), "-c aes256-ctr on an aes128-ctr connection does not share");
    snprintf(f.cipher_sc, sizeof f.cipher_sc, "aes256-ctr");
    session(&c, "ciphers aes128-ctr\n");
    CHECK(!ok(&f, &c, noenv, NULL), "each direction's cipher counts");
    snprintf(f.cipher_sc, sizeof f.cipher_sc, "aes128-ctr");
    session(&c, "macs hmac-sha2-512\n");
    CHECK(!ok(&f, &c, noenv, NULL), "MAC not in MACs");
    session(&c, "kexalgorithms diffie-hellman-group14-sha256\n");
    CHECK(!ok(&f, &c, noenv, NULL), "kex not in KexAlgorithms");
    session(&c, "hostkeyalgorithms rsa-sha2-512\n");
    CHECK(!ok(&f, &c, noenv, NULL), "host key algorithm not in HostKeyAlgorithms");

    /* (b) the login key: the one the session would log in with */
    struct hostcfg *other = calloc(1, sizeof *other);
    char text[1024], err[256];
    snprintf(text, sizeof text,
             "host lab\nhostname 127.0.0.1\nuser git\nport 2222\nidentityfile %s/id_b\n"
             "identityfile %s/id_a\nuserknownhostsfile %s/known_hosts\n",
             dir, dir, dir);
    if (!other || sshconfig_parse(text, strlen(text), NULL, other, err, sizeof err) < 0)
        die("parse");
    CHECK(!ok(&f, other, noenv, NULL), "-i another key (offered first) does not share");
    id_of("id_b", &f.refused[f.n_refused++]);
    CHECK(ok(&f, other, noenv, NULL), "... unless the server refused that key to the connection");
    f.n_refused = 0;
    id_of("id_b", &f.login_key);
    CHECK(!ok(&f, &c, noenv, NULL), "a connection of id_b: not for a session offering id_a");
    CHECK(ok(&f, other, noenv, NULL), "a connection of id_b: for a session offering it first");
    id_of("nopub", &f.login_key);
    session(&c, "");
    CHECK(!ok(&f, &c, noenv, NULL), "id_a comes first");
    id_of("id_a", &f.refused[f.n_refused++]);
    CHECK(ok(&f, &c, noenv, NULL), "a key without .pub: its private file's public half");
    /* The cache sees the file change: now id_nopub holds b's key. */
    run("sleep 0.01; cp %s/id_b %s/id_nopub", dir);
    CHECK(!ok(&f, &c, noenv, NULL), "a changed identity file is read again");
    run("rm %s/id_nopub", dir);
    CHECK(!ok(&f, &c, noenv, NULL), "a removed identity file offers nothing");
    f.n_refused = 0;
    f.login = LOGIN_NONE;
    CHECK(ok(&f, other, noenv, NULL), "a password login: any session of the authority");
    f.login = LOGIN_FILE;
    snprintf(f.login_file, sizeof f.login_file, "%s/id_b", dir);
    CHECK(ok(&f, other, noenv, NULL) && !ok(&f, &c, noenv, NULL),
          "a PEM key without .pub: the same path, first");

    /* An agent key: the same agent socket, in the agent's order. */
    run("ssh-keygen -q -t ed25519 -N '' -C c -f %s/id_c", dir);
    f.login = LOGIN_KEY;
    f.login_by_agent = 1;
    id_of("id_c", &f.login_key);
    snprintf(f.agent, sizeof f.agent, "/tmp/agent.1");
    f.n_agent_keys = 0;
    id_of("id_c", &f.agent_keys[f.n_agent_keys++]);
    char *agent1[] = {"SSH_AUTH_SOCK=/tmp/agent.1", NULL};
    char *agent2[] = {"SSH_AUTH_SOCK=/tmp/agent.2", NULL};
    session(&c, "");
    CHECK(ok(&f, &c, agent1, NULL), "the same agent shares");
    CHECK(!ok(&f, &c, agent2, NULL), "another agent does not");
    CHECK(!ok(&f, &c, noenv, NULL), "no agent, the key not among the files: does not");
    session(&c, "identitiesonly yes\n");
    CHECK(!ok(&f, &c, agent1, NULL), "IdentitiesOnly: the agent key is not offered");
    snprintf(line, sizeof line, "identitiesonly yes\nidentityfile %s/id_c\n", dir);
    session(&c, line);
    CHECK(ok(&f, &c, agent1, NULL), "IdentitiesOnly: the agent's key of an identity file first");
    CHECK(!ok(&f, &c, noenv, NULL), "without the agent, id_a (a file) comes before id_c");
    f.n_agent_keys = 0;
    id_of("id_a", &f.agent_keys[f.n_agent_keys++]);
    id_of("id_c", &f.agent_keys[f.n_agent_keys++]);
    id_of("id_a", &f.refused[f.n_refused++]);
    CHECK(ok(&f, &c, agent1, NULL), "the agent's keys first, a refused one skipped");
    f.n_refused = 0;
    session(&c, "identityagent none\n");
    CHECK(!ok(&f, &c, agent1, NULL), "IdentityAgent none");
    session(&c, "identityagent /tmp/agent.1\n");
    CHECK(!ok(&f, &c, agent2, NULL), "IdentityAgent names the same agent, id_a comes first");

    /* A CertificateFile certificate of id_c (an agent-only key) logged in through the agent:
     * a session with the certificate and the same agent shares; one with no agent cannot
     * sign it (ssh skips it), so it does not, unless an identity file holds id_c. */
    run("ssh-keygen -q -t ed25519 -N '' -C ca -f %s/ca && "
        "ssh-keygen -q -s %s/ca -I c -n git %s/id_c.pub",
        dir);
    {
        unsigned char cb[CF_BLOB_MAX];
        char cpath[128];
        snprintf(cpath, sizeof cpath, "%s/id_c-cert.pub", dir);
        long cn = offer_cert_file(cpath, cb, sizeof cb);
        if (cn <= 0)
            die("cannot read the test certificate");
        conn_keyid(cb, (size_t)cn, &f.login_key);
        f.n_agent_keys = 0;
        id_of("id_c", &f.agent_keys[f.n_agent_keys++]);
        snprintf(line, sizeof line, "certificatefile %s\n", cpath);
        session(&c, line);
        CHECK(ok(&f, &c, agent1, NULL), "a certificate the same agent signs shares");
        CHECK(!ok(&f, &c, noenv, NULL), "no agent to sign the certificate: does not share");
        CHECK(!ok(&f, &c, agent2, NULL), "another agent: does not share");
        snprintf(line, sizeof line, "certificatefile %s\nidentityfile %s/id_c\n", cpath, dir);
        session(&c, line);
        CHECK(ok(&f, &c, noenv, NULL), "no agent, an identity file holds the key: shares");
    }
    f.login = LOGIN_NONE;
    f.login_by_agent = 0;

    /* (a) the host key */
    session(&c, "userknownhostsfile /nonexistent/kh\n");
    CHECK(!ok(&f, &c, noenv, NULL), "unknown host key, StrictHostKeyChecking ask: no");
    session(&c, "userknownhostsfile /nonexistent/kh\nstricthostkeychecking yes\n");
    CHECK(!ok(&f, &c, noenv, NULL), "unknown host key, StrictHostKeyChecking yes: no");
    session(&c, "userknownhostsfile /nonexistent/kh\nstricthostkeychecking accept-new\n");
    CHECK(ok(&f, &c, noenv, &learn) && learn, "unknown host key, accept-new: yes, learnt");
    session(&c, "userknownhostsfile /nonexistent/kh\nstricthostkeychecking false\n");
    CHECK(ok(&f, &c, noenv, &learn), "unknown host key, StrictHostKeyChecking no: yes");
    session(&c, "hostkeyalias other\n");
    CHECK(!ok(&f, &c, noenv, NULL), "HostKeyAlias names another entry");
    f.hostkey_len = blob_of("host2", f.hostkey);
    session(&c, "stricthostkeychecking false\n");
    CHECK(!ok(&f, &c, noenv, NULL), "a key that conflicts with a known one never shares");

    /* Kerberos credentials, as ssh's GSSAPI would find them. */
    char cc[128];
    snprintf(cc, sizeof cc, "FILE:%s/known_hosts", dir);
    CHECK(auth_krb5_creds(cc, 0) && auth_krb5_creds(cc + 5, 0), "FILE: or a path that exists");
    CHECK(!auth_krb5_creds("FILE:/nonexistent/cc", 0) && !auth_krb5_creds("/nonexistent/cc", 0),
          "a cache file that does not exist");
    CHECK(auth_krb5_creds("KEYRING:persistent:1000", 0) && auth_krb5_creds("KCM:", 0) &&
              auth_krb5_creds("DIR:/nonexistent", 0),
          "other cache types count as present");
    uid_t nobody = 3999999;
    snprintf(cc, sizeof cc, "/tmp/krb5cc_%u", (unsigned)nobody);
    unlink(cc);
    CHECK(!auth_krb5_creds(NULL, nobody), "no KRB5CCNAME and no /tmp/krb5cc_<uid>");
    FILE *kf = fopen(cc, "w");
    if (kf)
        fclose(kf);
    CHECK(auth_krb5_creds(NULL, nobody), "no KRB5CCNAME, /tmp/krb5cc_<uid> exists");
    unlink(cc);

    /* ForwardAgent's check that an agent listens: an agent that accepts nothing, with its
     * backlog full, is there, and the check (made on the loop) does not wait for it. */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/agent", dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0), queued[64], nq = 0;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 0) < 0)
        die("cannot make a listening socket");
    for (int full = 0; !full && nq < 64; nq++) {
        queued[nq] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        full = connect(queued[nq], (struct sockaddr *)&sa, sizeof sa) < 0;
    }
    char agentvar[160], fwd[HC_STR];
    snprintf(agentvar, sizeof agentvar, "SSH_AUTH_SOCK=%s", sa.sun_path);
    char *agentenv[] = {agentvar, NULL};
    session(&c, "forwardagent yes\n");
    alarm(5); /* a connect that waits would hang here: fail instead */
    accept_fwd_agent(&c, agentenv, fwd, sizeof fwd);
    alarm(0);
    CHECK(!strcmp(fwd, sa.sun_path), "an agent with a full backlog is present (got '%s')", fwd);
    for (int i = 0; i < nq; i++)
        close(queued[i]);
    close(lfd);

    hostcfg_free(other);
    run("rm -rf %s", dir);
    printf("test_accept: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
