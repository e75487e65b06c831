/* Host configuration as `ssh -G` reports it, cached, and the host token set. */
#ifndef MUXSHIM_SSHCONFIG_H
#define MUXSHIM_SSHCONFIG_H

#include <stddef.h>
#include <sys/types.h>

#define HC_STR 1024
#define HC_MAX_FILES 16
#define HC_MAX_ENV 64

enum hc_strict { HC_STRICT_ASK = 0, HC_STRICT_YES, HC_STRICT_ACCEPT_NEW, HC_STRICT_NO };
enum hc_tty { HC_TTY_AUTO = 0, HC_TTY_NO, HC_TTY_YES, HC_TTY_FORCE };
enum hc_session { HC_SESSION_DEFAULT = 0, HC_SESSION_NONE, HC_SESSION_SUBSYSTEM };

/* One host's effective configuration (the lower-case keys of `ssh -G`). Paths are what ssh
 * opens: `~` expanded from the passwd entry, and a relative one joined to the client's
 * working directory, where ssh would have opened it (so two sessions compare the files
 * themselves, wherever each ran). The lists (identity, certificate and
 * known_hosts files, SendEnv, SetEnv) are heap arrays of exactly their count, so that a session
 * holds the entries it has, not room for the most ssh allows: hostcfg_clear or hostcfg_free
 * releases them, hostcfg_copy copies them. A struct that holds none is all zeros. */
struct hostcfg {
    char host[HC_STR];          /* "host": the name given on the command line */
    char hostname[HC_STR];      /* "hostname" */
    char user[HC_STR];          /* "user" */
    int port;                   /* "port" */
    char hostkeyalias[HC_STR];  /* "hostkeyalias", "" if none */
    char proxyjump[HC_STR];     /* "proxyjump", "" if none */
    char proxycommand[HC_STR];  /* "proxycommand", "" if none */
    char bindaddress[HC_STR];   /* "bindaddress", "" if none */
    char bindinterface[HC_STR]; /* "bindinterface" (used when bindaddress is ""), "" if none */
    int addressfamily;          /* AF_UNSPEC, AF_INET or AF_INET6 */
    int connecttimeout;         /* seconds, -1 when "none" */
    int serveraliveinterval;    /* seconds, 0 = off */
    int serveralivecountmax;
    int controlpersist;           /* seconds; 0 = forever ("yes"); -1 = "no"/not set */
    char (*identityfile)[HC_STR]; /* at most HC_MAX_FILES */
    int n_identityfile;
    int identityfile_shown[HC_MAX_FILES]; /* where in identityfile[i] the name ssh shows
                                             (in its passphrase prompt) begins: past the
                                             directory a relative name was joined to */
    /* "certificatefile", paths as identityfile's (at most HC_MAX_FILES); with none, ssh
     * offers each identity file's "-cert.pub" beside it (auth.c, offer.c) */
    char (*certificatefile)[HC_STR];
    int n_certificatefile;
    int identitiesonly;
    char identityagent[HC_STR]; /* "SSH_AUTH_SOCK" (use the client's), "none", or a path */
    /* "pkcs11provider" (-I), as written ("" none): the token's keys are offered through
     * OpenSSH's ssh-pkcs11-helper (conn/token.c), run in the client's directory */
    char pkcs11provider[HC_STR];
    /* "forwardagent": "" (no), "yes", a socket path or "$NAME" (accept_fwd_agent) */
    char forwardagent[HC_STR];
    char (*userknownhostsfile)[HC_STR]; /* at most HC_MAX_FILES */
    int n_userknownhostsfile;
    char (*globalknownhostsfile)[HC_STR]; /* at most HC_MAX_FILES */
    int n_globalknownhostsfile;
    enum hc_strict stricthostkeychecking;
    int hashknownhosts;
    int checkhostip;
    int batchmode;
    int numberofpasswordprompts; /* tries for a password or passphrase (ssh's default 3) */
    int pubkeyauthentication, passwordauthentication, kbdinteractiveauthentication;
    int gssapiauthentication; /* matters only when the server offers it and Kerberos
                                 credentials are present (auth.c); other GSSAPI* ignored */
    char preferredauthentications[HC_STR];
    char hostkeyalgorithms[HC_STR], kexalgorithms[HC_STR], ciphers[HC_STR], macs[HC_STR];
    int compression;
    char remotecommand[HC_STR]; /* "" when none */
    char localcommand[HC_STR];  /* "" when none or PermitLocalCommand is off; %-tokens as
                                   written (ssh -G does not expand them: localcmd.c does) */
    enum hc_tty requesttty;
    enum hc_session sessiontype;
    int stdinnull;
    int forkafterauthentication;
    int escapechar;          /* byte, or -1 for "none" */
    int loglevel;            /* 0 QUIET, 1 FATAL, 2 ERROR, 3 INFO, 4 VERBOSE, 5.. DEBUG1.. */
    char (*sendenv)[HC_STR]; /* patterns; a leading '-' removes, as in OpenSSH (HC_MAX_ENV) */
    int n_sendenv;
    char (*setenv)[HC_STR]; /* NAME=VALUE (at most HC_MAX_ENV) */
    int n_setenv;
    char knownhostscommand[HC_STR]; /* "knownhostscommand", "" if none */
    int verifyhostkeydns;           /* 0 no, 1 yes, 2 ask */
    int visualhostkey;
    /* ssh would warn of a key exchange that is not post-quantum: `warnweakcrypto yes`
     * (OpenSSH 10.1 and later; older ones have no such keyword) and KexAlgorithms not set,
     * that is the binary's default (sshconfig_resolve) */
    int warnweakcrypto;
    /* ssh is 9.5 or later (its -G prints obscurekeystroketiming, new in 9.5): from then on
     * kex_exchange_identification's "Connection closed by remote host" is logged at VERBOSE,
     * before at ERROR */
    int ssh_9_5;
    int has_own_controlpath;  /* controlpath is set (not "none") */
    char controlpath[HC_STR]; /* "controlpath" as ssh -G expanded it, "" when none */
    int controlmaster_client; /* ControlMaster no, auto or autoask: ssh would use a master
                                 listening on controlpath (yes and ask never do) */
    /* "localforward" and "dynamicforward": one a line, "L LISTEN TARGET" or "D LISTEN" as
     * ssh -G prints them (without the dynamic lines its dump repeats for a local forward to
     * a socket path); the client binds them (FORWARDS) */
    char forwards[4096];
    /* "remoteforward": one a line, "R LISTEN TARGET" as ssh -G prints them (TARGET
     * "[socks]:0" for a dynamic one); the broker asks the server for them (rfwd.h) */
    char rforwards[4096];
    char permitremoteopen[HC_STR]; /* as ssh -G prints it: "any", "none" or HOST:PORT words */
    int gatewayports, exitonforwardfailure, streamlocalbindunlink;
    int streamlocalbindmask; /* "streamlocalbindmask", octal; 0177 by default */
    /* X11 forwarding (-X, -Y): ForwardX11, ForwardX11Trusted, ForwardX11Timeout (seconds,
     * 0 = none) and XAuthLocation, as ssh -G prints them (x11fwd.c) */
    int forwardx11, forwardx11trusted, forwardx11timeout;
    char xauthlocation[HC_STR];
    char unsupported[128]; /* "" or the first setting muxshim cannot serve, e.g.
                              "LocalForward", "ProxyCommand" */
    char token[65];        /* hex SHA-256 of the authority (see token_compute) */
    char warnings[1024];   /* what `ssh -G` printed on stderr (e.g. "Warning: Identity
                              file … not accessible"): the real ssh would print it too */
};

/* Append v to one of a hostcfg's lists (*list of *n entries), unless it holds max already.
 * Returns 0, or -1 when full or out of memory. */
int hostcfg_add(char (**list)[HC_STR], int *n, int max, const char *v);
/* Release cfg's lists and set them empty (cfg itself stays). */
void hostcfg_clear(struct hostcfg *cfg);
/* hostcfg_clear, then free cfg (heap; NULL is fine). */
void hostcfg_free(struct hostcfg *cfg);
/* dst becomes a copy of src with lists of its own (dst's old lists are not released).
 * Returns 0, or -1 when out of memory (dst then holds no lists). */
int hostcfg_copy(struct hostcfg *dst, const struct hostcfg *src);
/* Parse the text `ssh -G` printed into cfg (token included), its relative paths joined to
 * cwd, the directory ssh ran in (NULL: left relative); cfg is all zeros or a parsed hostcfg,
 * whose lists are released first. Returns 0 or -1 with err (cfg's lists are released with
 * hostcfg_clear either way). */
int sshconfig_parse(const char *text, size_t len, const char *cwd, struct hostcfg *cfg, char *err,
                    size_t errlen);
/* Run `<real_ssh> -G <opts…> -- <dest> [command]` in cwd with env (LD_PRELOAD removed,
 * MUXSHIM_DISABLE=1 added) and parse it, through a cache keyed by real_ssh, cwd, opts,
 * dest, command and HOME/USER/LOGNAME/SSH_AUTH_SOCK that is dropped when a config file the
 * answer depends on changes. Thread-safe. Returns 0; -1 with ssh's own first stderr line
 * (or a reason) in err. */
int sshconfig_resolve(const char *real_ssh, const char *cwd, char *const *opts, const char *dest,
                      const char *command, char *const *env, struct hostcfg *cfg, char *err,
                      size_t errlen);
/* The bytes the ssh -G cache holds (at most CACHE_MAX answers); *entries gets their count. */
size_t sshconfig_cache_bytes(unsigned *entries);
/* How many times sshconfig_resolve had to run ssh -G (a test hook for the cache). */
unsigned long sshconfig_cache_misses(void);
/* Hex SHA-256 of the authority a connection belongs to: local uid, remote user, hostname,
 * port, route (ProxyJump chain, ProxyCommand) and BindAddress. Whether a session may use
 * a given connection of its authority is conn_accepts' (accept.h) question. */
void token_compute(const struct hostcfg *cfg, uid_t uid, char out[65]);

#endif
