/* libFuzzer target: the SOCKS 4/4a/5 parser (socksparse.c), fed as the broker and muxssh read
 * a connection: its bytes in pieces whose sizes the input's first byte chooses, each step's
 * bytes taken off once METHOD or REQUEST says how many; then the PermitRemoteOpen check
 * against a list taken from the rest of the input. A request must name a NUL-terminated host
 * inside the buffer and a 16-bit port, and no step may take more than it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socksparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t piece = (size_t)data[0] % 32 + 1, split = data[1] % (size - 1) + 1;
    const uint8_t *in = data + 2;
    size_t len = split < size - 2 ? split : size - 2;
    struct socks_req r;
    memset(&r, 0, sizeof r);
    uint8_t buf[2 * SOCKS_HOST_MAX + 64];
    size_t have = 0, fed = 0;
    int step = SOCKS_MORE;
    while (fed < len && step != SOCKS_BAD && step != SOCKS_REQUEST) {
        size_t n = len - fed < piece ? len - fed : piece;
        if (n > sizeof buf - have)
            break; /* as the callers: a request longer than this is dropped */
        memcpy(buf + have, in + fed, n);
        have += n;
        fed += n;
        for (;;) {
            step = socks_parse(&r, buf, have);
            if (step != SOCKS_METHOD && step != SOCKS_REQUEST)
                break;
            if (r.used == 0 || r.used > have)
                abort(); /* a step took nothing, or more than it had */
            if (step == SOCKS_METHOD) {
                r.method_done = 1;
                memmove(buf, buf + r.used, have - r.used);
                have -= r.used;
                continue;
            }
            if (!memchr(r.host, 0, sizeof r.host) || r.port < 0 || r.port > 65535 ||
                (r.version != 4 && r.version != 5))
                abort();
            break;
        }
    }
    /* PermitRemoteOpen: the rest of the input as the list (NUL-terminated copy) */
    size_t ln = size - 2 - len;
    char *list = malloc(ln + 1);
    if (!list)
        return 0;
    memcpy(list, in + len, ln);
    list[ln] = '\0';
    int ok = socks_permitted(list, step == SOCKS_REQUEST ? r.host : "", r.port);
    if (!list[0] && !ok)
        abort(); /* an empty list permits anything */
    free(list);
    uint8_t reply[10];
    size_t rn = socks_reply(r.version == 4 ? 4 : 5, reply);
    if (rn != 8 && rn != 10)
        abort();
    return 0;
}
