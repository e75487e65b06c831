/* conn_establish against the real /usr/sbin/sshd on loopback: key and agent auth, host key
 * policy (accept-new, strict, changed, revoked, key type ordering), ssh's connect errors. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "keyfile.h"
#include "conn.h"
#include "hostkey.h"

#include "check.h"

static char dir[64];
static int port;
static pid_t sshd_pid = -1, agent_pid = -1;

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void die(const char *what)
{
    fprintf(stderr, "test_conn: %s\n", what);
    if (sshd_pid > 0)
        kill(sshd_pid, SIGTERM);
    if (agent_pid > 0)
        kill(agent_pid, SIGTERM);
    exit(2);
}

/* A loopback port nobody listens on right now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        die("cannot find a free port");
    close(fd);
    return ntohs(sa.sin_port);
}

static int port_open(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)p),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* Start argv[0] with stdout and stderr to log. */
static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void keygen(const char *name, const char *type, const char *pass)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ssh-keygen -q -t %s -N '%s' -f %s/%s >/dev/null", type, pass, dir,
             name);
    if (run(cmd) != 0)
        die("ssh-keygen failed");
}

static void start_sshd(void)
{
    char path[1024], cfg[256];
    mkdir("/run/sshd", 0755);
    keygen("hk_ed", "ed25519", "");
    keygen("hk_rsa", "rsa", "");
    keygen("hk_ecdsa", "ecdsa", "");
    keygen("other_ed", "ed25519", "");
    keygen("id_file", "ed25519", "");
    keygen("id_agent", "ed25519", "");
    keygen("id_enc", "ed25519", "secret");
    snprintf(path, sizeof path,
             "cat %s/id_file.pub %s/id_agent.pub %s/id_enc.pub > %s/authorized_keys", dir, dir, dir,
             dir);
    if (run(path) != 0)
        die("cannot write authorized_keys");
    port = free_port();
    snprintf(cfg, sizeof cfg, "%s/sshd_config", dir);
    FILE *f = fopen(cfg, "w");
    if (!f)
        die("cannot write sshd_config");
    fprintf(
        f,
        "Port %d\nListenAddress 127.0.0.1\nHostKey %s/hk_ed\nHostKey %s/hk_rsa\n"
        "HostKey %s/hk_ecdsa\n"
        "UsePAM no\nStrictModes no\nPermitRootLogin yes\nAuthorizedKeysFile %s/authorized_keys\n"
        "PasswordAuthentication yes\nKbdInteractiveAuthentication yes\nPidFile none\n",
        port, dir, dir, dir, dir);
    fclose(f);
    char *argv[] = {"/usr/sbin/sshd", "-D", "-e", "-f", cfg, NULL};
    snprintf(path, sizeof path, "%s/sshd.log", dir);
    sshd_pid = spawn(argv, path);
    for (int i = 0; i < 100 && !port_open(port); i++)
        usleep(50000);
    if (!port_open(port))
        die("sshd did not start");
}

/* Read the first line of a command's output (stdout and stderr) into out. */
static void first_line(const char *cmd, char *out, size_t outlen)
{
    FILE *p = popen(cmd, "r");
    out[0] = '\0';
    if (p && fgets(out, (int)outlen, p))
        out[strcspn(out, "\r\n")] = '\0';
    if (p)
        pclose(p);
}

/* All that cmd prints, less its last line's end (ssh ends its lines with "\r\n"). */
static void all_output(const char *cmd, char *out, size_t outlen)
{
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, outlen - 1, p) : 0;
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    if (p)
        pclose(p);
}

/* The algorithm lists plain ssh would use, from ssh -G. */
static void fill_algs(struct hostcfg *c)
{
    FILE *p = popen("ssh -F /dev/null -G 127.0.0.1 2>/dev/null", "r");
    char line[4096];
    while (p && fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        char *v = strchr(line, ' ');
        if (!v)
            continue;
        *v++ = '\0';
        if (strcmp(line, "kexalgorithms") == 0)
            snprintf(c->kexalgorithms, HC_STR, "%s", v);
        else if (strcmp(line, "ciphers") == 0)
            snprintf(c->ciphers, HC_STR, "%s", v);
        else if (strcmp(line, "macs") == 0)
            snprintf(c->macs, HC_STR, "%s", v);
        else if (strcmp(line, "hostkeyalgorithms") == 0)
            snprintf(c->hostkeyalgorithms, HC_STR, "%s", v);
    }
    if (p)
        pclose(p);
}

static struct hostcfg base;

static void init_cfg(void)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(base.hostname, HC_STR, "127.0.0.1");
    snprintf(base.host, HC_STR, "127.0.0.1");
    snprintf(base.user, HC_STR, "%s", pw ? pw->pw_name : "root");
    base.port = port;
    base.addressfamily = AF_UNSPEC;
    base.connecttimeout = 10;
    base.numberofpasswordprompts = 3;
    char path[HC_STR];
    snprintf(path, sizeof path, "%s/id_file", dir);
    hostcfg_add(&base.identityfile, &base.n_identityfile, HC_MAX_FILES, path);
    snprintf(base.identityagent, HC_STR, "SSH_AUTH_SOCK");
    snprintf(path, sizeof path, "%s/known_hosts", dir);
    hostcfg_add(&base.userknownhostsfile, &base.n_userknownhostsfile, HC_MAX_FILES, path);
    snprintf(path, sizeof path, "%s/no_global", dir);
    hostcfg_add(&base.globalknownhostsfile, &base.n_globalknownhostsfile, HC_MAX_FILES, path);
    if (!base.identityfile || !base.userknownhostsfile || !base.globalknownhostsfile)
        die("out of memory");
    base.stricthostkeychecking = HC_STRICT_ACCEPT_NEW;
    base.pubkeyauthentication = base.passwordauthentication = 1;
    base.kbdinteractiveauthentication = 1;
    snprintf(base.preferredauthentications, HC_STR,
             "gssapi-with-mic,publickey,keyboard-interactive,password");
    fill_algs(&base);
    base.loglevel = 3;
}

/* c becomes a copy of base with lists of its own (c's earlier lists released). */
static void from_base(struct hostcfg *c)
{
    hostcfg_clear(c);
    if (hostcfg_copy(c, &base) < 0)
        die("out of memory");
}

/* Runs "echo hi" over the session: proves it is authenticated and usable. */
static int session_works(LIBSSH2_SESSION *s)
{
    LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s);
    if (!ch)
        return 0;
    char buf[64] = "";
    ssize_t n = 0, r;
    if (libssh2_channel_exec(ch, "echo hi") == 0)
        while ((r = libssh2_channel_read(ch, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
            n += r;
    buf[n > 0 ? n : 0] = '\0';
    libssh2_channel_close(ch);
    libssh2_channel_free(ch);
    return strcmp(buf, "hi\n") == 0;
}

/* A scripted user: answers[i] for the i-th question (NULL = cannot ask), records prompts. */
struct script {
    const char *answers[8];
    int asked;
    char prompts[8][1024];
};

static int script_ask(void *ctx, const char *prompt, int echo, char *answer, size_t len)
{
    struct script *sc = ctx;
    (void)echo;
    if (sc->asked >= 8 || !sc->answers[sc->asked])
        return -1;
    snprintf(sc->prompts[sc->asked], sizeof sc->prompts[0], "%s", prompt);
    snprintf(answer, len, "%s", sc->answers[sc->asked++]);
    return 0;
}

static enum conn_status try_p(const struct hostcfg *c, const char *agent,
                              const struct conn_prompter *pr, char *err, int *works)
{
    struct conn_result r;
    enum conn_status st = conn_establish(c, -1, agent, NULL, pr, &r);
    snprintf(err, sizeof r.err, "%s", r.err);
    if (works)
        *works = 0;
    if (st == CONN_OK) {
        if (works)
            *works = session_works(r.session);
        conn_close(r.session, r.sock, "test done");
    } else if (r.session || r.sock != -1) {
        printf("FAIL: failure left a session or socket behind\n");
        failed++;
    }
    return st;
}

static enum conn_status try(const struct hostcfg *c, const char *agent, char *err, int *works)
{
    return try_p(c, agent, NULL, err, works);
}

/* Host key line for the server's key from a .pub file. */
static void kh_line(const char *file, const char *pub, const char *marker)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "printf '%s[127.0.0.1]:%d ' > %s && cut -d' ' -f1,2 %s/%s >> %s",
             marker, port, file, dir, pub, file);
    if (run(cmd) != 0)
        die("cannot write known_hosts");
}

static void test_key_and_hostkeys(void)
{
    static struct hostcfg c;
    char err[512], cmd[4096], kh[HC_STR];
    int works;
    from_base(&c);
    snprintf(kh, sizeof kh, "%s", c.userknownhostsfile[0]);
    unlink(kh);

    c.stricthostkeychecking = HC_STRICT_YES;
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK && strstr(err, "unknown"),
          "strict yes, unknown host: %s", err);

    c.stricthostkeychecking = HC_STRICT_ACCEPT_NEW;
    CHECK(try(&c, NULL, err, &works) == CONN_OK && works, "accept-new + identity file: %s", err);
    snprintf(cmd, sizeof cmd, "ssh-keygen -F '[127.0.0.1]:%d' -f %s >/dev/null", port, kh);
    CHECK(run(cmd) == 0, "accept-new wrote an entry ssh-keygen -F finds");
    struct stat st;
    CHECK(stat(kh, &st) == 0 && (st.st_mode & 0777) == 0600, "known_hosts mode 0600");

    c.stricthostkeychecking = HC_STRICT_YES;
    CHECK(try(&c, NULL, err, &works) == CONN_OK && works, "strict yes, known: %s", err);
    /* The real ssh agrees the entry is right. */
    snprintf(cmd, sizeof cmd,
             "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o "
             "UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -i %s/id_file -p %d "
             "127.0.0.1 true 2>/dev/null",
             kh, dir, port);
    CHECK(run(cmd) == 0, "real ssh accepts the entry muxshim wrote");

    /* Hashed accept-new. */
    unlink(kh);
    c.stricthostkeychecking = HC_STRICT_ACCEPT_NEW;
    c.hashknownhosts = 1;
    CHECK(try(&c, NULL, err, NULL) == CONN_OK, "accept-new hashed: %s", err);
    snprintf(cmd, sizeof cmd,
             "grep -q '^|1|' %s && ssh-keygen -F '[127.0.0.1]:%d' -f %s >/dev/null", kh, port, kh);
    CHECK(run(cmd) == 0, "hashed entry found by ssh-keygen -F");
    c.hashknownhosts = 0;

    /* Changed key: the host is known with another ed25519 key. */
    kh_line(kh, "other_ed.pub", "");
    c.stricthostkeychecking = HC_STRICT_YES;
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK && strstr(err, "changed"),
          "changed key, strict yes: %s", err);
    c.stricthostkeychecking = HC_STRICT_ACCEPT_NEW;
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK && strstr(err, "changed"),
          "changed key, accept-new: %s", err);
    c.stricthostkeychecking = HC_STRICT_NO;
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK, "changed key, strict no: %s", err);

    /* Only the ECDSA key is known: the handshake must ask for it first. */
    kh_line(kh, "hk_ecdsa.pub", "");
    c.stricthostkeychecking = HC_STRICT_YES;
    CHECK(try(&c, NULL, err, &works) == CONN_OK && works, "ecdsa known, ordered first: %s", err);
    c.hostkeyalgorithms[0] = '\0';
    CHECK(try(&c, NULL, err, NULL) == CONN_OK, "ecdsa first with libssh2's own list: %s", err);
    from_base(&c);
    c.stricthostkeychecking = HC_STRICT_YES;
    /* Only the RSA key is known: libssh2 1.10 has no rsa-sha2-* host key method, and sshd
     * 9.2 refuses ssh-rsa, so this is left to the real ssh; 1.11 has rsa-sha2-512/256. */
    kh_line(kh, "hk_rsa.pub", "");
    if (LIBSSH2_VERSION_NUM < 0x010b00)
        CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK && strstr(err, "ssh-rsa"),
              "rsa known only: %s", err);
    else
        CHECK(try(&c, NULL, err, NULL) == CONN_OK, "rsa known only, rsa-sha2: %s", err);

    /* Revoked ed25519 key. */
    kh_line(kh, "hk_ed.pub", "@revoked ");
    snprintf(cmd, sizeof cmd,
             "printf '[127.0.0.1]:%d ' >> %s && cut -d' ' -f1,2 %s/hk_ed.pub >> %s", port, kh, dir,
             kh);
    run(cmd);
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK && strstr(err, "revoked"), "revoked: %s", err);

    /* @cert-authority only. */
    kh_line(kh, "other_ed.pub", "@cert-authority ");
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK && strstr(err, "certificate"),
          "cert-authority only: %s", err);

    /* HostKeyAlias: the entry is looked up under the alias as it is, no port (as ssh). */
    snprintf(cmd, sizeof cmd, "printf 'myalias ' > %s && cut -d' ' -f1,2 %s/hk_ed.pub >> %s", kh,
             dir, kh);
    run(cmd);
    snprintf(c.hostkeyalias, HC_STR, "myalias");
    CHECK(try(&c, NULL, err, NULL) == CONN_OK, "hostkeyalias: %s", err);
    c.hostkeyalias[0] = '\0';
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK, "without the alias it is unknown: %s", err);

    /* StrictHostKeyChecking no: a new key is added as with accept-new. */
    unlink(kh);
    c.stricthostkeychecking = HC_STRICT_NO;
    CHECK(try(&c, NULL, err, NULL) == CONN_OK, "strict no, unknown: %s", err);
    snprintf(cmd, sizeof cmd, "ssh-keygen -F '[127.0.0.1]:%d' -f %s >/dev/null", port, kh);
    CHECK(run(cmd) == 0, "strict no added the key");

    /* ask: no prompter → the real ssh asks; a prompter answering no → ssh's refusal. */
    unlink(kh);
    c.stricthostkeychecking = HC_STRICT_ASK;
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK, "ask without prompter: %s", err);
    struct script sc = {.answers = {"no"}};
    struct conn_prompter pr = {.ask = script_ask, .ctx = &sc};
    CHECK(try_p(&c, NULL, &pr, err, NULL) == CONN_FATAL &&
              strcmp(err, "Host key verification failed.") == 0,
          "ask answered no: %s", err);
    CHECK(sc.asked == 1 && strstr(sc.prompts[0], "The authenticity of host '[127.0.0.1]:") &&
              strstr(sc.prompts[0], " ([127.0.0.1]:") &&
              strstr(sc.prompts[0], "This key is not known by any other names.\n") &&
              strstr(sc.prompts[0], "key fingerprint is SHA256:") &&
              strstr(sc.prompts[0], "(yes/no/[fingerprint])? "),
          "host key question: %s", sc.prompts[0]);
    CHECK(access(kh, F_OK) != 0, "nothing written after no");
    /* The fingerprint in the question is the one ssh-keygen shows for the host key. */
    char fp[256];
    snprintf(cmd, sizeof cmd, "ssh-keygen -l -E sha256 -f %s/hk_ed.pub | cut -d' ' -f2", dir);
    first_line(cmd, fp, sizeof fp);
    CHECK(fp[0] && strstr(sc.prompts[0], fp), "fingerprint %s in question", fp);
    struct script sc2 = {.answers = {"maybe", " yes "}};
    pr.ctx = &sc2;
    CHECK(try_p(&c, NULL, &pr, err, &works) == CONN_OK && works, "ask answered yes: %s", err);
    CHECK(sc2.asked == 2 && strstr(sc2.prompts[1], "Please type 'yes', 'no' or the fingerprint"),
          "re-asked after a bad answer: %s", sc2.prompts[1]);
    snprintf(cmd, sizeof cmd, "ssh-keygen -F '[127.0.0.1]:%d' -f %s >/dev/null", port, kh);
    CHECK(run(cmd) == 0, "yes added the key");
    c.batchmode = 1;
    unlink(kh);
    struct script sc3 = {.answers = {"yes"}};
    pr.ctx = &sc3;
    CHECK(try_p(&c, NULL, &pr, err, NULL) == CONN_FALLBACK && sc3.asked == 0,
          "BatchMode never asks: %s", err);
    c.batchmode = 0;

    /* Password through the prompter, with ssh's question, at most 3 times. */
    from_base(&c);
    snprintf(c.identityfile[0], HC_STR, "%s/id_enc", dir);
    snprintf(c.preferredauthentications, HC_STR, "publickey,password");
    struct script sc4 = {.answers = {"w1", "w2", "w3", "w4", "w5", "w6", "w7"}};
    pr.ctx = &sc4;
    /* The server takes the encrypted key: its passphrase is asked three times, then the
     * password three times; then ssh's words, and no fallback to ask all over again. */
    CHECK(try_p(&c, NULL, &pr, err, NULL) == CONN_FATAL && strstr(err, "Permission denied"),
          "wrong passphrases and passwords: %s", err);
    snprintf(cmd, sizeof cmd, "%s@127.0.0.1's password: ", c.user);
    char want[600];
    snprintf(want, sizeof want, "Enter passphrase for key '%s/id_enc': ", dir);
    CHECK(sc4.asked == 6 && strcmp(sc4.prompts[0], want) == 0 && strcmp(sc4.prompts[3], cmd) == 0,
          "passphrase and password asked %d times: %s / %s", sc4.asked, sc4.prompts[0],
          sc4.prompts[3]);
    struct script sc6 = {.answers = {"secret"}};
    pr.ctx = &sc6;
    CHECK(try_p(&c, NULL, &pr, err, &works) == CONN_OK && works && sc6.asked == 1,
          "passphrase asked once: %s", err);
    snprintf(c.preferredauthentications, HC_STR, "publickey");
    snprintf(c.identityfile[0], HC_STR, "%s/id_missing", dir);
    struct script sc5 = {.answers = {"x"}};
    pr.ctx = &sc5;
    CHECK(try_p(&c, NULL, &pr, err, NULL) == CONN_FALLBACK && sc5.asked == 0,
          "PreferredAuthentications publickey never asks a password: %s", err);

    /* Encrypted identity only: skipped, nothing else to try. */
    from_base(&c);
    c.stricthostkeychecking = HC_STRICT_ACCEPT_NEW;
    snprintf(c.identityfile[0], HC_STR, "%s/id_enc", dir);
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK && strcmp(err, "no usable credentials") == 0,
          "encrypted key skipped: %s", err);
    /* Missing identity file. */
    snprintf(c.identityfile[0], HC_STR, "%s/nope", dir);
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK, "missing identity: %s", err);
    /* PubkeyAuthentication no. */
    from_base(&c);
    c.pubkeyauthentication = 0;
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK, "pubkey disabled: %s", err);
}

static void test_encrypted_detection(void)
{
    char path[256];
    const char *names[] = {"id_enc", "id_file"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "r");
        char buf[8192];
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        buf[n] = '\0';
        if (f)
            fclose(f);
        CHECK(keyfile_encrypted(buf, n) == (i == 0), "encrypted detection %s", names[i]);
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ssh-keygen -q -t rsa -b 2048 -m PEM -N pwpwpw -f %s/pem_enc", dir);
    run(cmd);
    snprintf(path, sizeof path, "%s/pem_enc", dir);
    FILE *f = fopen(path, "r");
    char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    CHECK(n > 0 && keyfile_encrypted(buf, n), "encrypted PEM detected");
}

static void test_agent(void)
{
    static struct hostcfg c;
    char sock[256], cmd[1024], err[512];
    int works;
    snprintf(sock, sizeof sock, "%s/agent.sock", dir);
    char *argv[] = {"/usr/bin/ssh-agent", "-D", "-a", sock, NULL};
    snprintf(cmd, sizeof cmd, "%s/agent.log", dir);
    agent_pid = spawn(argv, cmd);
    for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
        usleep(20000);
    snprintf(cmd, sizeof cmd, "SSH_AUTH_SOCK=%s ssh-add -q %s/id_agent 2>/dev/null", sock, dir);
    CHECK(run(cmd) == 0, "ssh-add");
    from_base(&c);
    snprintf(c.identityfile[0], HC_STR, "%s/nope", dir);
    CHECK(try(&c, sock, err, &works) == CONN_OK && works, "agent auth: %s", err);
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK, "no agent socket given: %s", err);
    snprintf(c.identityagent, HC_STR, "%s", sock);
    CHECK(try(&c, NULL, err, NULL) == CONN_OK, "IdentityAgent path: %s", err);
    snprintf(c.identityagent, HC_STR, "none");
    CHECK(try(&c, sock, err, NULL) == CONN_FALLBACK, "IdentityAgent none: %s", err);
    snprintf(c.identityagent, HC_STR, "SSH_AUTH_SOCK");
    /* IdentitiesOnly: the agent key is used only when an IdentityFile names it. */
    c.identitiesonly = 1;
    snprintf(c.identityfile[0], HC_STR, "%s/id_enc", dir);
    CHECK(try(&c, sock, err, NULL) == CONN_FALLBACK, "IdentitiesOnly filters agent: %s", err);
    snprintf(c.identityfile[0], HC_STR, "%s/id_agent", dir);
    snprintf(cmd, sizeof cmd, "mv %s/id_agent %s/id_agent.moved", dir, dir);
    run(cmd); /* only the .pub stays: the key must come from the agent */
    CHECK(try(&c, sock, err, &works) == CONN_OK && works, "IdentitiesOnly agent key: %s", err);
    kill(agent_pid, SIGTERM);
    waitpid(agent_pid, NULL, 0);
    agent_pid = -1;
}

#define NTHREADS 8

struct worker {
    const struct hostcfg *cfg;
    enum conn_status st;
    int works;
    char err[512];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->st = try(w->cfg, NULL, w->err, &w->works);
    return NULL;
}

/* Connections made at once from worker threads, all adding the same new key. */
static void test_threads(void)
{
    static struct hostcfg c;
    from_base(&c);
    c.stricthostkeychecking = HC_STRICT_ACCEPT_NEW;
    c.hashknownhosts = 1;
    unlink(c.userknownhostsfile[0]);
    pthread_t t[NTHREADS];
    static struct worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].cfg = &c;
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    int ok = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].st == CONN_OK && w[i].works;
        if (w[i].st != CONN_OK)
            printf("thread %d: %s\n", i, w[i].err);
    }
    CHECK(ok == NTHREADS, "%d of %d threads connected", ok, NTHREADS);
    char cmd[HC_STR + 64], n[64];
    snprintf(cmd, sizeof cmd, "wc -l < %s", c.userknownhostsfile[0]);
    first_line(cmd, n, sizeof n);
    CHECK(atoi(n) == 1, "the new key was added once, not %s times", n);
}

static void test_connect_errors(void)
{
    static struct hostcfg c;
    char err[512], want[512], cmd[512];
    from_base(&c);
    c.port = free_port();
    CHECK(try(&c, NULL, err, NULL) == CONN_FATAL, "closed port is fatal: %s", err);
    snprintf(cmd, sizeof cmd, "ssh -F /dev/null -o BatchMode=yes -p %d 127.0.0.1 true 2>&1",
             c.port);
    first_line(cmd, want, sizeof want);
    CHECK(strcmp(err, want) == 0, "closed port wording: got '%s', ssh says '%s'", err, want);

    snprintf(c.hostname, HC_STR, "nosuch.invalid");
    CHECK(try(&c, NULL, err, NULL) == CONN_FATAL, "unresolvable is fatal: %s", err);
    first_line("ssh -F /dev/null -o BatchMode=yes nosuch.invalid true 2>&1", want, sizeof want);
    CHECK(strcmp(err, want) == 0, "resolve wording: got '%s', ssh says '%s'", err, want);

    /* AddressFamily and BindAddress, worded as ssh words them (its last line). */
    from_base(&c);
    c.port = free_port();
    c.addressfamily = AF_INET6;
    CHECK(try(&c, NULL, err, NULL) == CONN_FATAL, "inet6 for an IPv4 literal: %s", err);
    snprintf(cmd, sizeof cmd, "ssh -F /dev/null -6 -o BatchMode=yes -p %d 127.0.0.1 true 2>&1",
             c.port);
    first_line(cmd, want, sizeof want);
    CHECK(strcmp(err, want) == 0, "family wording: got '%s', ssh says '%s'", err, want);
    c.addressfamily = AF_UNSPEC;
    snprintf(c.bindaddress, HC_STR, "192.0.2.1");
    CHECK(try(&c, NULL, err, NULL) == CONN_FATAL, "unusable BindAddress: %s", err);
    snprintf(cmd, sizeof cmd,
             "ssh -F /dev/null -o BindAddress=192.0.2.1 -o BatchMode=yes -p %d 127.0.0.1 true "
             "2>&1 | tail -n 1",
             c.port);
    first_line(cmd, want, sizeof want);
    CHECK(strcmp(err, want) == 0, "bind wording: got '%s', ssh says '%s'", err, want);
    from_base(&c);
    snprintf(c.bindaddress, HC_STR, "127.0.0.1");
    CHECK(try(&c, NULL, err, NULL) == CONN_OK, "BindAddress 127.0.0.1: %s", err);

    /* ConnectTimeout during the banner: a listener that never speaks. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    bind(lfd, (struct sockaddr *)&sa, sizeof sa);
    listen(lfd, 4);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    from_base(&c);
    c.port = ntohs(sa.sin_port);
    c.connecttimeout = 1;
    /* ssh's words (kex_exchange_identification, then sshpkt_fatal at INFO), and an end. */
    snprintf(want, sizeof want,
             "Connection timed out during banner exchange\r\n"
             "Connection to 127.0.0.1 port %d timed out",
             c.port);
    CHECK(try(&c, NULL, err, NULL) == CONN_FATAL && strcmp(err, want) == 0,
          "silent server times out: %s", err);
    close(lfd);

    /* A server that closes the connection before its banner (sshd past MaxStartups does):
     * ssh fails with 255 and its words, so does the broker; no hand-over to ssh, which would
     * only try again. The listener takes plain ssh's connection, then the broker's, reads
     * the client's banner (so that its close is a FIN, never a reset for unread bytes, which
     * ssh words otherwise) and closes. */
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = 0;
    sl = sizeof sa;
    bind(lfd, (struct sockaddr *)&sa, sizeof sa);
    listen(lfd, 4);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    c.port = ntohs(sa.sin_port);
    pid_t closer = fork();
    if (closer == 0) {
        for (int i = 0; i < 2; i++) {
            int a = accept(lfd, NULL, NULL);
            char buf[4096];
            struct pollfd pf = {.fd = a, .events = POLLIN};
            while (a >= 0 && poll(&pf, 1, 300) > 0 && read(a, buf, sizeof buf) > 0)
                ;
            if (a >= 0)
                close(a);
        }
        _exit(0);
    }
    snprintf(cmd, sizeof cmd, "ssh -F /dev/null -o BatchMode=yes -p %d 127.0.0.1 true 2>&1",
             c.port);
    all_output(cmd, want, sizeof want);
    from_base(&c);
    c.port = ntohs(sa.sin_port);
    CHECK(try(&c, NULL, err, NULL) == CONN_FATAL && strcmp(err, want) == 0,
          "server closes at once: got '%s', ssh says '%s'", err, want);
    waitpid(closer, NULL, 0);

    /* One that closes in the key exchange, after its banner (its connection killed):
     * libssh2 calls that a failed exchange; ssh and the broker say the peer closed. */
    closer = fork();
    if (closer == 0) {
        for (int i = 0; i < 2; i++) {
            int a = accept(lfd, NULL, NULL);
            char buf[4096];
            if (a >= 0 && write(a, "SSH-2.0-OpenSSH_9.2\r\n", 21) == 21) {
                /* all the client sends (banner, KEXINIT) until 300 ms of quiet, so the
                 * end is a FIN, never a reset for unread data */
                struct pollfd pf = {.fd = a, .events = POLLIN};
                while (poll(&pf, 1, 300) > 0 && read(a, buf, sizeof buf) > 0)
                    ;
            }
            if (a >= 0)
                close(a);
        }
        _exit(0);
    }
    all_output(cmd, want, sizeof want);
    CHECK(try(&c, NULL, err, NULL) == CONN_FATAL && strcmp(err, want) == 0,
          "server closes in the key exchange: got '%s', ssh says '%s'", err, want);
    waitpid(closer, NULL, 0);
    close(lfd);

    /* A server that sends a disconnect message during the login (sshd's MaxAuthTries,
     * reached by a key it does not take): ssh's "Received disconnect" and "Disconnected
     * from" lines and 255, for the broker as for ssh. */
    int p2 = free_port();
    char cfgpath[256], portopt[32], logpath[256];
    snprintf(cfgpath, sizeof cfgpath, "%s/sshd_config", dir);
    snprintf(portopt, sizeof portopt, "Port=%d", p2);
    snprintf(logpath, sizeof logpath, "%s/sshd2.log", dir);
    char *argv2[] = {"/usr/sbin/sshd", "-D", "-e", "-f", cfgpath, "-o", portopt, "-o",
                     "MaxAuthTries=1", NULL};
    pid_t sshd2 = spawn(argv2, logpath);
    for (int i = 0; i < 100 && !port_open(p2); i++)
        usleep(50000);
    from_base(&c);
    c.port = p2;
    c.stricthostkeychecking = HC_STRICT_NO;
    c.identitiesonly = 1;
    snprintf(c.identityagent, HC_STR, "none");
    snprintf(c.identityfile[0], HC_STR, "%s/other_ed", dir);
    snprintf(cmd, sizeof cmd,
             "SSH_AUTH_SOCK= ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o "
             "StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=INFO -i "
             "%s/other_ed -p %d 127.0.0.1 true 2>&1 | grep -v '^Warning: Permanently added'",
             dir, p2);
    all_output(cmd, want, sizeof want);
    CHECK(try(&c, NULL, err, NULL) == CONN_FATAL && strcmp(err, want) == 0,
          "server disconnects in the login: got '%s', ssh says '%s'", err, want);
    kill(sshd2, SIGTERM);
    waitpid(sshd2, NULL, 0);

    /* Algorithms libssh2 does not have (1.11 has chacha20-poly1305, no version twofish). */
    from_base(&c);
    snprintf(c.ciphers, HC_STR, "%s",
             LIBSSH2_VERSION_NUM < 0x010b00 ? "chacha20-poly1305@openssh.com" : "twofish256-cbc");
    CHECK(try(&c, NULL, err, NULL) == CONN_FALLBACK && strstr(err, "algorithm"),
          "unsupported cipher list: %s", err);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_conn.XXXXXX");
    if (!mkdtemp(dir))
        die("mkdtemp");
    start_sshd();
    init_cfg();
    test_encrypted_detection();
    test_key_and_hostkeys();
    test_agent();
    test_threads();
    test_connect_errors();
    kill(sshd_pid, SIGTERM);
    waitpid(sshd_pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run(cmd);
    printf("conn: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
