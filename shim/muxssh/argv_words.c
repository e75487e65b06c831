/* The words of ssh's command line that ssh checks one by one, as OpenSSH 9.2's ssh.c does:
 * ports (a2port), -e, -Q, host and user names, the -o lines that decide a usage error, and
 * the destination (user@host, ssh://user@host:port). */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "argv_int.h"

#define CONF_WS " \t\r\n"

/* OpenSSH's a2port(): a number 0..65535 (strtonum) or a tcp service name; -1 if neither. */
int argv_a2port(const char *s)
{
    char *ep;
    errno = 0;
    long long v = strtoll(s, &ep, 10);
    if (ep != s && *ep == '\0' && errno == 0 && v >= 0 && v <= 65535)
        return (int)v;
    struct servent *se = getservbyname(s, "tcp");
    if (se != NULL)
        return ntohs((unsigned short)se->s_port);
    return -1;
}

/* ssh's check of -e: "^X", one character, or "none". */
int argv_valid_escape(const char *s)
{
    if (s[0] == '^' && s[1] != '\0' && s[2] == '\0' && (unsigned char)s[1] >= 64 &&
        (unsigned char)s[1] < 128)
        return 1;
    return strlen(s) == 1 || strcmp(s, "none") == 0;
}

/* The queries ssh -Q answers (anything else is a fatal error). */
int argv_valid_query(const char *q)
{
    static const char *const exact[] = {"cipher", "cipher-auth",      "mac",         "kex",
                                        "key",    "key-cert",         "key-plain",   "key-sig",
                                        "sig",    "protocol-version", "compression", "help",
                                        NULL};
    static const char *const anycase[] = {"Ciphers",
                                          "MACs",
                                          "KexAlgorithms",
                                          "PubkeyAcceptedKeyTypes",
                                          "PubkeyAcceptedAlgorithms",
                                          "HostKeyAlgorithms",
                                          "HostbasedKeyTypes",
                                          "HostbasedAcceptedKeyTypes",
                                          "HostbasedAcceptedAlgorithms",
                                          NULL};
    for (int i = 0; exact[i] != NULL; i++)
        if (strcmp(q, exact[i]) == 0)
            return 1;
    for (int i = 0; anycase[i] != NULL; i++)
        if (strcasecmp(q, anycase[i]) == 0)
            return 1;
    return 0;
}

/* The Debian 9.2p1 build (with the upstream 9.6 fix) refuses these host names. */
int argv_valid_hostname(const char *s)
{
    if (*s == '-')
        return 0;
    for (; *s != '\0'; s++)
        if (strchr("'`\"$\\;&<>|(){},", *s) != NULL || isspace((unsigned char)*s) ||
            iscntrl((unsigned char)*s))
            return 0;
    return 1;
}

/* ... and these remote user names. */
int argv_valid_ruser(const char *s)
{
    if (*s == '-')
        return 0;
    for (; *s != '\0'; s++) {
        if (strchr("'`\";&<>|(){}", *s) != NULL)
            return 0;
        if (isspace((unsigned char)*s) && s[1] == '-')
            return 0;
        if (*s == '\\' && s[1] == '\0')
            return 0;
    }
    return 1;
}

/* readconf's strdelim(): the next token of *s, split at whitespace, a double-quoted run or
 * one '='. Modifies the string; NULL on an unmatched quote. */
static char *conf_strdelim(char **s)
{
    char *old = *s;
    int wspace = 0;
    if (old == NULL)
        return NULL;
    *s = strpbrk(old, CONF_WS "\"=");
    if (*s == NULL)
        return old;
    if (**s == '"') {
        memmove(*s, *s + 1, strlen(*s));
        if ((*s = strpbrk(*s, "\"")) == NULL)
            return NULL;
        **s = '\0';
        *s += strspn(*s + 1, CONF_WS) + 1;
        return old;
    }
    if (**s == '=')
        wspace = 1;
    **s = '\0';
    *s += strspn(*s + 1, CONF_WS) + 1;
    if (**s == '=' && !wspace)
        *s += strspn(*s + 1, CONF_WS) + 1;
    return old;
}

/* readconf's argv_split(), first token only: quotes and backslash escapes removed. */
static void conf_first_arg(const char *s, char *out)
{
    int quote = 0;
    s += strspn(s, " \t");
    if (*s == '#') {
        *out = '\0';
        return;
    }
    for (; *s != '\0'; s++) {
        if (*s == '\\' &&
            (s[1] == '\'' || s[1] == '"' || s[1] == '\\' || (quote == 0 && s[1] == ' ')))
            *out++ = *++s;
        else if (quote == 0 && (*s == ' ' || *s == '\t'))
            break;
        else if (quote == 0 && (*s == '"' || *s == '\''))
            quote = *s;
        else if (quote != 0 && *s == quote)
            quote = 0;
        else
            *out++ = *s;
    }
    *out = '\0';
}

/* Records what a -o line means for muxssh and for ssh's own command-line checks; the line is
 * split as readconf's process_config_line() does. */
int argv_note_config_line(struct parse_state *ps, const char *line)
{
    size_t len = strlen(line);
    char *buf = malloc(2 * len + 2), *arg, *str, *kw;
    if (buf == NULL)
        return argv_fail(ps, "out of memory");
    arg = buf + len + 1;
    str = buf;
    memcpy(buf, line, len + 1);
    while (len > 0 && strchr(CONF_WS "\f", buf[len - 1]) != NULL)
        buf[--len] = '\0';
    kw = conf_strdelim(&str);
    if (kw != NULL && *kw == '\0')
        kw = conf_strdelim(&str);
    if (kw == NULL || *kw == '\0' || *kw == '#' || str == NULL) {
        free(buf);
        return 0; /* empty, a comment, or an error ssh reports itself */
    }
    str += strspn(str, CONF_WS);
    conf_first_arg(str, arg);

    if (strcasecmp(kw, "ControlMaster") == 0 || strcasecmp(kw, "ControlPath") == 0 ||
        strcasecmp(kw, "ControlPersist") == 0) {
        ps->out->user_ctl = 1;
    } else if (strcasecmp(kw, "User") == 0 && ps->user == NULL && *arg != '\0') {
        ps->user_copy = strdup(arg);
        if (ps->user_copy == NULL) {
            free(buf);
            return argv_fail(ps, "out of memory");
        }
        ps->user = ps->user_copy;
    } else if (strcasecmp(kw, "Port") == 0 && *arg != '\0') {
        ps->port_set = 1;
    } else if (strcasecmp(kw, "SessionType") == 0 && ps->session_type == SESSION_UNSET) {
        if (strcasecmp(arg, "none") == 0)
            ps->session_type = SESSION_NONE;
        else if (strcasecmp(arg, "subsystem") == 0)
            ps->session_type = SESSION_SUBSYSTEM;
        else if (strcasecmp(arg, "default") == 0)
            ps->session_type = SESSION_DEFAULT;
    } else if (strcasecmp(kw, "RemoteCommand") == 0 && !ps->remote_command_set) {
        /* the rest of the line; "none" means unset */
        ps->remote_command_set = 1;
        ps->remote_command = strcmp(str + strspn(str, CONF_WS "="), "none") != 0;
    } else if (strcasecmp(kw, "ProxyCommand") == 0) {
        ps->proxy_command_set = 1;
    } else if (strcasecmp(kw, "ProxyJump") == 0) {
        ps->jump_set = 1;
    }
    free(buf);
    return 0;
}

/* Takes user, host and port from the destination word as ssh does. Returns 0 or -1. */
int argv_parse_destination(struct parse_state *ps, const char *word, char **user, int *port,
                           char **host)
{
    *user = NULL;
    *port = -1;
    *host = NULL;
    if (strncmp(word, "ssh://", 6) != 0) {
        const char *at = strrchr(word, '@');
        if (at == word)
            return argv_fail(ps, "destination \"%s\" has an empty user name", word);
        if (at != NULL) {
            *user = strndup(word, (size_t)(at - word));
            *host = strdup(at + 1);
        } else {
            *host = strdup(word);
        }
        if (*host == NULL || (at != NULL && *user == NULL))
            return argv_fail(ps, "out of memory");
        return 0;
    }
    /* ssh://[user[;params]@]host[:port][/] (no path allowed) */
    const char *s = word + 6;
    const char *at = strchr(s, '@');
    if (at != NULL) {
        const char *semi = memchr(s, ';', (size_t)(at - s));
        const char *uend = semi ? semi : at;
        if (uend == s)
            return argv_fail(ps, "bad ssh:// URI \"%s\": empty user", word);
        char *u = malloc((size_t)(uend - s) + 1), *d = u;
        if (u == NULL)
            return argv_fail(ps, "out of memory");
        for (const char *p = s; p < uend; p++) {
            if (*p == '+') {
                *d++ = ' ';
            } else if (*p == '%') {
                if (p + 2 >= uend || !isxdigit((unsigned char)p[1]) ||
                    !isxdigit((unsigned char)p[2])) {
                    free(u);
                    return argv_fail(ps, "bad ssh:// URI \"%s\": bad escape", word);
                }
                char hex[3] = {p[1], p[2], 0};
                *d++ = (char)strtol(hex, NULL, 16);
                p += 2;
            } else {
                *d++ = *p;
            }
        }
        *d = '\0';
        *user = u;
        s = at + 1;
    }
    /* host: "[...]" or up to ':' or '/' */
    const char *hend;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL)
            return argv_fail(ps, "bad ssh:// URI \"%s\"", word);
        hend = rb + 1;
        if (*hend != '\0' && *hend != ':' && *hend != '/')
            return argv_fail(ps, "bad ssh:// URI \"%s\"", word);
    } else {
        hend = s + strcspn(s, ":/");
    }
    if (hend == s)
        return argv_fail(ps, "bad ssh:// URI \"%s\": no host", word);
    const char *hs = s;
    size_t hl = (size_t)(hend - s);
    if (hl >= 2 && hs[0] == '[' && hs[hl - 1] == ']') {
        hs++;
        hl -= 2;
    }
    /* valid_domain(): letters, digits, '.', '-', '_', starting alnum, no "..". */
    if (hl == 0 || !isalnum((unsigned char)hs[0]))
        return argv_fail(ps, "bad ssh:// URI \"%s\": bad host name", word);
    for (size_t i = 0; i < hl; i++) {
        unsigned char ch = (unsigned char)hs[i];
        if ((ch == '.' && i > 0 && hs[i - 1] == '.') ||
            (ch != '.' && ch != '-' && ch != '_' && !isalnum(ch)))
            return argv_fail(ps, "bad ssh:// URI \"%s\": bad host name", word);
    }
    if (hs[hl - 1] == '.')
        hl--; /* a trailing dot is dropped */
    *host = strndup(hs, hl);
    if (*host == NULL)
        return argv_fail(ps, "out of memory");
    const char *rest = *hend ? hend + 1 : NULL;
    if (rest != NULL && *rest != '\0') {
        if (*hend == ':') {
            size_t pl = strcspn(rest, "/");
            char *ps_ = strndup(rest, pl);
            if (ps_ == NULL)
                return argv_fail(ps, "out of memory");
            *port = argv_a2port(ps_);
            free(ps_);
            if (*port <= 0)
                return argv_fail(ps, "bad ssh:// URI \"%s\": bad port", word);
            rest = rest[pl] == '/' ? rest + pl + 1 : NULL;
        }
        if (rest != NULL && *rest != '\0')
            return argv_fail(ps, "bad ssh:// URI \"%s\": a path is not allowed", word);
    }
    return 0;
}
