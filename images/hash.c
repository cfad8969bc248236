/* hash.c: the three texts a SHA-256 is written as, and the one parser that reads them all.
 *   SRI    "sha256-" + standard base64 with its padding: 44 characters, the last one '='
 *          (flake.lock's narHash, `nix hash path`)
 *   nix32  52 characters of 0123456789abcdfghijklmnpqrsvwxyz (no e, o, t, u), written from the
 *          last byte of the digest first (fetchTarball's sha256, nix-hash --base32)
 *   hex    64 hexadecimal digits, either case (sha256sum)
 * Worked pair: SHA-256("abc") is nix32 1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s =
 * SRI sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0= = hex ba7816bf…f20015ad.
 * Every digest has exactly one text in each encoding: a text with stray bits (base64 padding
 * bits, a first nix32 digit above 1) is refused, not silently truncated. Pure functions: no
 * I/O, no state. */
#include "images/images-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SRI_PREFIX "sha256-"
#define SRI_BASE64_LEN 44 /* 32 bytes: 43 characters and one '=' */
#define NIX32_LEN 52 /* ceil(256 / 5) */

static const char nix32_digits[] = "0123456789abcdfghijklmnpqrsvwxyz";
static const char base64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int digit_value(const char *digits, char c)
{
	const char *p = c ? strchr(digits, c) : NULL;
	return p ? (int)(p - digits) : -1;
}

void img_hex_encode(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex_decode(const char *text, unsigned char out[IMG_HASH_BYTES])
{
	if (strlen(text) != IMG_SHA256_HEX_LEN)
		return false;
	for (size_t i = 0; i < IMG_HASH_BYTES; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

bool img_sha256_hex_valid(const char *hex)
{
	unsigned char d[IMG_HASH_BYTES];
	return hex && hex_decode(hex, d);
}

/* Digit k of the text (k = 0 first) carries the 5 bits of the digest starting at bit
 * 5 * (51 - k), bit 0 being the lowest bit of byte 0. */
static bool nix32_decode(const char *text, unsigned char out[IMG_HASH_BYTES])
{
	if (strlen(text) != NIX32_LEN)
		return false;
	memset(out, 0, IMG_HASH_BYTES);
	for (size_t k = 0; k < NIX32_LEN; k++) {
		int v = digit_value(nix32_digits, text[k]);
		if (v < 0)
			return false;
		size_t bit = 5 * (NIX32_LEN - 1 - k), i = bit / 8, j = bit % 8;
		out[i] |= (unsigned char)(v << j);
		unsigned carry = (unsigned)v >> (8 - j);
		if (i + 1 < IMG_HASH_BYTES)
			out[i + 1] |= (unsigned char)carry;
		else if (carry)
			return false; /* bits beyond the 256th */
	}
	return true;
}

char *img_hash_to_nix32(const unsigned char d[IMG_HASH_BYTES])
{
	char *s = malloc(NIX32_LEN + 1);
	if (!s)
		return NULL;
	for (size_t k = 0; k < NIX32_LEN; k++) {
		size_t bit = 5 * (NIX32_LEN - 1 - k), i = bit / 8, j = bit % 8;
		unsigned v = (unsigned)d[i] >> j;
		if (i + 1 < IMG_HASH_BYTES)
			v |= (unsigned)d[i + 1] << (8 - j);
		s[k] = nix32_digits[v & 31];
	}
	s[NIX32_LEN] = '\0';
	return s;
}

static bool base64_decode(const char *text, unsigned char out[IMG_HASH_BYTES])
{
	if (strlen(text) != SRI_BASE64_LEN || text[SRI_BASE64_LEN - 1] != '=')
		return false;
	uint32_t acc = 0;
	size_t bits = 0, n = 0;
	for (size_t k = 0; k < SRI_BASE64_LEN - 1; k++) {
		int v = digit_value(base64_digits, text[k]);
		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return n == IMG_HASH_BYTES && acc == 0; /* 43 digits carry 258 bits: the last 2 must be 0 */
}

char *img_hash_to_sri(const unsigned char d[IMG_HASH_BYTES])
{
	size_t prefix = strlen(SRI_PREFIX);
	char *s = malloc(prefix + SRI_BASE64_LEN + 1);
	if (!s)
		return NULL;
	memcpy(s, SRI_PREFIX, prefix);
	char *p = s + prefix;
	for (size_t i = 0; i < IMG_HASH_BYTES; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		size_t have = IMG_HASH_BYTES - i < 3 ? IMG_HASH_BYTES - i : 3;
		if (have > 1)
			v |= (uint32_t)d[i + 1] << 8;
		if (have > 2)
			v |= d[i + 2];
		*p++ = base64_digits[v >> 18 & 63];
		*p++ = base64_digits[v >> 12 & 63];
		*p++ = have > 1 ? base64_digits[v >> 6 & 63] : '=';
		*p++ = have > 2 ? base64_digits[v & 63] : '=';
	}
	*p = '\0';
	return s;
}

char *img_hash_to_hex(const unsigned char d[IMG_HASH_BYTES])
{
	char *s = malloc(IMG_SHA256_HEX_LEN + 1);
	if (s)
		img_hex_encode(d, IMG_HASH_BYTES, s);
	return s;
}

int img_hash_parse(const char *text, const char *what, unsigned char out[IMG_HASH_BYTES], struct nm_error *e)
{
	bool ok = false;
	const char *t = text ? text : "";
	if (strncmp(t, SRI_PREFIX, strlen(SRI_PREFIX)) == 0)
		ok = base64_decode(t + strlen(SRI_PREFIX), out);
	else if (strlen(t) == NIX32_LEN)
		ok = nix32_decode(t, out);
	else if (strlen(t) == IMG_SHA256_HEX_LEN)
		ok = hex_decode(t, out);
	if (ok)
		return 0;
	const char *dash = strchr(t, '-');
	bool other_sri = dash && dash != t && strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789") == (size_t)(dash - t) &&
	    strncmp(t, SRI_PREFIX, strlen(SRI_PREFIX)) != 0;
	return nm_fail(e, NM_ERR_USAGE, EINVAL,
		       "%s: '%.100s' is not a SHA-256%s; give it as SRI (sha256- and 44 base64 characters), nix32 (52 "
		       "characters of 0-9 and a-z without e, o, t, u) or hex (64 digits)",
		       what, t, other_sri ? " (an SRI hash of another algorithm)" : "");
}
