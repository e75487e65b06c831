/* X11 forwarding, the client's part: the display's cookie from xauth, in the client's own
 * environment (DISPLAY, XAUTHORITY), as OpenSSH's client_x11_get_proto gets it. */
#ifndef MUXSHIM_X11_H
#define MUXSHIM_X11_H

#include <stdint.h>

#include "proto.h"

/* Answer X11_AUTH (flags: X11_* and the LogLevel in bits 8-15; timeout: ForwardX11Timeout
 * in seconds; xauth: XAuthLocation) with X11_AUTH_REPLY on sock, saying on stderr what ssh
 * says. 0, or -1 with err when the broker cannot be told. */
int x11_auth(int sock, uint32_t flags, uint32_t timeout, const struct pstr *xauth, char *err,
             size_t errlen);

#endif
