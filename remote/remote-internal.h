/* remote-internal.h: what the files of remote/ share and nothing outside uses — base64 both ways,
 * a key's decoded blob, the environment ssh runs with, the end of a program's output for a
 * message. */
#pragma once

#include "remote/remote.h"

/* Standard base64 (with its '=' padding, the whole text) to bytes. -EINVAL when it is not
 * base64, -ENOMEM. *out malloc'd. */
int remote_base64_decode(const char *b64, size_t len, unsigned char **out, size_t *out_len);
/* Bytes to standard base64, with or without the '=' padding. malloc'd, NULL when out of memory. */
char *remote_base64_encode(const unsigned char *p, size_t n, bool pad);
/* The key's blob, decoded. */
int remote_key_blob(const struct remote_host_key *k, unsigned char **blob, size_t *len);
/* One SSH wire string (a 32-bit big-endian length, then the bytes) at *p within end: its bytes
 * and length, *p moved past it; false when it does not fit. */
bool remote_wire_string(const unsigned char **p, const unsigned char *end, const unsigned char **s, size_t *len);
/* The last line or two of a program's output (at most ~300 bytes), with control characters and
 * invalid UTF-8 replaced, for an error message; "(no output)" when empty. malloc'd. */
char *remote_output_tail(const char *out, size_t len);
