/* age.c: the age recipient of an ssh-ed25519 host key, as ssh-to-age derives it (what sops-nix and
 * agenix encrypt a new server's secrets to). The Ed25519 public key is the point's y coordinate;
 * the X25519 key age uses is the birationally equivalent Montgomery u = (1 + y) / (1 - y) mod
 * p = 2^255 - 19 (RFC 7748, section 4.1), 32 bytes little-endian, written as bech32 (BIP 173) with
 * the human-readable part "age". Only public keys pass through here; it does no I/O.
 *
 * Worked example (RFC 7748): the Ed25519 base point has y = 4/5, encoded 58 66 66 .. 66; it maps
 * to u = 9, the X25519 base point, whose recipient is the bech32 of 09 00 .. 00. */
#include "remote/remote-internal.h"

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>

#define AGE_KEY_BYTES 32

/* ---- bech32 (BIP 173): 5-bit groups, a BCH checksum over the HRP and the data ---- */

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t bech32_polymod(const unsigned char *v, size_t n)
{
	static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
	uint32_t chk = 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t top = chk >> 25;
		chk = (chk & 0x1ffffff) << 5 ^ v[i];
		for (int j = 0; j < 5; j++)
			if (top >> j & 1)
				chk ^= gen[j];
	}
	return chk;
}

/* "age1" + the 32 bytes as 52 groups of 5 bits (the last padded with zeros) + 6 checksum
 * characters. The checksum runs over the HRP expanded (high bits, 0, low bits), the data and six
 * zeros, xored with 1 (bech32, not bech32m). */
static char *bech32_age(const unsigned char key[AGE_KEY_BYTES])
{
	static const char hrp[] = "age";
	enum { HRP = sizeof hrp - 1, DATA = (AGE_KEY_BYTES * 8 + 4) / 5 };
	unsigned char v[HRP * 2 + 1 + DATA + 6] = {0};
	for (size_t i = 0; i < HRP; i++) {
		v[i] = (unsigned char)hrp[i] >> 5;
		v[HRP + 1 + i] = (unsigned char)hrp[i] & 31;
	}
	unsigned char *data = v + HRP * 2 + 1;
	uint32_t acc = 0;
	int bits = 0;
	size_t g = 0;
	for (size_t i = 0; i < AGE_KEY_BYTES; i++) {
		acc = acc << 8 | key[i];
		for (bits += 8; bits >= 5; bits -= 5)
			data[g++] = acc >> (bits - 5) & 31;
	}
	if (bits > 0)
		data[g++] = acc << (5 - bits) & 31;
	uint32_t chk = bech32_polymod(v, sizeof v) ^ 1;
	char *s = malloc(HRP + 1 + DATA + 6 + 1);
	if (!s)
		return NULL;
	memcpy(s, "age1", 4);
	char *o = s + 4;
	for (size_t i = 0; i < DATA; i++)
		*o++ = bech32_charset[data[i]];
	for (int i = 0; i < 6; i++)
		*o++ = bech32_charset[chk >> (5 * (5 - i)) & 31];
	*o = '\0';
	return s;
}

/* ---- the Montgomery u of an Ed25519 point ---- */

struct age_field {
	BN_CTX *ctx;
	BIGNUM *p, *d, *y, *a, *b, *c;
};

static void age_field_free(struct age_field *f)
{
	BIGNUM *all[] = {f->p, f->d, f->y, f->a, f->b, f->c};
	for (size_t i = 0; i < NM_ELEMENTSOF(all); i++)
		BN_free(all[i]);
	BN_CTX_free(f->ctx);
}

/* p = 2^255 - 19 and d = -121665 / 121666 mod p, the curve's constant. */
static bool age_field_init(struct age_field *f)
{
	f->ctx = BN_CTX_new();
	BIGNUM **all[] = {&f->p, &f->d, &f->y, &f->a, &f->b, &f->c};
	for (size_t i = 0; i < NM_ELEMENTSOF(all); i++)
		*all[i] = BN_new();
	return f->ctx && f->p && f->d && f->y && f->a && f->b && f->c && BN_set_bit(f->p, 255) &&
	    BN_sub_word(f->p, 19) && BN_set_word(f->a, 121665) && BN_set_word(f->b, 121666) &&
	    BN_mod_inverse(f->c, f->b, f->p, f->ctx) && BN_mod_mul(f->d, f->a, f->c, f->p, f->ctx) &&
	    BN_sub(f->d, f->p, f->d);
}

enum age_point { AGE_POINT_OK, AGE_POINT_NOT_ON_CURVE, AGE_POINT_IDENTITY, AGE_POINT_ERROR };

/* y from the encoding (the top bit is x's sign; a y >= p is taken mod p, as ssh-to-age's
 * edwards25519 decoding does). The point exists when x^2 = (y^2 - 1) / (d y^2 + 1) has a root:
 * 0, or a square (Euler: r^((p-1)/2) = 1). y = 1 is the neutral point, which has no u. */
static enum age_point age_point_y(struct age_field *f, const unsigned char enc[AGE_KEY_BYTES])
{
	unsigned char le[AGE_KEY_BYTES];
	memcpy(le, enc, sizeof le);
	le[31] &= 0x7f;
	if (!BN_lebin2bn(le, sizeof le, f->y) || !BN_nnmod(f->y, f->y, f->p, f->ctx))
		return AGE_POINT_ERROR;
	/* a = y^2 - 1, b = d y^2 + 1, c = a / b, then a = c^((p-1)/2) */
	if (!BN_mod_sqr(f->c, f->y, f->p, f->ctx) || !BN_mod_mul(f->b, f->d, f->c, f->p, f->ctx) ||
	    !BN_add_word(f->b, 1) || !BN_nnmod(f->b, f->b, f->p, f->ctx) || !BN_sub_word(f->c, 1) ||
	    !BN_nnmod(f->a, f->c, f->p, f->ctx))
		return AGE_POINT_ERROR;
	if (BN_is_zero(f->b))
		return AGE_POINT_NOT_ON_CURVE;
	if (!BN_mod_inverse(f->c, f->b, f->p, f->ctx) || !BN_mod_mul(f->c, f->a, f->c, f->p, f->ctx))
		return AGE_POINT_ERROR;
	if (!BN_is_zero(f->c)) {
		if (!BN_copy(f->b, f->p) || !BN_sub_word(f->b, 1) || !BN_rshift1(f->b, f->b) ||
		    !BN_mod_exp(f->a, f->c, f->b, f->p, f->ctx))
			return AGE_POINT_ERROR;
		if (!BN_is_one(f->a))
			return AGE_POINT_NOT_ON_CURVE;
	}
	return BN_is_one(f->y) ? AGE_POINT_IDENTITY : AGE_POINT_OK;
}

/* u = (1 + y) / (1 - y) mod p, 32 bytes little-endian. */
static bool age_montgomery_u(struct age_field *f, unsigned char u[AGE_KEY_BYTES])
{
	return BN_one(f->a) && BN_mod_sub(f->a, f->a, f->y, f->p, f->ctx) && BN_mod_inverse(f->b, f->a, f->p, f->ctx) &&
	    BN_copy(f->c, f->y) && BN_add_word(f->c, 1) && BN_mod_mul(f->a, f->c, f->b, f->p, f->ctx) &&
	    BN_bn2lebinpad(f->a, u, AGE_KEY_BYTES) == AGE_KEY_BYTES;
}

/* The 32 bytes of an ssh-ed25519 blob: string "ssh-ed25519", string of 32 bytes, nothing more. */
static int age_ed25519_point(const struct remote_host_key *k, unsigned char pt[AGE_KEY_BYTES], struct nm_error *e)
{
	if (strcmp(k->type, "ssh-ed25519") != 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "host key %s: age recipients come from ssh-ed25519 keys only, this one is %s", k->sha256,
			       k->type);
	_cleanup_free_ unsigned char *blob = NULL;
	size_t len = 0;
	int r = remote_key_blob(k, &blob, &len);
	if (r < 0)
		return nm_fail(e, r == -ENOMEM ? NM_ERR_RUNTIME : NM_ERR_USAGE, -r,
			       "host key %s: its key data is not base64", k->sha256);
	const unsigned char *p = blob, *s;
	size_t n;
	if (!remote_wire_string(&p, blob + len, &s, &n) || !remote_wire_string(&p, blob + len, &s, &n) ||
	    n != AGE_KEY_BYTES || p != blob + len)
		return nm_fail(e, NM_ERR_VERIFY, EINVAL, "host key %s: not a 32-byte Ed25519 key", k->sha256);
	memcpy(pt, s, AGE_KEY_BYTES);
	return 0;
}

int remote_age_recipient(const struct remote_host_key *k, char **out, struct nm_error *e)
{
	*out = NULL;
	unsigned char pt[AGE_KEY_BYTES], u[AGE_KEY_BYTES];
	int r = age_ed25519_point(k, pt, e);
	if (r < 0)
		return r;
	_cleanup_(age_field_free) struct age_field f = {0};
	if (!age_field_init(&f))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	switch (age_point_y(&f, pt)) {
	case AGE_POINT_OK: break;
	case AGE_POINT_NOT_ON_CURVE:
		return nm_fail(e, NM_ERR_VERIFY, EINVAL, "host key %s: its 32 bytes are not a point of Ed25519",
			       k->sha256);
	case AGE_POINT_IDENTITY:
		return nm_fail(e, NM_ERR_VERIFY, EINVAL, "host key %s: the neutral point, not a key", k->sha256);
	default: return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (!age_montgomery_u(&f, u))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	*out = bech32_age(u);
	return *out ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}
