/* ssh's command line, parsed the way OpenSSH 9.2's ssh.c main() does it.
 *
 * ssh is built against OpenBSD's getopt (glibc has no optreset), so parsing stops at the first
 * non-option word and never permutes. The first such word is the destination; when more words
 * follow it (and the options were not ended by "--"), ssh restarts getopt on the words after
 * the destination, so options may follow it too. What getopt leaves over is the command.
 *
 * ssh applies the user and port of the destination at the point where the destination
 * stands, and both "first value wins". So that `ssh -G <opts> -- <dest>` sees the same as the
 * original command line even when options follow the destination (`ssh u@h -l other`), opts
 * then carries "-l USER" / "-p PORT" from the destination at the destination's place. */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "argv_int.h"

/* OpenSSH 9.2 ssh.c: the option string handed to getopt. */
static const char ssh_optstring[] = "1246ab:c:e:fgi:kl:m:no:p:qstvx"
                                    "AB:CD:E:F:GI:J:KL:MNO:PQ:R:S:TVw:W:XYy";
/* OpenSSH 10.0 ssh.c (since 9.4): the same but "P:", -P TAG (the Tag option). */
static const char ssh_optstring_tag[] = "1246ab:c:e:fgi:kl:m:no:p:qstvx"
                                        "AB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy";

/* Options muxssh serves itself; any other option makes it hand over to the real ssh. */
static const char served_opts[] = "246AaBbCcDEefgiIKkLlmnNopPqRsSTtvxXyYFJOW"; /* -2: ignored; -P:
                                    ignored (9.2) or the Tag `ssh -G` applies (9.4 and later) */

/* A tiny re-implementation of OpenBSD getopt's state (no permutation, no long options). */
struct getopt_state {
    const char *optstring; /* ssh_optstring or ssh_optstring_tag */
    int argc;
    char **argv;
    int optind;        /* next word to look at */
    const char *place; /* position inside the current option cluster, "" when none */
    const char *optarg;
    int optopt;
    int trailing_dash; /* the pass ended on a cluster ending in '-' (e.g. "-v-") */
};

/* Stores a one-line reason and returns -1. */
int argv_fail(struct parse_state *ps, const char *fmt, ...)
{
    va_list ap;
    if (ps->err != NULL && ps->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(ps->err, ps->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Appends a copy of n bytes of s to out->opts. */
static int push_opt(struct parse_state *ps, const char *s, size_t n)
{
    struct ssh_args *a = ps->out;
    if (a->nopts + 2 > ps->cap_opts) {
        int cap = ps->cap_opts ? ps->cap_opts * 2 : 16;
        char **v = realloc(a->opts, (size_t)cap * sizeof(*v));
        if (v == NULL)
            return argv_fail(ps, "out of memory");
        a->opts = v;
        ps->cap_opts = cap;
    }
    char *copy = strndup(s, n);
    if (copy == NULL)
        return argv_fail(ps, "out of memory");
    a->opts[a->nopts++] = copy;
    a->opts[a->nopts] = NULL;
    return 0;
}

/* One step of OpenBSD getopt: the option character, -1 at the end of options, '?' on error
 * (then optopt is the culprit and optarg is NULL for a missing argument). */
static int next_opt(struct getopt_state *g)
{
    g->optarg = NULL;
    if (*g->place == '\0') {
        if (g->optind >= g->argc)
            return -1;
        const char *w = g->argv[g->optind];
        if (w[0] != '-' || w[1] == '\0')
            return -1; /* a non-option word (a lone "-" included) */
        if (w[1] == '-' && w[2] == '\0') {
            g->optind++; /* "--" ends the options and is consumed */
            return -1;
        }
        g->place = w + 1;
    }
    int c = (unsigned char)*g->place++;
    const char *oli = (c == ':') ? NULL : strchr(g->optstring, c);
    if (c == '-' && *g->place == '\0') {
        g->trailing_dash = 1; /* POSIX: a '-' ending a cluster ends the options */
        return -1;
    }
    if (c == '-' || oli == NULL) {
        if (*g->place == '\0')
            g->optind++;
        g->optopt = c;
        return '?';
    }
    if (oli[1] != ':') {
        if (*g->place == '\0')
            g->optind++;
        return c;
    }
    if (*g->place != '\0') {
        g->optarg = g->place;
    } else if (++g->optind >= g->argc) {
        g->place = "";
        g->optopt = c;
        return '?';
    } else {
        g->optarg = g->argv[g->optind];
    }
    g->place = "";
    g->optind++;
    return c;
}

/* Names of options for the unsupported field. */
static const char *opt_name(int c)
{
    static const char names[] = "-1\0-2\0-4\0-6\0-a\0-b\0-c\0-e\0-f\0-g\0-i\0-k\0-l\0-m\0-n\0-o\0"
                                "-p\0-q\0-s\0-t\0-v\0-x\0-A\0-B\0-C\0-D\0-E\0-F\0-G\0-I\0-J\0-K\0"
                                "-L\0-M\0-N\0-O\0-P\0-Q\0-R\0-S\0-T\0-V\0-w\0-W\0-X\0-Y\0-y\0";
    for (const char *p = names; *p != '\0'; p += 3)
        if (p[1] == c)
            return p;
    return "-?";
}

/* Applies one option as ssh's switch statement does. Returns 0, 1 when ssh would exit
 * successfully right here (-V, -Q), or -1 on an error ssh reports as fatal/usage. */
static int apply_opt(struct parse_state *ps, int c, const char *optarg)
{
    struct ssh_args *a = ps->out;

    if (a->unsupported == NULL && strchr(served_opts, c) == NULL)
        a->unsupported = opt_name(c);

    switch (c) {
    case '1':
        return argv_fail(ps, "SSH protocol v.1 is no longer supported");
    case 'P':
        if (ps->dialect == SSH_DIALECT_UNKNOWN) {
            ps->need_dialect = 1; /* the words after it depend on the version */
            return argv_fail(ps, "-P means what this ssh's version makes it");
        }
        break;
    case 'n':
        a->stdin_null = 1;
        break;
    case 'f':
        a->fork_bg = 1;
        a->stdin_null = 1;
        break;
    case 'y':
        ps->syslog = 1;
        break;
    case 'E':
        ps->logfile = 1;
        a->logfile = optarg;
        break;
    case 'O':
        if (ps->stdio_forward)
            return argv_fail(ps, "Cannot specify multiplexing command with -W");
        if (a->ctl_cmd != NULL)
            return argv_fail(ps, "Multiplexing command already specified");
        if (strcmp(optarg, "check") != 0 && strcmp(optarg, "exit") != 0 &&
            strcmp(optarg, "stop") != 0 && strcmp(optarg, "forward") != 0 &&
            strcmp(optarg, "cancel") != 0) {
            if (strcmp(optarg, "proxy") == 0)
                a->unsupported = a->unsupported ? a->unsupported : "-O proxy";
            else
                return argv_fail(ps, "Invalid multiplex command.");
        }
        a->ctl_cmd = optarg;
        break;
    case 'Q':
        if (!argv_valid_query(optarg))
            return argv_fail(ps, "Unsupported query \"%s\"", optarg);
        return 1;
    case 'V':
        return 1;
    case 'J':
        if (ps->jump_set)
            return argv_fail(ps, "Only a single -J option is permitted");
        if (ps->proxy_command_set)
            return argv_fail(ps, "Cannot specify -J with ProxyCommand");
        ps->jump_set = 1;
        ps->proxy_command_set = 1;
        break;
    case 't':
        a->tty = a->tty < 0 ? 1 : a->tty + 1;
        break;
    case 'T':
        a->tty = -1;
        break;
    case 'v':
        a->verbose++;
        break;
    case 'W':
        if (ps->stdio_forward)
            return argv_fail(ps, "stdio forward already specified");
        if (a->ctl_cmd != NULL)
            return argv_fail(ps, "Cannot specify stdio forward with -O");
        ps->stdio_forward = 1;
        ps->session_type = SESSION_NONE;
        a->stdio_fwd = optarg;
        break;
    case 'q':
        a->quiet++;
        break;
    case 'e':
        if (!argv_valid_escape(optarg))
            return argv_fail(ps, "Bad escape character '%s'.", optarg);
        break;
    case 'M':
    case 'S':
        a->user_ctl = 1;
        break;
    case 'p':
        if (!ps->port_set) {
            if (argv_a2port(optarg) <= 0)
                return argv_fail(ps, "Bad port '%s'", optarg);
            ps->port_set = 1;
        }
        break;
    case 'l':
        if (ps->user == NULL)
            ps->user = optarg;
        break;
    case 'N':
        if (ps->session_type != SESSION_UNSET && ps->session_type != SESSION_NONE)
            return argv_fail(ps, "Cannot specify -N with -s/SessionType");
        ps->session_type = SESSION_NONE;
        break;
    case 's':
        if (ps->session_type != SESSION_UNSET && ps->session_type != SESSION_SUBSYSTEM)
            return argv_fail(ps, "Cannot specify -s with -N/SessionType");
        ps->session_type = SESSION_SUBSYSTEM;
        break;
    case 'o':
        return argv_note_config_line(ps, optarg);
    default:
        break;
    }
    return 0;
}

/* Runs getopt over g's words, copying the option words into opts. Returns 0 at the end of
 * the options, 1 when ssh would exit successfully (-V, -Q), -1 on a usage error. */
static int parse_pass(struct parse_state *ps, struct getopt_state *g)
{
    for (;;) {
        int word = g->optind;
        const char *cluster_start = word < g->argc ? g->argv[word] : NULL;
        int c = next_opt(g);
        if (c == -1) {
            if (g->trailing_dash && cluster_start != NULL && g->place - 1 > cluster_start + 1) {
                /* "-v-": the options before the '-' count, the word itself does not */
                if (push_opt(ps, cluster_start, (size_t)(g->place - 1 - cluster_start)) < 0)
                    return -1;
            }
            return 0;
        }
        if (c == '?') {
            if (g->optarg == NULL && strchr(g->optstring, g->optopt) != NULL && g->optopt != ':')
                return argv_fail(ps, "option requires an argument -- %c", g->optopt);
            return argv_fail(ps, "unknown option -- %c", g->optopt);
        }
        /* Copy whole words once they are finished: a word is done when optind moved on. */
        for (int i = word; i < g->optind; i++) {
            if (push_opt(ps, g->argv[i], strlen(g->argv[i])) < 0)
                return -1;
        }
        int r = apply_opt(ps, c, g->optarg);
        if (r == 1 && g->optind == word && push_opt(ps, g->argv[word], strlen(g->argv[word])) < 0)
            return -1; /* "-Vx": ssh stops inside the word; keep the word */
        if (r != 0)
            return r;
    }
}

/* Joins the command words with single spaces. */
static int join_command(struct parse_state *ps, int n, char **words)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(words[i]) + 1;
    char *cmd = malloc(len), *p = cmd;
    if (cmd == NULL)
        return argv_fail(ps, "out of memory");
    *p = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ' ';
        size_t l = strlen(words[i]);
        memcpy(p, words[i], l);
        p += l;
        *p = '\0';
    }
    ps->out->command = cmd;
    ps->out->ncommand_words = n;
    return 0;
}

/* After the destination, ssh's first-wins user/port from it are made explicit in opts. */
static int insert_dest_opts(struct parse_state *ps, int at, const char *user, int port)
{
    struct ssh_args *a = ps->out;
    int before = a->nopts;
    char pbuf[16];
    if (user != NULL && (push_opt(ps, "-l", 2) < 0 || push_opt(ps, user, strlen(user)) < 0))
        return -1;
    if (port > 0) {
        snprintf(pbuf, sizeof(pbuf), "%d", port);
        if (push_opt(ps, "-p", 2) < 0 || push_opt(ps, pbuf, strlen(pbuf)) < 0)
            return -1;
    }
    int added = a->nopts - before;
    if (added == 0 || at == before)
        return 0;
    /* rotate the new words to position `at` */
    char *tmp[4];
    memcpy(tmp, a->opts + before, (size_t)added * sizeof(char *));
    memmove(a->opts + at + added, a->opts + at, (size_t)(before - at) * sizeof(char *));
    memcpy(a->opts + at, tmp, (size_t)added * sizeof(char *));
    return 0;
}

int ssh_args_parse(int argc, char **argv, struct ssh_args *out, char *err, size_t errlen)
{
    return ssh_args_parse_as(argc, argv, SSH_DIALECT_P_FLAG, out, err, errlen);
}

int ssh_args_parse_as(int argc, char **argv, enum ssh_dialect dialect, struct ssh_args *out,
                      char *err, size_t errlen)
{
    struct parse_state ps;
    struct getopt_state g;
    char *duser = NULL, *dhost = NULL;
    int dport = -1, rc = -1, r;

    memset(out, 0, sizeof(*out));
    memset(&ps, 0, sizeof(ps));
    ps.out = out;
    ps.session_type = SESSION_UNSET;
    ps.dialect = dialect;
    ps.err = err;
    ps.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';

    ps.cap_opts = 16; /* opts is never NULL, even when there are no options */
    out->opts = calloc((size_t)ps.cap_opts, sizeof(*out->opts));
    if (out->opts == NULL) {
        argv_fail(&ps, "out of memory");
        goto out;
    }

    memset(&g, 0, sizeof(g));
    g.optstring = dialect == SSH_DIALECT_P_TAG ? ssh_optstring_tag : ssh_optstring;
    g.argc = argc;
    g.argv = argv;
    g.optind = 1;
    g.place = "";
    r = parse_pass(&ps, &g);
    if (r < 0)
        goto out;
    if (r == 1) {
        rc = 0; /* ssh -V / -Q: ssh answers and exits before looking at anything else */
        goto out;
    }
    int opt_terminated = g.optind > 1 && g.optind <= argc && strcmp(argv[g.optind - 1], "--") == 0;
    int rest = argc - g.optind;
    char **words = argv + g.optind;
    if (rest <= 0) {
        argv_fail(&ps, "no destination given");
        goto out;
    }

    out->dest = words[0];
    if (argv_parse_destination(&ps, words[0], &duser, &dport, &dhost) < 0)
        goto out;
    int dest_at = out->nopts;
    if (ps.user == NULL && duser != NULL)
        ps.user = duser;
    if (!ps.port_set && dport > 0)
        ps.port_set = 1;

    int ncmd = rest - 1;
    char **cmd = words + 1;
    if (rest > 1 && !opt_terminated) {
        memset(&g, 0, sizeof(g));
        g.optstring = dialect == SSH_DIALECT_P_TAG ? ssh_optstring_tag : ssh_optstring;
        g.argc = rest;
        g.argv = words;
        g.optind = 1;
        g.place = "";
        r = parse_pass(&ps, &g);
        if (r < 0)
            goto out;
        if (r == 1) {
            rc = 0;
            goto out;
        }
        ncmd = rest - g.optind;
        cmd = words + g.optind;
        if (out->nopts > dest_at && insert_dest_opts(&ps, dest_at, duser, dport) < 0)
            goto out;
    }

    if (!argv_valid_hostname(dhost)) {
        argv_fail(&ps, "hostname contains invalid characters");
        goto out;
    }
    if (ps.user != NULL && !argv_valid_ruser(ps.user)) {
        argv_fail(&ps, "remote username contains invalid characters");
        goto out;
    }
    if (join_command(&ps, ncmd, cmd) < 0)
        goto out;
    if (ncmd == 0 && ps.session_type == SESSION_SUBSYSTEM) {
        argv_fail(&ps, "You must specify a subsystem to invoke.");
        goto out;
    }
    if (ps.syslog && ps.logfile) {
        argv_fail(&ps, "Can't specify both -y and -E");
        goto out;
    }
    if (out->command[0] != '\0' && ps.remote_command) {
        argv_fail(&ps, "Cannot execute command-line and remote command.");
        goto out;
    }
    if (out->fork_bg && out->command[0] == '\0' && !ps.remote_command &&
        ps.session_type != SESSION_NONE) {
        argv_fail(&ps, "Cannot fork into background without a command to execute.");
        goto out;
    }
    /* -N, -s, -W and -o SessionType all end in ssh's one session type. */
    out->no_session = ps.session_type == SESSION_NONE;
    out->subsystem = ps.session_type == SESSION_SUBSYSTEM;
    rc = 0;
    goto out;

out:
    if (rc != 0) {
        ssh_args_free(out);
    } else if (out->command == NULL && join_command(&ps, 0, NULL) < 0) {
        ssh_args_free(out);
        rc = -1;
    }
    free(ps.user_copy);
    free(duser);
    free(dhost);
    return rc != 0 && ps.need_dialect ? -2 : rc;
}

void ssh_args_free(struct ssh_args *a)
{
    if (a == NULL)
        return;
    if (a->opts != NULL)
        for (int i = 0; i < a->nopts; i++)
            free(a->opts[i]);
    free(a->opts);
    free(a->command);
    memset(a, 0, sizeof(*a));
}
