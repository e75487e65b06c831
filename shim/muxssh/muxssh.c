/* muxssh: the ssh-compatible front door. Serves a session through the broker or runs the
 * real ssh. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv.h"
#include "ask.h"
#include "ttystate.h"
#include "client.h"
#include "fallback.h"
#include "forward.h"
#include "incoming.h"
#include "json.h"
#include "proto.h"
#include "runtime.h"
#include "x11.h"

extern char **environ;

struct front {
    char **argv;
    struct ssh_args args;
    int parsed;
    char real_ssh[PATH_MAX];
    char dir[RUNTIME_PATH_MAX];
    char cwd[PATH_MAX];
};

static void debug(const struct front *f, const char *why)
{
    if (f->parsed && f->args.verbose)
        fprintf(stderr, "debug1: muxshim: %s\r\n", why);
}

/* Run the real ssh, unchanged (see fallback_exec). */
static int run_real(struct front *f)
{
    return fallback_exec(f->real_ssh, f->argv);
}

static void print_text(const struct pstr *s, int crlf)
{
    if (!s->n)
        return;
    fwrite(s->p, 1, s->n, stderr);
    if (crlf && s->p[s->n - 1] != '\n')
        fputs("\r\n", stderr);
    fflush(stderr);
}

/* The runtime directory (created when start) and a connection to its broker (started when
 * start); 0 with *sock (-1: no broker), or -1 with err when the directory is not usable or
 * another account serves its socket. */
static int broker_socket(int start, int *sock, char *err, size_t errlen)
{
    char dir[RUNTIME_PATH_MAX];
    *sock = -1;
    if (runtime_dir(dir, sizeof dir, start, err, errlen) < 0)
        return -1;
    *sock = client_connect(dir, start, err, errlen);
    if (*sock == CLIENT_REFUSED) {
        *sock = -1;
        return -1;
    }
    return 0;
}

/* `muxssh --mux-status [--json]`: the broker's table of connections (json: as one JSON
 * object, docs/status-json.md). */
static int mux_status(int json)
{
    char err[512];
    int sock;
    if (broker_socket(0, &sock, err, sizeof err) < 0) {
        fprintf(stderr, "muxssh: %s\n", err);
        return 1;
    }
    if (sock < 0) {
        if (json) /* the document's lists, empty, and no broker nor engine */
            printf("{\"format\":1,\"engine\":null,\"connections\":[],\"routes\":[],"
                   "\"forwards\":[],\"hosts\":[],\"broker\":null}\n");
        else
            printf("muxshim: no broker running\n");
        return 0;
    }
    char *none[] = {NULL};
    struct proto_msg m;
    uint8_t *body = NULL;
    if (client_control(sock, CTL_LIST | (json ? CTL_JSON : 0), "", "", none, "", none, err,
                       sizeof err) < 0 ||
        client_recv(sock, &m, &body, err, sizeof err) <= 0 || m.type != MSG_CONTROL_REPLY) {
        fprintf(stderr, "muxssh: %s\n", err[0] ? err : "no answer from the broker");
        free(body);
        return 1;
    }
    fwrite(m.s[0].p, 1, m.s[0].n, stdout);
    free(body);
    return 0;
}

/* doctor's answer when muxssh knows it alone: handed to ssh for why, as a line or (json) as
 * the JSON object's few fields that it knows (docs/status-json.md). Returns 1. */
static int handed_to_ssh(const struct front *f, int json, const char *why)
{
    if (!json) {
        printf("served by the broker: no, handed to ssh: %s\n", why);
        return 1;
    }
    char doc[8192];
    struct json j;
    json_init(&j, doc, sizeof doc);
    json_object(&j, NULL);
    json_int(&j, "format", 1);
    json_str(&j, "destination", f->parsed ? f->args.dest : NULL);
    json_bool(&j, "served", 0);
    json_str(&j, "reason", why);
    json_null(&j, "connection");
    json_finish(&j);
    printf("%s\n", doc);
    return 1;
}

/* `muxssh --mux-doctor [--json] [ssh options] DEST`: would the session be served, and how
 * (the broker resolves it as it would a session)? Exit 0 if served, 1 if handed to ssh. */
static int mux_doctor(struct front *f, int json)
{
    char err[512] = "", why[600];
    int sock;
    if (!f->parsed || !f->args.dest)
        return handed_to_ssh(f, json,
                             f->parsed ? "no destination" : "ssh's own command-line error");
    const char *u = f->args.unsupported ? f->args.unsupported : f->args.fork_bg ? "-f" : NULL;
    if (u) {
        snprintf(why, sizeof why, "%s (muxssh does not serve it)", u);
        return handed_to_ssh(f, json, why);
    }
    if (broker_socket(1, &sock, err, sizeof err) < 0 || sock < 0)
        return handed_to_ssh(f, json, err);
    struct proto_msg m;
    uint8_t *body = NULL;
    int rc = 1;
    if (!getcwd(f->cwd, sizeof f->cwd))
        snprintf(f->cwd, sizeof f->cwd, "/");
    if (client_control(sock, CTL_DOCTOR | (json ? CTL_JSON : 0), f->real_ssh, f->cwd, f->args.opts,
                       f->args.dest, environ, err, sizeof err) < 0 ||
        client_recv(sock, &m, &body, err, sizeof err) <= 0) {
        handed_to_ssh(f, json, err[0] ? err : "no answer");
    } else if (m.type == MSG_CONTROL_REPLY) {
        fwrite(m.s[0].p, 1, m.s[0].n, stdout);
        rc = m.u[0] == CTLR_OK ? 0 : 1;
    } else {
        /* ERROR: the broker would hand it over (ssh -G failed, for one) */
        snprintf(why, sizeof why, "%.*s", (int)(m.type == MSG_ERROR ? m.s[0].n : 0),
                 m.type == MSG_ERROR ? m.s[0].p : "");
        handed_to_ssh(f, json, why[0] ? why : "refused");
    }
    free(body);
    close(sock);
    return rc;
}

/* `muxssh --mux-start`: make sure a broker listens (the shim's connect() routing runs
 * this when it finds none). */
static int mux_start(void)
{
    char err[512];
    int sock;
    if (broker_socket(1, &sock, err, sizeof err) < 0 || sock < 0) {
        fprintf(stderr, "muxssh: %s\n", err);
        return 1;
    }
    close(sock);
    return 0;
}

/* -O check|stop|exit|forward|cancel: the broker answers for its connections, else OpenSSH's
 * master. */
static int control(struct front *f, int sock)
{
    const char *cmd = f->args.ctl_cmd;
    uint32_t op = !strcmp(cmd, "check")     ? CTL_CHECK
                  : !strcmp(cmd, "stop")    ? CTL_STOP
                  : !strcmp(cmd, "forward") ? CTL_FORWARD
                  : !strcmp(cmd, "cancel")  ? CTL_CANCEL
                                            : CTL_EXIT;
    char err[512] = "", out[4096] = "";
    struct proto_msg m;
    uint8_t *body = NULL;
    size_t nout = 0;
    int rc = client_control(sock, op, f->real_ssh, f->cwd, f->args.opts, f->args.dest, environ, err,
                            sizeof err);
    /* CONTROL_OUT before the reply: what ssh -O forward prints on stdout (allocated ports) */
    while (rc == 0 && (rc = client_recv(sock, &m, &body, err, sizeof err) <= 0 ? -1 : 0) == 0 &&
           m.type == MSG_CONTROL_OUT) {
        size_t n = m.s[0].n < sizeof out - nout ? m.s[0].n : sizeof out - nout;
        memcpy(out + nout, m.s[0].p, n);
        nout += n;
        free(body);
        body = NULL;
    }
    if (rc < 0 || m.type != MSG_CONTROL_REPLY) {
        free(body);
        close(sock);
        debug(f, "no answer to -O from the broker");
        return run_real(f);
    }
    close(sock);
    if (m.u[0] == CTLR_NOT_FOUND) {
        free(body);
        return run_real(f);
    }
    fwrite(out, 1, nout, stdout);
    fflush(stdout);
    print_text(&m.s[0], 1);
    free(body);
    return m.u[0] == CTLR_OK ? 0 : 255;
}

static volatile sig_atomic_t no_shell; /* -N: no command asked for */

static void on_signal(int sig)
{
    tty_restore(); /* a raw terminal or a hidden answer must not outlive us */
    /* as ssh does when killed by SIGINT/SIGTERM/SIGHUP, but for SIGTERM with no command:
     * there is no remote status then, and ssh's client_loop clears its error */
    _exit(sig == SIGTERM && no_shell ? 0 : 255);
}

static volatile sig_atomic_t winched;

/* SIGCHLD only wakes the wait below: a forward's connection ended (fwd_reap, inc_reap). */
static void on_child(int sig)
{
    (void)sig;
}

static void on_winch(int sig)
{
    (void)sig;
    winched = 1;
}

/* Wait until the broker has sent something; meanwhile pass window size changes on.
 * Returns 0, or -1 (err set) if the broker cannot be told. */
static int wait_broker(int sock, char *err, size_t errlen)
{
    /* SIGWINCH stays blocked from the winched check until ppoll waits (which unblocks it
     * atomically): one arriving in between wakes ppoll instead of being lost until the next
     * message. The caller's mask is back on return (an exec'd real ssh must not inherit a
     * blocked SIGWINCH). */
    sigset_t winch, orig;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    sigprocmask(SIG_BLOCK, &winch, &orig);
    sigset_t during = orig;
    sigdelset(&during, SIGWINCH);
    int rc = 0;
    for (;;) {
        if (winched) {
            struct winsize ws;
            winched = 0;
            if (ioctl(0, TIOCGWINSZ, &ws) == 0 &&
                client_window_change(sock, &ws, err, errlen) < 0) {
                rc = -1;
                break;
            }
        }
        struct pollfd p[1 + 64 + 64] = {{.fd = sock, .events = POLLIN}};
        int n = fwd_pollfds(p + 1, 64), k = inc_pollfds(p + 1 + n, 64);
        int r = ppoll(p, (nfds_t)(1 + n + k), NULL, &during);
        fwd_reap();
        inc_reap();
        if (r > 0 && n > 0)
            fwd_accept(p + 1, n); /* each connection goes to a child of its own */
        if (r > 0 && k > 0)
            inc_ready(sock, p + 1 + n, k); /* connections for the server's channels */
        if (r > 0 && p[0].revents)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            rc = -1;
            break;
        }
    }
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return rc;
}

/* -f: fork as ssh's fork_postauth() does (daemon(1, 1), then fds 0-2 on /dev/null but
 * stderr with -v). Returns 0 in the child, 1 in the parent, -1 if fork failed. */
static int go_background(const struct front *f)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "muxssh: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid > 0)
        return 1;
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (!f->args.verbose)
            dup2(null, 2);
        if (null > 2)
            close(null);
    }
    return 0;
}

/* LocalCommand, as ssh_local_cmd() runs it: `$SHELL -c cmd` (else /bin/sh) with our own
 * stdio (even with -n or -f: ssh gives /dev/null only to the session; errfd is the caller's
 * stderr under -E), waited for. Returns its exit status. */
static int run_local_command(const char *cmd, int errfd)
{
    const char *shell = getenv("SHELL");
    if (!shell || !*shell)
        shell = "/bin/sh";
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        if (errfd != 2)
            dup2(errfd, 2);
        execl(shell, shell, "-c", cmd, (char *)NULL);
        fprintf(stderr, "Couldn't execute %s -c \"%s\": %s\n", shell, cmd, strerror(errno));
        _exit(1);
    }
    if (pid < 0) {
        fprintf(stderr, "muxssh: fork: %s\n", strerror(errno));
        return 1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* Serve one session through the broker, with errfd as the session's stderr; returns the exit
 * code, or -1 to fall back to the real ssh, which happens only before STARTED: once the
 * command may have run, a lost broker or an ERROR ends with 255 and the broker's words,
 * never a second run. */
static int serve(struct front *f, int sock, int errfd)
{
    char err[512] = "";
    int fds[3] = {0, 1, errfd}, null = -1;
    uint32_t flags = 0;
    if (f->args.stdin_null) {
        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0)
            return -1;
        fds[0] = null;
        flags |= OPEN_STDIN_NULL;
    } else if (isatty(0)) {
        flags |= OPEN_STDIN_TTY;
    }
    const char *command = f->args.command;
    if (f->args.stdio_fwd) {
        flags |= OPEN_STDIO_FWD;
        command = f->args.stdio_fwd;
    }
    if (isatty(1))
        flags |= OPEN_STDOUT_TTY;
    if (isatty(errfd))
        flags |= OPEN_STDERR_TTY;
    if (errfd != 2)
        flags |= OPEN_LOG_FILE;
    flags |= OPEN_FWD_LOCAL; /* LocalForward and DynamicForward are bound here (forward.c) */
    int rc = client_open(sock, f->real_ssh, f->cwd, f->args.opts, f->args.dest, command, environ,
                         flags, fds, err, sizeof err);
    if (null >= 0)
        close(null);
    if (rc < 0) {
        debug(f, err);
        return -1;
    }
    no_shell = f->args.no_session;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sw = {.sa_handler = on_winch}; /* no SA_RESTART: poll must wake */
    sigaction(SIGWINCH, &sw, NULL);
    struct sigaction sc = {.sa_handler = on_child, .sa_flags = SA_RESTART}; /* ppoll wakes */
    sigaction(SIGCHLD, &sc, NULL);
    int started = 0; /* STARTED seen: the command may be running, never run it again */
    for (;;) {
        struct proto_msg m;
        uint8_t *body = NULL;
        int fd = -1;
        int r = wait_broker(sock, err, sizeof err) < 0
                    ? -1
                    : client_recv_fd(sock, &m, &body, &fd, err, sizeof err);
        if (r <= 0) {
            if (!started) {
                /* Nothing ran: the broker left before the command could start. */
                debug(f, "the broker closed the connection");
                return -1;
            }
            fprintf(stderr, "muxssh: lost the broker: %s\n", r < 0 ? err : "connection closed");
            return 255;
        }
        switch (m.type) {
        case MSG_STARTED:
            started = 1;
            if ((m.u[0] & STARTED_FORK) || f->args.fork_bg) {
                int bg = go_background(f);
                if (bg != 0) {
                    free(body);
                    return bg < 0 ? 255 : 0; /* the parent: ssh -f's foreground exits 0 */
                }
            } else if ((m.u[0] & STARTED_PTY) && isatty(0)) {
                /* A pty session: the terminal is raw until we exit, whichever way. */
                tty_raw(0);
            }
            break;
        case MSG_MESSAGE:
            print_text(&m.s[0], 0);
            break;
        case MSG_INCOMING: /* a channel the server opened: we connect it (incoming.c) */
            inc_start(sock, &m, fd);
            fd = -1;
            break;
        case MSG_FORWARDS: {
            static struct fwd_session fs;
            fs =
                (struct fwd_session){f->dir,       f->real_ssh,        f->cwd,         f->args.dest,
                                     f->args.opts, f->args.no_session, f->args.verbose};
            if (fwd_setup(&fs, m.u[0], m.u[1], m.s[0].p, m.s[0].n) < 0) {
                free(body);
                return 255; /* ExitOnForwardFailure: ssh's fatal(), nothing ran */
            }
            if (client_forwards_done(sock, err, sizeof err) < 0) {
                free(body);
                return -1; /* nothing ran remotely yet */
            }
            break;
        }
        case MSG_X11_AUTH:
            if (x11_auth(sock, m.u[0], m.u[1], &m.s[0], err, sizeof err) < 0) {
                free(body);
                return -1; /* before STARTED: nothing ran remotely yet */
            }
            break;
        case MSG_LOCAL_COMMAND: {
            char *cmd = strndup(m.s[0].p, m.s[0].n);
            int st = cmd ? run_local_command(cmd, errfd) : 1;
            free(cmd);
            if (client_local_done(sock, (uint32_t)st, err, sizeof err) < 0) {
                free(body);
                if (!started)
                    return -1; /* nothing ran remotely yet */
                fprintf(stderr, "muxssh: lost the broker: %s\n", err);
                return 255;
            }
            break;
        }
        case MSG_PROMPT: {
            char q[4096], a[1024];
            int ok = proto_str_copy(&m.s[0], q, sizeof q) == 0 &&
                     ask_user(q, m.u[1] != 0, a, sizeof a) == 0;
            int sent = client_prompt_reply(sock, m.u[0], ok, ok ? a : "", err, sizeof err);
            explicit_bzero(a, sizeof a);
            if (sent < 0) {
                free(body);
                if (!started)
                    return -1;
                fprintf(stderr, "muxssh: lost the broker: %s\n", err);
                return 255;
            }
            break;
        }
        case MSG_ERROR: {
            int code = (int)m.u[0];
            if (code == ERR_FATAL) {
                print_text(&m.s[0], 1);
                free(body);
                return 255;
            }
            char text[600];
            proto_str_copy(&m.s[0], text, sizeof text);
            free(body);
            if (started) { /* the command may be running: never run it a second time */
                fprintf(stderr, "muxssh: broker: %s\n", text);
                return 255;
            }
            if (code == ERR_PROTO)
                fprintf(stderr, "muxssh: broker: %s\n", text);
            else
                debug(f, text);
            return -1;
        }
        case MSG_EXIT: {
            int code = m.u[0] == EXIT_STATUS ? (int)(m.u[1] & 255) : 255;
            print_text(&m.s[0], 1);
            free(body);
            return code;
        }
        default:
            if (fd >= 0)
                close(fd);
            break; /* the broker sends a session nothing else (CONTROL_REPLY, ROUTE_REPLY, ...
                      are answers to other requests): ignored */
        }
        free(body);
    }
}

/* -E FILE: what ssh itself says (muxssh's and the broker's messages) is appended to FILE,
 * while the remote command's stderr still goes to the caller's stderr. Returns a copy of
 * that stderr, or -1 (nothing changed) when FILE cannot be opened. */
static int log_to_file(const struct front *f)
{
    int log = open(f->args.logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0) {
        debug(f, "the -E file cannot be opened: handed to ssh");
        return -1;
    }
    int errfd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (errfd < 0 || dup2(log, 2) < 0) {
        if (errfd >= 0)
            close(errfd);
        close(log);
        return -1;
    }
    close(log);
    return errfd;
}

int main(int argc, char **argv)
{
    static struct front f;
    char err[512];
    f.argv = argv;
    if ((argc == 2 || (argc == 3 && !strcmp(argv[2], "--json"))) &&
        !strcmp(argv[1], "--mux-status"))
        return mux_status(argc == 3);
    if (argc == 2 && !strcmp(argv[1], "--mux-start"))
        return mux_start();
    if (fallback_real_ssh(f.real_ssh, sizeof f.real_ssh) < 0) {
        fprintf(stderr, "muxssh: cannot find the real ssh\n");
        return 255;
    }
    int doctor = argc >= 2 && !strcmp(argv[1], "--mux-doctor");
    int json = doctor && argc >= 3 && !strcmp(argv[2], "--json");
    int skip = doctor + json; /* (the last skipped word stands for ssh's argv[0]) */
    /* -P is a flag to ssh 9.2 and takes a tag in later versions: only then ask which. */
    int pr =
        ssh_args_parse_as(argc - skip, argv + skip, SSH_DIALECT_UNKNOWN, &f.args, err, sizeof err);
    if (pr == -2)
        pr = ssh_args_parse_as(argc - skip, argv + skip, fallback_dialect(f.real_ssh), &f.args, err,
                               sizeof err);
    f.parsed = pr == 0;
    if (doctor)
        return mux_doctor(&f, json);
    if (runtime_dir(f.dir, sizeof f.dir, 1, err, sizeof err) < 0) {
        fprintf(stderr, "muxssh: %s\n", err);
        return run_real(&f);
    }
    if (f.parsed && f.args.stdio_fwd && f.args.command[0])
        f.args.unsupported = "-W with a command";
    if (!getcwd(f.cwd, sizeof f.cwd))
        snprintf(f.cwd, sizeof f.cwd, "/");
    /* -O forward/cancel -R: the broker says whether it holds remote forwards */
    if (f.parsed && f.args.ctl_cmd && f.args.unsupported && !strcmp(f.args.unsupported, "-R") &&
        (!strcmp(f.args.ctl_cmd, "forward") || !strcmp(f.args.ctl_cmd, "cancel")))
        f.args.unsupported = NULL;
    if (!f.parsed || f.args.unsupported || !f.args.dest) {
        const char *why = !f.parsed || !f.args.dest ? NULL : f.args.unsupported;
        if (why) {
            snprintf(err, sizeof err, "%s is handed to ssh", why);
            debug(&f, err);
            client_notify_handed(f.dir, f.real_ssh, f.cwd, f.args.opts, f.args.dest, why, environ);
        }
        return run_real(&f);
    }
    int is_ctl = f.args.ctl_cmd != NULL;
    int sock = client_connect(f.dir, !is_ctl, err, sizeof err);
    if (sock == CLIENT_REFUSED) { /* as for a directory that is not ours: said */
        fprintf(stderr, "muxssh: %s\n", err);
        return run_real(&f);
    }
    if (sock < 0) {
        debug(&f, err);
        return run_real(&f);
    }
    if (is_ctl)
        return control(&f, sock);
    int errfd = 2;
    if (f.args.logfile && (errfd = log_to_file(&f)) < 0) {
        close(sock);
        client_notify_handed(f.dir, f.real_ssh, f.cwd, f.args.opts, f.args.dest,
                             "-E file cannot be opened", environ);
        return run_real(&f); /* ssh says why it cannot open it */
    }
    int code = serve(&f, sock, errfd);
    fwd_finish(); /* as ssh, wait for the forwards' open connections */
    tty_restore();
    if (errfd != 2) { /* ssh's diagnostics go to stderr again */
        dup2(errfd, 2);
        close(errfd);
    }
    if (code >= 0)
        return code;
    close(sock);
    return run_real(&f);
}
