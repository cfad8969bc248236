/* images-internal.h: private to images/ — the verified byte stream that fetch.c and unpack.c
 * share. Nothing outside this folder includes it. */
#pragma once

#include <sys/types.h>

#include "images/images.h"

/* n bytes as 2n lower-case hex digits and a NUL at out (hash.c). */
void img_hex_encode(const unsigned char *d, size_t n, char *out);

/* One logical download: consecutive HTTP attempts (resumed with Range) glued into one stream
 * of bytes, every byte hashed exactly once, in order. */
struct img_stream;

/* `e` is kept: every later failure of the stream is recorded there. */
int img_stream_open(const struct img_fetch_req *req, uint64_t max_bytes, struct nm_error *e, struct img_stream **out);
/* Next bytes of the stream: > 0 bytes at *buf (valid until the next call), 0 at the verified
 * end of the transfer, < 0 on failure (recorded in the stream's error). */
ssize_t img_stream_read(struct img_stream *s, const void **buf);
/* Reads and hashes whatever is left (after an archive ended early), then compares the SHA-256
 * (when the request names one: with a NAR hash the tree is judged instead) and the size;
 * NM_ERR_VERIFY on a mismatch. Fills res->bytes, attempts and sha256. */
int img_stream_finish(struct img_stream *s, struct img_fetch_result *res);
void img_stream_free(struct img_stream *s);
/* The URL, for messages. */
const char *img_stream_url(const struct img_stream *s);

/* The decompressing stage of unpack, in its own thread (decode.c). */
struct img_decoder;
int img_decoder_start(struct img_stream *s, struct img_decoder **out);
/* Next plain (decompressed) bytes, valid until the next call: > 0, 0 at the end, < 0 when the
 * decoder failed (its error is handed over by img_decoder_stop). */
ssize_t img_decoder_read(struct img_decoder *d, const void **buf);
/* cancel=false: reads to the end and joins; returns the decoder's result and, when `e` is still
 * empty, moves its error there. cancel=true: abandons the rest, joins, returns 0. The stream
 * belongs to the caller again afterwards. */
int img_decoder_stop(struct img_decoder *d, bool cancel, struct nm_error *e);

/* Extracts the archive read from `s` into the existing empty directory `staging` (a canonical
 * path: no symlinks in it), refusing unsafe entries; stops at `max_extracted` bytes. */
int img_unpack(struct img_stream *s, const char *staging, const struct img_fetch_req *req, uint64_t max_extracted,
	       struct img_fetch_result *res, struct nm_error *e);

/* pins.c, for nixpkgs.c: the origin URL's path under a mirror base (its query kept last); a
 * NAR hash in any accepted form as SRI (NULL after a usage error); a pin emptied but for its
 * mirror and test origin. */
char *img_mirrored_url(const char *mirror_url, const char *origin_url);
char *img_nar_hash_normalise(const char *text, const char *what, struct nm_error *e);
void img_nixpkgs_pin_reset(struct img_nixpkgs_pin *p);
