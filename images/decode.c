/* decode.c: the first stage of unpacking, in its own thread — reads the verified stream
 * (download and SHA-256 happen there), decompresses it with libarchive (xz, gzip, zstd, bzip2
 * or none, as the "raw" format) and hands the plain tar bytes to the extracting thread through
 * a few fixed blocks. Two stages like `xz -dc | tar -x`, so decompression and writing files
 * overlap on two cores, with memory bounded by the blocks. It never writes to the file system
 * and never touches the extractor's error record: its own failure is kept until the join. */
#include "images/images-internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#define DECODE_BLOCKS 8
#define DECODE_BLOCK_SIZE (256u << 10)

struct img_decoder {
	struct img_stream *s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned char *data; /* DECODE_BLOCKS blocks of DECODE_BLOCK_SIZE */
	size_t len[DECODE_BLOCKS];
	int full[DECODE_BLOCKS]; /* FIFO of filled block indices */
	unsigned full_head, full_count;
	int free_list[DECODE_BLOCKS];
	unsigned free_count;
	int held; /* block the extractor is reading, -1 none */
	bool finished; /* the decoder thread is done (end or failure) */
	bool cancelled; /* the extractor gave up: stop early */
	int result;
	struct nm_error err; /* the decoder's own failure (decompression) */
};

static la_ssize_t read_stream(struct archive *a, void *userdata, const void **buf)
{
	struct img_decoder *d = userdata;
	pthread_mutex_lock(&d->lock);
	bool cancelled = d->cancelled;
	pthread_mutex_unlock(&d->lock);
	if (cancelled) {
		archive_set_error(a, ECANCELED, "cancelled");
		return -1;
	}
	ssize_t n = img_stream_read(d->s, buf);
	if (n < 0) {
		archive_set_error(a, EIO, "download failed");
		return -1;
	}
	return (la_ssize_t)n;
}

/* A free block to fill, or -1 when the extractor cancelled. */
static int take_free(struct img_decoder *d)
{
	pthread_mutex_lock(&d->lock);
	while (d->free_count == 0 && !d->cancelled)
		pthread_cond_wait(&d->changed, &d->lock);
	int idx = d->cancelled ? -1 : d->free_list[--d->free_count];
	pthread_mutex_unlock(&d->lock);
	return idx;
}

static void push_full(struct img_decoder *d, int idx, size_t len)
{
	pthread_mutex_lock(&d->lock);
	d->len[idx] = len;
	d->full[(d->full_head + d->full_count) % DECODE_BLOCKS] = idx;
	d->full_count++;
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
}

static int decode_all(struct img_decoder *d, struct archive *a)
{
	const char *url = img_stream_url(d->s);
	if (archive_read_support_format_raw(a) != ARCHIVE_OK || archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK || archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(a) != ARCHIVE_OK)
		return nm_fail(&d->err, NM_ERR_RUNTIME, ENOTSUP,
			       "this libarchive lacks xz, gzip, zstd or bzip2 support");
	struct archive_entry *ent;
	if (archive_read_open(a, d, NULL, read_stream, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(a, &ent) != ARCHIVE_OK)
		return nm_fail(&d->err, NM_ERR_VERIFY, EBADMSG, "%s: decompressing: %s", url,
			       archive_error_string(a) ? archive_error_string(a) : "no data");
	for (;;) {
		int idx = take_free(d);
		if (idx < 0)
			return -ECANCELED;
		la_ssize_t n = archive_read_data(a, d->data + (size_t)idx * DECODE_BLOCK_SIZE, DECODE_BLOCK_SIZE);
		if (n < 0)
			return nm_fail(&d->err, NM_ERR_VERIFY, EBADMSG, "%s: decompressing: %s", url,
				       archive_error_string(a) ? archive_error_string(a) : "error");
		if (n == 0) {
			pthread_mutex_lock(&d->lock);
			d->free_list[d->free_count++] = idx;
			pthread_mutex_unlock(&d->lock);
			return 0;
		}
		push_full(d, idx, (size_t)n);
	}
}

static void *decoder_main(void *userdata)
{
	struct img_decoder *d = userdata;
	struct archive *a = archive_read_new();
	int r = a ? decode_all(d, a) : nm_fail(&d->err, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (a)
		archive_read_free(a);
	pthread_mutex_lock(&d->lock);
	d->finished = true;
	d->result = r;
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int img_decoder_start(struct img_stream *s, struct img_decoder **out)
{
	*out = NULL;
	struct img_decoder *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->s = s;
	d->held = -1;
	d->data = malloc((size_t)DECODE_BLOCKS * DECODE_BLOCK_SIZE);
	for (int i = 0; i < DECODE_BLOCKS; i++)
		d->free_list[d->free_count++] = i;
	if (!d->data || pthread_mutex_init(&d->lock, NULL) != 0) {
		free(d->data);
		free(d);
		return -ENOMEM;
	}
	pthread_cond_init(&d->changed, NULL);
	int r = pthread_create(&d->thread, NULL, decoder_main, d);
	if (r != 0) {
		pthread_cond_destroy(&d->changed);
		pthread_mutex_destroy(&d->lock);
		free(d->data);
		free(d);
		return -r;
	}
	*out = d;
	return 0;
}

ssize_t img_decoder_read(struct img_decoder *d, const void **buf)
{
	pthread_mutex_lock(&d->lock);
	if (d->held >= 0) {
		d->free_list[d->free_count++] = d->held;
		d->held = -1;
		pthread_cond_broadcast(&d->changed);
	}
	while (d->full_count == 0 && !d->finished)
		pthread_cond_wait(&d->changed, &d->lock);
	ssize_t n;
	if (d->full_count > 0) {
		d->held = d->full[d->full_head];
		d->full_head = (d->full_head + 1) % DECODE_BLOCKS;
		d->full_count--;
		*buf = d->data + (size_t)d->held * DECODE_BLOCK_SIZE;
		n = (ssize_t)d->len[d->held];
	} else {
		n = d->result < 0 ? d->result : 0;
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}

int img_decoder_stop(struct img_decoder *d, bool cancel, struct nm_error *e)
{
	pthread_mutex_lock(&d->lock);
	if (cancel)
		d->cancelled = true;
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
	if (!cancel) {
		const void *b;
		while (img_decoder_read(d, &b) > 0) /* what follows the tar's end is still hashed */
			;
	}
	pthread_join(d->thread, NULL);
	int r = d->result;
	if (r < 0 && !cancel && e->cls == NM_ERR_NONE && d->err.cls != NM_ERR_NONE)
		*e = d->err;
	pthread_cond_destroy(&d->changed);
	pthread_mutex_destroy(&d->lock);
	free(d->data);
	free(d);
	return cancel ? 0 : r;
}
