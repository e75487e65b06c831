/* What differs between libssh2 versions: version, callbacks, the server's auth banner. */
#include "engine.h"

#include <stdio.h>
#include <string.h>

const char *engine_version(void)
{
    return libssh2_version(0);
}

const char *engine_built_version(void)
{
    return LIBSSH2_VERSION;
}

void engine_set_recv(LIBSSH2_SESSION *s,
                     ssize_t (*fn)(libssh2_socket_t, void *, size_t, int, void **))
{
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(s, LIBSSH2_CALLBACK_RECV, (libssh2_cb_generic *)fn);
#else
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_RECV, (void *)fn);
#endif
}

void engine_set_send(LIBSSH2_SESSION *s,
                     ssize_t (*fn)(libssh2_socket_t, const void *, size_t, int, void **))
{
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(s, LIBSSH2_CALLBACK_SEND, (libssh2_cb_generic *)fn);
#else
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_SEND, (void *)fn);
#endif
}

#if LIBSSH2_VERSION_NUM >= 0x010b00
/* One byte as ssh's fmprintf shows it: printable ASCII, tab, newline and carriage return
 * and the bytes of multibyte characters as they are; other control bytes as \ooo. */
static size_t render_byte(unsigned char c, char *out, size_t room)
{
    if ((c >= 0x20 && c != 0x7f) || c == '\n' || c == '\t' || c == '\r') {
        if (room < 2)
            return 0;
        out[0] = (char)c;
        return 1;
    }
    if (room < 5)
        return 0;
    snprintf(out, room, "\\%03o", c);
    return 4;
}
#endif

int engine_banner(LIBSSH2_SESSION *s, char *out, size_t cap)
{
    out[0] = '\0';
#if LIBSSH2_VERSION_NUM >= 0x010b00
    char *b = NULL;
    if (libssh2_userauth_banner(s, &b) != 0 || !b || !*b)
        return 0;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)b; *p; p++) {
        size_t n = render_byte(*p, out + o, cap - o);
        if (!n)
            break;
        o += n;
    }
    out[o] = '\0';
    return o > 0;
#else
    (void)s;
    (void)cap;
    return 0;
#endif
}
