/* Identity files as ssh reads them (keyfile.c). */
#ifndef MUXSHIM_KEYFILE_H
#define MUXSHIM_KEYFILE_H

#include <stddef.h>

#define KEY_MAX (64 * 1024) /* the largest identity file read */

/* The whole file (at most KEY_MAX bytes) in a malloc'd NUL-terminated buffer, its length in
 * *len; NULL if missing or too big. The caller wipes and frees it. */
char *keyfile_read(const char *path, size_t *len);
/* 1 if the private key text is encrypted (PEM Proc-Type, PKCS#8 or an openssh-key-v1 cipher
 * other than none), else 0. */
int keyfile_encrypted(const char *text, size_t len);
/* The wire blob of a .pub file ("type base64 comment") into out; its length or -1. */
long keyfile_pub_file(const char *path, unsigned char *out, size_t cap);
/* The public half of identity file keyfile whose text is given: its .pub file, else the
 * openssh-key-v1 key's clear public part; the blob's length, or -1. */
long keyfile_public(const char *keyfile, const char *text, unsigned char *blob, size_t cap);
/* The same, reading keyfile itself when there is no .pub file; the length, or -1. */
long keyfile_identity_public(const char *keyfile, unsigned char *blob, size_t cap);

#endif
