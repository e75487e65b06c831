/* ssh's command line, parsed as OpenSSH 9.2's or 10's ssh.c does. */
#ifndef MUXSHIM_ARGV_H
#define MUXSHIM_ARGV_H

#include <stddef.h>

/* What muxssh learned from argv. Pointers point into the caller's argv or into
 * heap memory owned by the struct (free with ssh_args_free). */
struct ssh_args {
    char **opts; /* NULL-terminated: every option word (with its argument words) in
                    order, as `ssh -G` must see them, i.e. argv minus argv[0], minus the
                    destination word, minus the command words and any "--"; where options
                    follow the destination, the destination's user and ssh:// port are
                    inserted as -l/-p at its place, since ssh's first value wins. Pass the
                    command as one word after the destination to `ssh -G` (-s needs it). */
    int nopts;
    const char *dest;    /* destination word as given (user@host, host, ssh://…); NULL if none */
    char *command;       /* command words joined by single spaces, "" when there are none */
    int ncommand_words;  /* how many command words there were */
    int tty;             /* number of -t given; -1 if -T was given last */
    int stdin_null;      /* -n */
    int no_session;      /* -N */
    int subsystem;       /* -s */
    int quiet;           /* -q count */
    int verbose;         /* -v count */
    int fork_bg;         /* -f */
    const char *ctl_cmd; /* -O argument, or NULL */
    const char *stdio_fwd;   /* -W argument (HOST:PORT), or NULL */
    const char *logfile;     /* -E argument (ssh's diagnostics go there), or NULL */
    int user_ctl;            /* the caller chose its own multiplexing: -M, -S, or -o ControlMaster /
                                ControlPath / ControlPersist (any spelling/case, "=" or space) */
    const char *unsupported; /* NULL, or the first option muxssh does not serve (e.g. "-L",
                                "-G", "-o ProxyCommand"), as a short text for -v output */
};

/* How a version of ssh reads -P: OpenSSH 9.2 as a flag it ignores, 9.4 and later as -P TAG
 * (the Tag option); UNKNOWN when the version is not known yet. */
enum ssh_dialect { SSH_DIALECT_UNKNOWN, SSH_DIALECT_P_FLAG, SSH_DIALECT_P_TAG };

/* Parse argv (argc words, argv[0] included) as OpenSSH 9.2 does. Returns 0, or -1 with a
 * one-line reason when ssh itself would reject the command line (then muxssh runs the real
 * ssh, which prints the exact usage error). */
int ssh_args_parse(int argc, char **argv, struct ssh_args *out, char *err, size_t errlen);
/* The same as the given dialect of ssh does; with SSH_DIALECT_UNKNOWN, -2 when a -P option
 * makes the answer depend on the version (ask the real ssh, then parse again). */
int ssh_args_parse_as(int argc, char **argv, enum ssh_dialect dialect, struct ssh_args *out,
                      char *err, size_t errlen);
/* Release memory owned by a parsed struct. */
void ssh_args_free(struct ssh_args *a);

#endif
