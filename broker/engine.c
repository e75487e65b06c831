/* What differs between libssh2 versions: version, callbacks. */
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
