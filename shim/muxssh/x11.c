/* X11 forwarding, the client's part: xauth run as ssh runs it (through the shell, in our
 * environment), with its warnings in ssh's words. The display itself is connected for each
 * x11 channel as any incoming channel is (incoming.c). */
#include "x11.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

#define X11_PROTO "MIT-MAGIC-COOKIE-1"
#define X11_TIMEOUT_SLACK 60 /* an untrusted cookie outlives ForwardX11Timeout by this */

/* Say a line on stderr as ssh's log does ("\r\n"), when level is within the LogLevel. */
static void say(int loglevel, int level, const char *text)
{
    if (loglevel >= level)
        fprintf(stderr, "%s\r\n", text);
}

/* ssh's client_x11_display_valid: letters, digits and ":/.-_" only. */
static int display_valid(const char *d)
{
    for (; *d; d++)
        if (!isalnum((unsigned char)*d) && !strchr(":/.-_", *d))
            return 0;
    return 1;
}

/* The first line of `cmd`'s output, as "%*s PROTO DATA": 1 with proto and data, else 0. */
static int read_list(const char *cmd, char *proto, char *data)
{
    char line[512];
    int got = 0;
    FILE *f = popen(cmd, "r");
    if (f && fgets(line, sizeof line, f) && sscanf(line, "%*s %511s %511s", proto, data) == 2)
        got = 1;
    if (f)
        pclose(f);
    explicit_bzero(line, sizeof line);
    return got;
}

int x11_auth(int sock, uint32_t flags, uint32_t timeout, const struct pstr *xauth_loc, char *err,
             size_t errlen)
{
    int loglevel = (int)(flags >> 8 & 255), trusted = (flags & X11_TRUSTED) != 0;
    char proto[512] = "", data[512] = "", xauth[PATH_MAX] = "";
    char xdisplay[512], dir[PATH_MAX] = "", file[PATH_MAX + 16] = "", cmd[3 * PATH_MAX];
    const char *display = getenv("DISPLAY");
    int got = 0, generated = 0, ok = 0;
    struct stat st;

    if (!display || !display_valid(display)) {
        if (display) {
            snprintf(cmd, sizeof cmd, "DISPLAY \"%s\" invalid; disabling X11 forwarding", display);
            say(loglevel, 3, cmd);
        }
        goto reply;
    }
    if (proto_str_copy(xauth_loc, xauth, sizeof xauth) < 0 || stat(xauth, &st) < 0)
        xauth[0] = '\0'; /* ssh: "No xauth program." */
    if (xauth[0]) {
        /* xauth lists a local display's cookie as unix:N, not localhost:N */
        if (!strncmp(display, "localhost:", 10))
            snprintf(xdisplay, sizeof xdisplay, "unix:%s", display + 10);
        else
            snprintf(xdisplay, sizeof xdisplay, "%s", display);
        if (!trusted) {
            const char *tmp = getenv("TMPDIR");
            if (!tmp || snprintf(dir, sizeof dir, "%s/ssh-XXXXXXXXXXXX", tmp) >= (int)sizeof dir)
                snprintf(dir, sizeof dir, "/tmp/ssh-XXXXXXXXXXXX");
            if (!mkdtemp(dir)) {
                fprintf(stderr, "client_x11_get_proto: mkdtemp: %s\r\n", strerror(errno));
                goto reply;
            }
            snprintf(file, sizeof file, "%s/xauthfile", dir);
            if (timeout == 0)
                snprintf(cmd, sizeof cmd,
                         "%s -f %s generate %s " X11_PROTO " untrusted 2>/dev/null", xauth, file,
                         xdisplay);
            else
                snprintf(cmd, sizeof cmd,
                         "%s -f %s generate %s " X11_PROTO " untrusted timeout %u 2>/dev/null",
                         xauth, file, xdisplay,
                         timeout < UINT_MAX - X11_TIMEOUT_SLACK ? timeout + X11_TIMEOUT_SLACK
                                                                : UINT_MAX);
            fflush(stdout);
            generated = system(cmd) == 0;
        }
        if (trusted || generated) {
            snprintf(cmd, sizeof cmd, "%s %s%s list %s 2>/dev/null", xauth, generated ? "-f " : "",
                     generated ? file : "", xdisplay);
            got = read_list(cmd, proto, data);
        }
        if (dir[0]) {
            unlink(file);
            rmdir(dir);
        }
    }
    if (!trusted && !got) {
        say(loglevel, 2,
            "Warning: untrusted X11 forwarding setup failed: xauth key data not "
            "generated");
        goto reply;
    }
    if (!got) {
        unsigned char rnd[16];
        say(loglevel, 3,
            "Warning: No xauth data; using fake authentication data for X11 "
            "forwarding.");
        snprintf(proto, sizeof proto, X11_PROTO);
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            goto reply;
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(data + 2 * i, sizeof data - 2 * i, "%02x", rnd[i]);
    }
    ok = 1;
reply:;
    int rc = client_x11_auth_reply(sock, ok, ok ? proto : "", ok ? data : "", err, errlen);
    explicit_bzero(data, sizeof data);
    return rc;
}
