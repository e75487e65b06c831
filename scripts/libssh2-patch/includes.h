/* Stands in for OpenSSH's includes.h when sntrup761.c from Debian's openssh source is
 * compiled into libssh2 (scripts/libssh2.sh): only what that file needs. */
#ifndef LIBSSH2_PQ_INCLUDES_H
#define LIBSSH2_PQ_INCLUDES_H
#define USE_SNTRUP761X25519 1
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#endif
