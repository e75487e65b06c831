/* ssh command-line parsing, checked against the real OpenSSH client.
 *
 * 1. Hand-written cases assert the fields no oracle can see (user_ctl, tty, unsupported,
 *    ctl_cmd, subsystem, ...).
 * 2. Every line of the cases file (shell words) is run as `ssh -G -F /dev/null <words>`; the
 *    parser must accept exactly what ssh accepts, and `ssh -G -F /dev/null <opts> -- <dest>`
 *    built from the parser's answer must print the very same configuration.
 * 3. The command words: each case that makes a plain session is run by the real ssh against a
 *    real sshd (inetd mode through ProxyCommand, ForceCommand printing
 *    $SSH_ORIGINAL_COMMAND, the sshd log naming subsystems); what the server received must be
 *    the parser's command, subsystem flag included.
 * SSH_BIN names the ssh (default /usr/bin/ssh): the cases are parsed as its version does (-P is
 * a flag to 9.2, -P TAG since 9.4: fallback_dialect asks it), so OpenSSH 10's ssh is an oracle
 * too (tests/openssh10.sh). SSHD_BIN names the sshd of part 3. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "argv.h"
#include "fallback.h"

#include "check.h"

#define MAX_WORDS 64
/* Sized for a loaded 2-core machine: a case past the limit is reported as timed out. */
#define PROC_TIMEOUT_MS 90000
#define PARALLEL 6

static const char *ssh_bin = "/usr/bin/ssh";
static const char *sshd_bin = "/usr/sbin/sshd";
static enum ssh_dialect dialect = SSH_DIALECT_P_FLAG; /* how ssh_bin reads -P */
static char tmpdir[64];

/* ---- shell words ---------------------------------------------------------------------- */

/* Splits a line into words with sh quoting ('…', "…" with \ escapes, \x). Returns the
 * count, or -1 on unbalanced quotes. Words are heap strings. */
static int split_words(const char *line, char **words, int max)
{
    int n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '\n' || *p == '#')
            return n;
        if (n >= max)
            return -1;
        char *w = malloc(strlen(p) + 1), *d = w;
        while (*p != '\0' && *p != '\n' && *p != ' ' && *p != '\t') {
            if (*p == '\'') {
                const char *e = strchr(p + 1, '\'');
                if (e == NULL)
                    goto bad;
                memcpy(d, p + 1, (size_t)(e - p - 1));
                d += e - p - 1;
                p = e + 1;
            } else if (*p == '"') {
                p++;
                while (*p != '"') {
                    if (*p == '\0')
                        goto bad;
                    if (*p == '\\' && strchr("\\\"$`", p[1]) != NULL && p[1] != '\0')
                        p++;
                    *d++ = *p++;
                }
                p++;
            } else if (*p == '\\' && p[1] != '\0') {
                *d++ = p[1];
                p += 2;
            } else {
                *d++ = *p++;
            }
        }
        *d = '\0';
        words[n++] = w;
        continue;
    bad:
        free(w);
        for (int i = 0; i < n; i++)
            free(words[i]);
        return -1;
    }
}

/* Quotes words for failure messages. */
static void show_words(FILE *f, int n, char **w)
{
    for (int i = 0; i < n; i++) {
        fputc(i ? ' ' : '[', f);
        fputc('\'', f);
        for (const char *c = w[i]; *c; c++)
            if (*c == '\'')
                fputs("'\\''", f);
            else
                fputc(*c, f);
        fputc('\'', f);
    }
    fputs(n ? "]" : "[]", f);
}

/* ---- processes ------------------------------------------------------------------------ */

struct proc {
    pid_t pid;
    char out[128], err[128];
    int status; /* wait status, or -1 when it was killed for taking too long */
    struct timespec start;
};

static long ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Starts argv (absolute path in argv[0]) with stdin /dev/null and stdout/stderr in files. */
static int proc_start(struct proc *p, char **argv, const char *tag)
{
    static int seq;
    seq++;
    snprintf(p->out, sizeof(p->out), "%s/%s%d.out", tmpdir, tag, seq);
    snprintf(p->err, sizeof(p->err), "%s/%s%d.err", tmpdir, tag, seq);
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0)
            _exit(127);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        setpgid(0, 0);
        /* the oracle is the real ssh, never muxshim's */
        unsetenv("LD_PRELOAD");
        setenv("MUXSHIM_DISABLE", "1", 1);
        unsetenv("SSH_AUTH_SOCK");
        execv(argv[0], argv);
        _exit(127);
    }
    return 0;
}

/* Polls p; returns 1 once it has ended (status set), 0 while it runs. */
static int proc_poll(struct proc *p)
{
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->status = st;
        return 1;
    }
    if (ms_since(&p->start) > PROC_TIMEOUT_MS) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &st, 0);
        p->status = -1;
        return 1;
    }
    return 0;
}

static void nap(void)
{
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Reads a whole file (NUL-terminated); "" when missing. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    if (f == NULL)
        return strdup("");
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* Runs argv to completion; returns its exit code (or -1) and the stdout/stderr text. */
static int run(char **argv, char **out, char **err)
{
    struct proc p;
    if (proc_start(&p, argv, "run") < 0)
        return -1;
    while (!proc_poll(&p))
        nap();
    *out = slurp(p.out);
    *err = slurp(p.err);
    unlink(p.out);
    unlink(p.err);
    if (p.status == -1) {
        printf("test_argv: %s timed out after %d s\n", argv[0], PROC_TIMEOUT_MS / 1000);
        return -1;
    }
    if (!WIFEXITED(p.status))
        return -1;
    return WEXITSTATUS(p.status);
}

/* First line of a text, for messages. */
static const char *first_line(const char *s, char *buf, size_t len)
{
    size_t n = strcspn(s, "\n");
    if (n >= len)
        n = len - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* ---- hand-written expectations -------------------------------------------------------- */

struct expect {
    const char *line; /* shell words after "ssh" */
    int rc;
    const char *dest;
    const char *command;
    int ncommand_words;
    const char *opts; /* opts joined with '|' */
    int tty, stdin_null, no_session, subsystem, quiet, verbose, fork_bg, user_ctl;
    const char *ctl_cmd;
    const char *unsupported;
};

static const struct expect expects[] = {
    /* git, rsync, scp, sftp as they really call ssh */
    {"-o SendEnv=GIT_PROTOCOL git@example.org \"git-upload-pack 'r.git'\"", 0, "git@example.org",
     "git-upload-pack 'r.git'", 1, "-o|SendEnv=GIT_PROTOCOL", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-o SendEnv=GIT_PROTOCOL -p 2222 -4 git@h git-receive-pack \"'r.git'\"", 0, "git@h",
     "git-receive-pack 'r.git'", 2, "-o|SendEnv=GIT_PROTOCOL|-p|2222|-4", 0, 0, 0, 0, 0, 0, 0, 0,
     NULL, NULL},
    {"-l user host rsync --server -vlogDtpre.iLsfxCIvu . dir/", 0, "host",
     "rsync --server -vlogDtpre.iLsfxCIvu . dir/", 5, "-l|user", 0, 0, 0, 0, 0, 0, 0, 0, NULL,
     NULL},
    {"-x -oPermitLocalCommand=no -oClearAllForwardings=yes -oRemoteCommand=none -oRequestTTY=no "
     "-oForwardAgent=no -l user -s -- host sftp",
     0, "host", "sftp", 1,
     "-x|-oPermitLocalCommand=no|-oClearAllForwardings=yes|-oRemoteCommand=none|"
     "-oRequestTTY=no|-oForwardAgent=no|-l|user|-s",
     0, 0, 0, 1, 0, 0, 0, 0, NULL, NULL},
    {"'-oForwardX11 no' '-oPermitLocalCommand no' '-oClearAllForwardings yes' "
     "'-oForwardAgent no' -l u -s -- host sftp",
     0, "host", "sftp", 1,
     "-oForwardX11 no|-oPermitLocalCommand no|-oClearAllForwardings yes|-oForwardAgent no|-l|u|-s",
     0, 0, 0, 1, 0, 0, 0, 0, NULL, NULL},
    {"-x -oForwardAgent=no -- host scp -t dir", 0, "host", "scp -t dir", 3, "-x|-oForwardAgent=no",
     0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    /* tty counting */
    {"-t h", 0, "h", "", 0, "-t", 1, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-tt h", 0, "h", "", 0, "-tt", 2, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-t -T h", 0, "h", "", 0, "-t|-T", -1, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-T h -t", 0, "h", "", 0, "-T|-t", 1, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-tt -T -tt h", 0, "h", "", 0, "-tt|-T|-tt", 2, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-vvv -q -nq h", 0, "h", "", 0, "-vvv|-q|-nq", 0, 1, 0, 0, 2, 3, 0, 0, NULL, NULL},
    /* user's own multiplexing */
    {"-M h", 0, "h", "", 0, "-M", 0, 0, 0, 0, 0, 0, 0, 1, NULL, "-M"},
    {"-S /tmp/s h", 0, "h", "", 0, "-S|/tmp/s", 0, 0, 0, 0, 0, 0, 0, 1, NULL, NULL},
    {"-S/tmp/s h", 0, "h", "", 0, "-S/tmp/s", 0, 0, 0, 0, 0, 0, 0, 1, NULL, NULL},
    {"-o ControlMaster=auto h", 0, "h", "", 0, "-o|ControlMaster=auto", 0, 0, 0, 0, 0, 0, 0, 1,
     NULL, NULL},
    {"-ocontrolpath=/x h", 0, "h", "", 0, "-ocontrolpath=/x", 0, 0, 0, 0, 0, 0, 0, 1, NULL, NULL},
    {"-o 'CONTROLPERSIST 5m' h", 0, "h", "", 0, "-o|CONTROLPERSIST 5m", 0, 0, 0, 0, 0, 0, 0, 1,
     NULL, NULL},
    {"h -o '  ControlPath = none'", 0, "h", "", 0, "-o|  ControlPath = none", 0, 0, 0, 0, 0, 0, 0,
     1, NULL, NULL},
    {"-o '\"ControlPath\" /x' h", 0, "h", "", 0, "-o|\"ControlPath\" /x", 0, 0, 0, 0, 0, 0, 0, 1,
     NULL, NULL},
    {"-o 'Control\"Persist\"=yes' h", 0, "h", "", 0, "-o|Control\"Persist\"=yes", 0, 0, 0, 0, 0, 0,
     0, 1, NULL, NULL},
    {"-o ControlMasterX=1 h", 0, "h", "", 0, "-o|ControlMasterX=1", 0, 0, 0, 0, 0, 0, 0, 0, NULL,
     NULL},
    {"-o SendEnv=ControlPath h", 0, "h", "", 0, "-o|SendEnv=ControlPath", 0, 0, 0, 0, 0, 0, 0, 0,
     NULL, NULL},
    /* -O */
    {"-O check h", 0, "h", "", 0, "-O|check", 0, 0, 0, 0, 0, 0, 0, 0, "check", NULL},
    {"-Ostop h", 0, "h", "", 0, "-Ostop", 0, 0, 0, 0, 0, 0, 0, 0, "stop", NULL},
    {"h -O exit", 0, "h", "", 0, "-O|exit", 0, 0, 0, 0, 0, 0, 0, 0, "exit", NULL},
    {"-O forward -L 1:h:2 h", 0, "h", "", 0, "-O|forward|-L|1:h:2", 0, 0, 0, 0, 0, 0, 0, 0,
     "forward", NULL},
    {"-O cancel -D 1 h", 0, "h", "", 0, "-O|cancel|-D|1", 0, 0, 0, 0, 0, 0, 0, 0, "cancel", NULL},
    {"-O proxy h", 0, "h", "", 0, "-O|proxy", 0, 0, 0, 0, 0, 0, 0, 0, "proxy", "-O proxy"},
    {.line = "-O bogus h", .rc = -1},
    {.line = "-O check -O stop h", .rc = -1},
    /* served forwards; unsupported: the first one wins */
    {"-L 8080:localhost:80 -D 1080 -R 1:h:2 h", 0, "h", "", 0,
     "-L|8080:localhost:80|-D|1080|-R|1:h:2", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-C -A -w 0 h", 0, "h", "", 0, "-C|-A|-w|0", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "-w"},
    {"-J jump h cmd", 0, "h", "cmd", 1, "-J|jump", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-W localhost:22 h", 0, "h", "", 0, "-W|localhost:22", 0, 0, 1, 0, 0, 0, 0, 0, NULL, NULL},
    {"-f h cmd", 0, "h", "cmd", 1, "-f", 0, 1, 0, 0, 0, 0, 1, 0, NULL, NULL},
    {"-G h", 0, "h", "", 0, "-G", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "-G"},
    {"-V", 0, NULL, "", 0, "-V", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "-V"},
    {"-Vx h", 0, NULL, "", 0, "-Vx", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "-V"},
    {"-x -V -Z", 0, NULL, "", 0, "-x|-V", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "-V"},
    {"-Q cipher", 0, NULL, "", 0, "-Q|cipher", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "-Q"},
    {.line = "-Q nonsense", .rc = -1},
    {"-46aCkxy -e none -c aes128-ctr -m hmac-sha2-256 -i /k -F /dev/null h", 0, "h", "", 0,
     "-46aCkxy|-e|none|-c|aes128-ctr|-m|hmac-sha2-256|-i|/k|-F|/dev/null", 0, 0, 0, 0, 0, 0, 0, 0,
     NULL, NULL},
    /* served: X11 forwarding (the broker asks muxssh for the display's cookie) */
    {"-X -Y h", 0, "h", "", 0, "-X|-Y", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    /* served: a bind address (part of the authority), GatewayPorts and -K (no effect without
     * forwardings or a GSSAPI server), -P (ignored by ssh 9.2) */
    {"-g -K -b 127.0.0.1 -P h", 0, "h", "", 0, "-g|-K|-b|127.0.0.1|-P", 0, 0, 0, 0, 0, 0, 0, 0,
     NULL, NULL},
    /* served: BindInterface (the broker binds to the interface's address), -E (muxssh writes
     * what ssh would log to the file) */
    {"-B lo h", 0, "h", "", 0, "-B|lo", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-E log h", 0, "h", "", 0, "-E|log", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-2 h", 0, "h", "", 0, "-2", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}, /* ignored by ssh 9 */
    /* session types */
    {"-N h", 0, "h", "", 0, "-N", 0, 0, 1, 0, 0, 0, 0, 0, NULL, NULL},
    {"-o SessionType=none h", 0, "h", "", 0, "-o|SessionType=none", 0, 0, 1, 0, 0, 0, 0, 0, NULL,
     NULL},
    {"-o sessiontype=subsystem h sftp", 0, "h", "sftp", 1, "-o|sessiontype=subsystem", 0, 0, 0, 1,
     0, 0, 0, 0, NULL, NULL},
    {.line = "-s h", .rc = -1},
    {.line = "-N -s h x", .rc = -1},
    {.line = "-s -N h x", .rc = -1},
    {"-s h ''", 0, "h", "", 1, "-s", 0, 0, 0, 1, 0, 0, 0, 0, NULL, NULL},
    /* destination forms, options after it, "--" */
    {"ssh://u@h:2200", 0, "ssh://u@h:2200", "", 0, "", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"ssh://u@h:2200 -v ls", 0, "ssh://u@h:2200", "ls", 1, "-l|u|-p|2200|-v", 0, 0, 0, 0, 0, 1, 0,
     0, NULL, NULL},
    {"-q u@h -l other -p 1 id -u", 0, "u@h", "id -u", 2, "-q|-l|u|-l|other|-p|1", 0, 0, 0, 0, 1, 0,
     0, 0, NULL, NULL},
    {"h -- -v x", 0, "h", "-v x", 2, "", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-- h -v x", 0, "h", "-v x", 2, "", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"h x -v", 0, "h", "x -v", 2, "", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {"-i -- h -v x", 0, "h", "-v x", 2, "-i|--", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {.line = "-l -- h -v x", .rc = -1},
    {"h -v- x", 0, "h", "-v- x", 2, "-v", 0, 0, 0, 0, 0, 1, 0, 0, NULL, NULL},
    {"h -qv- x", 0, "h", "-qv- x", 2, "-qv", 0, 0, 0, 0, 1, 1, 0, 0, NULL, NULL},
    {"h 'a b' '' c", 0, "h", "a b  c", 3, "", 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL},
    {.line = "-v- h", .rc = -1},
    /* usage errors */
    {.line = "", .rc = -1},
    {.line = "-v", .rc = -1},
    {.line = "-l", .rc = -1},
    {.line = "h -p", .rc = -1},
    {.line = "-Z h", .rc = -1},
    {.line = "-1 h", .rc = -1},
    {.line = "@h", .rc = -1},
    {.line = "ssh://h/path", .rc = -1},
    {.line = "ssh://h:0", .rc = -1},
    {.line = "-p 0 h", .rc = -1},
    {.line = "-p 22x h", .rc = -1},
    {.line = "-e xy h", .rc = -1},
    {.line = "-y -E /dev/null h", .rc = -1},
    {.line = "-f h", .rc = -1},
    {.line = "'h;x'", .rc = -1},
    {.line = "'a;b@h'", .rc = -1},
};

static char *join_opts(const struct ssh_args *a)
{
    size_t len = 1;
    for (int i = 0; i < a->nopts; i++)
        len += strlen(a->opts[i]) + 1;
    char *s = malloc(len), *p = s;
    *p = '\0';
    for (int i = 0; i < a->nopts; i++)
        p += sprintf(p, "%s%s", i ? "|" : "", a->opts[i]);
    return s;
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* -P: a flag to ssh 9.2, -P TAG to later versions; unknown until the real ssh is asked. */
static void test_dialects(void)
{
    char *w[] = {"ssh", "-vP", "mytag", "host", "cmd", NULL};
    struct ssh_args a;
    char err[256];
    CHECK(ssh_args_parse_as(5, w, SSH_DIALECT_UNKNOWN, &a, err, sizeof err) == -2,
          "-P with an unknown version: want -2");
    CHECK(ssh_args_parse_as(5, w, SSH_DIALECT_P_TAG, &a, err, sizeof err) == 0 &&
              str_eq(a.dest, "host") && str_eq(a.command, "cmd") && a.verbose == 1 &&
              a.nopts == 2 && str_eq(a.opts[1], "mytag") && a.unsupported == NULL,
          "-P TAG: dest %s command %s", a.dest, a.command);
    ssh_args_free(&a);
    CHECK(ssh_args_parse_as(5, w, SSH_DIALECT_P_FLAG, &a, err, sizeof err) == 0 &&
              str_eq(a.dest, "mytag") && str_eq(a.command, "host cmd") && a.nopts == 1,
          "-P flag: dest %s command %s", a.dest, a.command);
    ssh_args_free(&a);
    char *none[] = {"ssh", "-v", "host", "-q", "cmd", NULL};
    CHECK(ssh_args_parse_as(5, none, SSH_DIALECT_UNKNOWN, &a, err, sizeof err) == 0 &&
              str_eq(a.dest, "host"),
          "no -P: the version does not matter");
    ssh_args_free(&a);
    char *last[] = {"ssh", "host", "-P", NULL};
    CHECK(ssh_args_parse_as(3, last, SSH_DIALECT_P_TAG, &a, err, sizeof err) == -1,
          "-P TAG with no tag is a usage error");
    /* the real ssh says which; this machine's is 9.2 unless SSH_BIN names another */
    CHECK(fallback_dialect("/bin/false") == SSH_DIALECT_UNKNOWN, "no answer: unknown");
    CHECK(fallback_dialect(ssh_bin) != SSH_DIALECT_UNKNOWN, "%s does not say", ssh_bin);
}

static void test_expectations(void)
{
    for (size_t i = 0; i < sizeof(expects) / sizeof(expects[0]); i++) {
        const struct expect *e = &expects[i];
        char *words[MAX_WORDS + 1];
        words[0] = "ssh";
        int n = split_words(e->line, words + 1, MAX_WORDS - 1);
        if (n < 0) {
            CHECK(0, "bad expectation line %s", e->line);
            continue;
        }
        words[n + 1] = NULL;
        struct ssh_args a;
        char err[256];
        int rc = ssh_args_parse(n + 1, words, &a, err, sizeof(err));
        CHECK(rc == e->rc, "[%s] rc %d want %d (%s)", e->line, rc, e->rc, err);
        if (rc != 0 && e->rc != 0)
            CHECK(err[0] != '\0', "[%s] no reason given", e->line);
        if (rc == 0 && e->rc == 0) {
            char *o = join_opts(&a);
            CHECK(str_eq(a.dest, e->dest), "[%s] dest %s want %s", e->line, a.dest, e->dest);
            CHECK(str_eq(a.command, e->command), "[%s] command <%s> want <%s>", e->line, a.command,
                  e->command);
            CHECK(a.ncommand_words == e->ncommand_words, "[%s] words %d want %d", e->line,
                  a.ncommand_words, e->ncommand_words);
            CHECK(strcmp(o, e->opts) == 0, "[%s] opts <%s> want <%s>", e->line, o, e->opts);
            CHECK(a.opts != NULL && a.opts[a.nopts] == NULL, "[%s] opts not terminated", e->line);
            CHECK(a.tty == e->tty, "[%s] tty %d want %d", e->line, a.tty, e->tty);
            CHECK(a.stdin_null == e->stdin_null, "[%s] stdin_null %d", e->line, a.stdin_null);
            CHECK(a.no_session == e->no_session, "[%s] no_session %d", e->line, a.no_session);
            CHECK(a.subsystem == e->subsystem, "[%s] subsystem %d", e->line, a.subsystem);
            CHECK(a.quiet == e->quiet, "[%s] quiet %d want %d", e->line, a.quiet, e->quiet);
            CHECK(a.verbose == e->verbose, "[%s] verbose %d want %d", e->line, a.verbose,
                  e->verbose);
            CHECK(a.fork_bg == e->fork_bg, "[%s] fork_bg %d", e->line, a.fork_bg);
            CHECK(a.user_ctl == e->user_ctl, "[%s] user_ctl %d want %d", e->line, a.user_ctl,
                  e->user_ctl);
            CHECK(str_eq(a.ctl_cmd, e->ctl_cmd), "[%s] ctl_cmd %s want %s", e->line, a.ctl_cmd,
                  e->ctl_cmd);
            CHECK(str_eq(a.unsupported, e->unsupported), "[%s] unsupported %s want %s", e->line,
                  a.unsupported, e->unsupported);
            free(o);
        }
        if (rc == 0)
            ssh_args_free(&a);
        for (int j = 1; j <= n; j++)
            free(words[j]);
    }
}

/* ---- the ssh -G oracle ---------------------------------------------------------------- */

struct tcase {
    int line;
    int n;
    char *words[MAX_WORDS + 1]; /* words[0] = "ssh" */
    struct ssh_args a;
    int rc;
    char err[256];
    int exec_oracle; /* run through ssh+sshd */
    int noexec;      /* the line says "#noexec": not for the sshd oracle */
    struct proc p;
    char log[128];
};

/* argv = ssh -G -F /dev/null <words>, for n words. */
static char **g_argv(int n, char **words)
{
    char **v = calloc((size_t)n + 5, sizeof(char *));
    v[0] = (char *)ssh_bin;
    v[1] = "-G";
    v[2] = "-F";
    v[3] = "/dev/null";
    memcpy(v + 4, words, (size_t)n * sizeof(char *));
    return v;
}

static void fail_case(struct tcase *t, const char *what, const char *real, const char *ours)
{
    failed++;
    printf("FAIL line %d ", t->line);
    show_words(stdout, t->n, t->words + 1);
    printf(": %s\n  ssh:    %s\n  parser: %s\n", what, real, ours);
}

/* Lines of a that b lacks, and the other way round, for a readable diff. */
static void show_diff(const char *a, const char *b)
{
    char *ca = strdup(a), *save = NULL;
    for (char *l = strtok_r(ca, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char key[512];
        snprintf(key, sizeof(key), "\n%s\n", l);
        char *wb = NULL;
        if (asprintf(&wb, "\n%s", b) > 0 && strstr(wb, key) == NULL)
            printf("  - %s\n", l);
        free(wb);
    }
    free(ca);
    char *cb = strdup(b);
    save = NULL;
    for (char *l = strtok_r(cb, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char key[512];
        snprintf(key, sizeof(key), "\n%s\n", l);
        char *wa = NULL;
        if (asprintf(&wa, "\n%s", a) > 0 && strstr(wa, key) == NULL)
            printf("  + %s\n", l);
        free(wa);
    }
    free(cb);
}

static int opts_use(const struct ssh_args *a, const char *letters);

static void check_with_ssh_g(struct tcase *t)
{
    char **v = g_argv(t->n, t->words + 1);
    char *out, *err, l1[300], l2[300];
    int real = run(v, &out, &err);
    free(v);

    if (real != 0 || t->rc != 0) {
        if ((real != 0) == (t->rc != 0)) {
            passed++;
        } else {
            char r[400], o[400];
            snprintf(r, sizeof(r), "exit %d: %s", real, first_line(err, l1, sizeof(l1)));
            snprintf(o, sizeof(o), "%s", t->rc ? t->err : "accepted");
            fail_case(t, "accept/reject differs", r, o);
        }
        free(out);
        free(err);
        return;
    }
    if (t->a.dest == NULL) {
        /* -V / -Q: ssh answered without reading a destination */
        if (strstr(out, "\nhostname ") == NULL && strncmp(out, "hostname ", 9) != 0)
            passed++;
        else
            fail_case(t, "parser stopped early but ssh printed a config", "config", "no dest");
        free(out);
        free(err);
        return;
    }
    /* the command goes along as one word: -s, -f and RemoteCommand depend on it */
    int n2 = t->a.nopts + 2 + (t->a.ncommand_words > 0);
    char **w2 = calloc((size_t)n2 + 1, sizeof(char *));
    memcpy(w2, t->a.opts, (size_t)t->a.nopts * sizeof(char *));
    w2[t->a.nopts] = "--";
    w2[t->a.nopts + 1] = (char *)t->a.dest;
    if (t->a.ncommand_words > 0)
        w2[t->a.nopts + 2] = t->a.command;
    v = g_argv(n2, w2);
    char *out2, *err2;
    int again = run(v, &out2, &err2);
    /* an empty config is only right when ssh stopped at -V or -Q (after the destination) */
    if (again == 0 && strcmp(out, out2) == 0 && (strlen(out) > 0 || opts_use(&t->a, "VQ"))) {
        passed++;
    } else {
        char o[400];
        snprintf(o, sizeof(o), "exit %d %s", again, first_line(err2, l2, sizeof(l2)));
        fail_case(t, "ssh -G output differs for <opts> -- <dest>", "exit 0", o);
        printf("  rebuilt: ");
        show_words(stdout, n2, w2);
        printf("\n");
        show_diff(out, out2);
    }
    free(v);
    free(w2);
    free(out);
    free(err);
    free(out2);
    free(err2);
}

/* ---- the ssh + sshd oracle ------------------------------------------------------------ */

static char key_path[128], cfg_path[128];
static char user_opt[160], proxy_fmt[300];

static int write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    fclose(f);
    return chmod(path, mode);
}

static int keygen(const char *path)
{
    char *v[] = {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (char *)path, NULL};
    char *out, *err;
    int rc = run(v, &out, &err);
    if (rc != 0)
        fprintf(stderr, "test_argv: ssh-keygen failed: %s\n", err);
    free(out);
    free(err);
    return rc;
}

static int setup_server(void)
{
    char path[200], text[2048], *pub;
    /* As root, log in as the light test account (MUXSHIM_TEST_USER, a shell that reads no
     * profile), so the oracle never measures root's login environment. */
    const char *light = getuid() == 0 ? getenv("MUXSHIM_TEST_USER") : NULL;
    struct passwd *pw = light && *light ? getpwnam(light) : getpwuid(getuid());
    if (pw == NULL || access(sshd_bin, X_OK) != 0) {
        fprintf(stderr, "test_argv: need %s and a passwd entry%s%s\n", sshd_bin,
                light ? " for " : "", light ? light : "");
        return -1;
    }
    int other = pw->pw_uid != getuid();
    if (getuid() == 0)
        mkdir("/run/sshd", 0755);
    /* sshd reads the authorized keys and runs show.sh as the account it logs in */
    if (other && chmod(tmpdir, 0711) != 0)
        return -1;
    snprintf(key_path, sizeof(key_path), "%s/id", tmpdir);
    snprintf(path, sizeof(path), "%s/hostkey", tmpdir);
    if (keygen(key_path) != 0 || keygen(path) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/id.pub", tmpdir);
    pub = slurp(path);
    snprintf(path, sizeof(path), "%s/ak", tmpdir);
    write_file(path, pub, other ? 0644 : 0600);
    free(pub);
    snprintf(path, sizeof(path), "%s/show.sh", tmpdir);
    write_file(path,
               "#!/bin/sh\n"
               "if [ -n \"${SSH_ORIGINAL_COMMAND+set}\" ]; then\n"
               "  printf 'EXEC<%s>END\\n' \"$SSH_ORIGINAL_COMMAND\"\n"
               "else\n"
               "  echo 'SHELL<>END'\n"
               "fi\n",
               0755);
    snprintf(cfg_path, sizeof(cfg_path), "%s/sshd_config", tmpdir);
    snprintf(text, sizeof(text),
             "HostKey %s/hostkey\n"
             "AuthorizedKeysFile %s/ak\n"
             "ForceCommand %s/show.sh\n"
             "UsePAM no\nStrictModes no\nPermitRootLogin yes\n"
             "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
             "PubkeyAuthentication yes\nPrintMotd no\nPrintLastLog no\n"
             "PidFile none\nLogLevel DEBUG2\nX11Forwarding no\n",
             tmpdir, tmpdir, tmpdir);
    write_file(cfg_path, text, 0600);
    snprintf(user_opt, sizeof(user_opt), "User=%s", pw->pw_name);
    snprintf(proxy_fmt, sizeof(proxy_fmt), "ProxyCommand=%s -i -f %s -E %%s", sshd_bin, cfg_path);
    return 0;
}

/* Whether the option words (as checked by the ssh -G oracle) use one of the letters. */
static int opts_use(const struct ssh_args *a, const char *letters)
{
    const char *with_arg =
        dialect == SSH_DIALECT_P_TAG ? "bceilmopBDEFIJLOPQRSwW" : "bceilmopBDEFIJLOQRSwW";
    for (int i = 0; i < a->nopts; i++) {
        const char *w = a->opts[i];
        if (w[0] != '-')
            continue;
        for (const char *c = w + 1; *c; c++) {
            if (strchr(letters, *c) != NULL)
                return 1;
            if (strchr(with_arg, *c) != NULL) {
                if (c[1] == '\0')
                    i++; /* the argument is the next word */
                break;
            }
        }
    }
    return 0;
}

/* Cases the sshd oracle can run: a plain session with nothing that forks, forwards,
 * multiplexes, proxies or exits early. */
static int exec_eligible(const struct tcase *t)
{
    if (t->noexec || t->rc != 0 || t->a.dest == NULL || t->a.no_session || t->a.fork_bg ||
        t->a.ctl_cmd != NULL || t->a.user_ctl)
        return 0;
    return !opts_use(&t->a, "fGIJLMNOQRSVWwD");
}

static void exec_start(struct tcase *t)
{
    static char proxy[200][512];
    static int np;
    char *v[MAX_WORDS + 32];
    int k = 0;
    snprintf(t->log, sizeof(t->log), "%s/sshd%d.log", tmpdir, t->line);
    char *proxyopt = proxy[np++ % 200];
    snprintf(proxyopt, 512, proxy_fmt, t->log);
    v[k++] = (char *)ssh_bin;
    v[k++] = "-F";
    v[k++] = "/dev/null";
    v[k++] = "-o";
    v[k++] = user_opt;
    v[k++] = "-o";
    v[k++] = proxyopt;
    v[k++] = "-i";
    v[k++] = key_path;
    v[k++] = "-o";
    v[k++] = "IdentitiesOnly=yes";
    v[k++] = "-o";
    v[k++] = "UserKnownHostsFile=/dev/null";
    v[k++] = "-o";
    v[k++] = "GlobalKnownHostsFile=/dev/null";
    v[k++] = "-o";
    v[k++] = "StrictHostKeyChecking=no";
    v[k++] = "-o";
    v[k++] = "BatchMode=yes";
    v[k++] = "-o";
    v[k++] = "LogLevel=ERROR";
    for (int i = 1; i <= t->n; i++)
        v[k++] = t->words[i];
    v[k] = NULL;
    if (proc_start(&t->p, v, "exec") < 0)
        t->p.pid = -1;
}

/* Undoes the strnvis(VIS_SAFE|VIS_OCTAL) sshd applies to log lines: "\\\\" and "\\ooo". */
static void unvis(const char *s, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\\') {
            *out++ = '\\';
            i++;
        } else if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                   s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            *out++ = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            *out++ = s[i];
        }
    }
    *out = '\0';
}

/* What the server saw: "EXEC<cmd>", "SHELL<>" or "SUBSYSTEM<name>". */
static char *server_view(struct tcase *t)
{
    char *out = slurp(t->p.out), *log = slurp(t->log), *res = NULL;
    const char *s = strstr(log, "subsystem request for ");
    if (s != NULL) {
        s += strlen("subsystem request for ");
        const char *e = strstr(s, " by user ");
        if (e == NULL)
            e = s + strcspn(s, "\n");
        char *name = malloc((size_t)(e - s) + 1);
        unvis(s, (size_t)(e - s), name);
        if (asprintf(&res, "SUBSYSTEM<%s>", name) < 0)
            res = NULL;
        free(name);
    } else if ((s = strstr(out, "EXEC<")) != NULL || (s = strstr(out, "SHELL<")) != NULL) {
        const char *e = strstr(s, ">END");
        if (e != NULL && asprintf(&res, "%.*s>", (int)(e - s), s) < 0)
            res = NULL;
    }
    if (res == NULL) {
        char *err = slurp(t->p.err), l[300];
        int n = t->p.status == -1
                    ? asprintf(&res, "nothing: ssh timed out after %d s", PROC_TIMEOUT_MS / 1000)
                    : asprintf(&res, "nothing (ssh status %d: %s)", t->p.status,
                               first_line(err, l, sizeof(l)));
        if (n < 0)
            res = NULL;
        free(err);
    }
    free(out);
    free(log);
    return res;
}

static void check_exec(struct tcase *t)
{
    char *want = NULL;
    if (t->a.command[0] == '\0')
        want = strdup("SHELL<>");
    else if (asprintf(&want, "%s<%s>", t->a.subsystem ? "SUBSYSTEM" : "EXEC", t->a.command) < 0)
        want = NULL;
    char *got = server_view(t);
    if (got != NULL && want != NULL && strcmp(got, want) == 0)
        passed++;
    else if (t->p.status == -1)
        fail_case(t, "timed out", got ? got : "?", want ? want : "?");
    else
        fail_case(t, "command seen by sshd differs", got ? got : "?", want ? want : "?");
    free(want);
    free(got);
    unlink(t->p.out);
    unlink(t->p.err);
    unlink(t->log);
}

static void run_exec_oracle(struct tcase *cases, int ncases, int *nrun)
{
    struct tcase *running[PARALLEL];
    int nrunning = 0, next = 0;
    *nrun = 0;
    for (;;) {
        while (nrunning < PARALLEL && next < ncases) {
            struct tcase *t = &cases[next++];
            if (!t->exec_oracle)
                continue;
            exec_start(t);
            if (t->p.pid < 0) {
                fail_case(t, "could not start ssh", "", "");
                continue;
            }
            running[nrunning++] = t;
            (*nrun)++;
        }
        if (nrunning == 0)
            break;
        for (int i = 0; i < nrunning; i++) {
            if (proc_poll(&running[i]->p)) {
                check_exec(running[i]);
                running[i--] = running[--nrunning];
            }
        }
        nap();
    }
}

/* ---- main ----------------------------------------------------------------------------- */

static int load_cases(const char *path, struct tcase **out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "test_argv: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct tcase *v = NULL;
    int n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t len = 0;
    while (getline(&line, &len, f) > 0) {
        lineno++;
        const char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            v = realloc(v, (size_t)cap * sizeof(*v));
        }
        struct tcase *t = &v[n];
        memset(t, 0, sizeof(*t));
        t->line = lineno;
        t->words[0] = "ssh";
        t->n = split_words(line, t->words + 1, MAX_WORDS - 1);
        if (t->n < 0) {
            fprintf(stderr, "test_argv: %s:%d: unbalanced quotes\n", path, lineno);
            failed++;
            continue;
        }
        t->words[t->n + 1] = NULL;
        t->noexec = strstr(line, "#noexec") != NULL;
        n++;
    }
    free(line);
    fclose(f);
    *out = v;
    return n;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/argv/cases.txt";
    struct tcase *cases = NULL;
    int ncases, nexec = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (getenv("SSH_BIN"))
        ssh_bin = getenv("SSH_BIN");
    if (getenv("SSHD_BIN"))
        sshd_bin = getenv("SSHD_BIN");
    dialect = fallback_dialect(ssh_bin);
    printf("argv: %s reads -P as %s\n", ssh_bin,
           dialect == SSH_DIALECT_P_TAG    ? "-P TAG"
           : dialect == SSH_DIALECT_P_FLAG ? "a flag"
                                           : "(no answer)");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_argv.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("test_argv: mkdtemp");
        return 1;
    }

    test_expectations();
    test_dialects();

    ncases = load_cases(path, &cases);
    if (ncases < 0)
        return 1;
    for (int i = 0; i < ncases; i++) {
        struct tcase *t = &cases[i];
        t->rc = ssh_args_parse_as(t->n + 1, t->words, dialect, &t->a, t->err, sizeof(t->err));
        check_with_ssh_g(t);
        t->exec_oracle = exec_eligible(t);
    }
    if (setup_server() != 0) {
        failed++;
        printf("FAIL could not set up sshd for the command oracle\n");
    } else {
        run_exec_oracle(cases, ncases, &nexec);
    }

    for (int i = 0; i < ncases; i++) {
        if (cases[i].rc == 0)
            ssh_args_free(&cases[i].a);
        for (int j = 1; j <= cases[i].n; j++)
            free(cases[i].words[j]);
    }
    free(cases);
    char *rm[] = {"/bin/rm", "-rf", tmpdir, NULL};
    if (fork() == 0) {
        execv(rm[0], rm);
        _exit(127);
    }
    wait(NULL);

    printf("argv: %d cases, %d run through ssh+sshd, %.1f s\n", ncases, nexec,
           (double)ms_since(&t0) / 1000.0);
    printf("argv: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
