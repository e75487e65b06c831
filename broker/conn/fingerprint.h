/* Host key fingerprints as ssh prints them: SHA256 text, key names and sizes, randomart. */
#ifndef MUXSHIM_FINGERPRINT_H
#define MUXSHIM_FINGERPRINT_H

#include <stddef.h>

/* "SHA256:" and the unpadded base64 of the SHA-256 of a key blob (out ≥ 51 bytes). */
void fp_sha256(const unsigned char *blob, size_t len, char *out, size_t outlen);
/* ssh's short name of a wire key type ("ssh-ed25519" → "ED25519", "ssh-rsa" → "RSA"). */
const char *fp_type_label(const char *wire_type);
/* ssh's line for a host key it added to a known_hosts file, ending with "\r\n":
 * "Warning: Permanently added 'NAME' (TYPE) to the list of known hosts." */
void fp_added_line(const char *name, const unsigned char *blob, size_t len, char *out,
                   size_t outlen);
/* Bits of a key blob as sshkey_size counts them (RSA/DSA modulus, ECDSA curve, 256 for
 * Ed25519); 0 if unknown or malformed. */
unsigned fp_key_bits(const unsigned char *blob, size_t len);
/* The drunken-bishop picture ssh-keygen -lv and VisualHostKey draw for a key blob over its
 * SHA-256, without a final newline; 0, or -1 if the blob is malformed. */
int fp_randomart(const unsigned char *blob, size_t len, char *out, size_t outlen);
/* ssh's VisualHostKey lines at login: "Host key fingerprint is SHA256:…\n" and the
 * picture, ending with "\r\n"; 0 or -1. */
int fp_visual_text(const unsigned char *blob, size_t len, char *out, size_t outlen);

#endif
