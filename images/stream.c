/* stream.c: the verified byte stream behind every fetch. libcurl's multi interface is pumped
 * from the reader (no thread, no temp file): bytes arrive in a bounded buffer, are hashed with
 * SHA-256 exactly once and in order, and handed to the caller (a file writer or libarchive).
 * When a connection drops or stalls, the next attempt asks for the rest with a Range request;
 * a server that ignores Range is handled by skipping the bytes already taken. Owns the transfer
 * policy: TLS verification always on, protocols http/https/file, at most 5 redirects, never to
 * file:// and never from https to http, size limits. It never writes to the file system. */
#include "images/images-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#define STREAM_BUF_HIGH (1u << 20) /* pause the transfer while this much waits for the reader */
#define STREAM_CURL_BUFFER 131072L
#define STREAM_FILE_CHUNK (256u << 10) /* read size for file:// */ /* libcurl's receive chunk */
#define STREAM_MAX_REDIRS 5L
#define STREAM_CONNECT_TIMEOUT 30L
#define STREAM_LOW_SPEED 1024L /* bytes/s below which a transfer counts as stalled */
#define STREAM_MAX_BACKOFF_MS 30000u
#define PROGRESS_INTERVAL_MS 250 /* at most 4 updates a second */

static const char *const ca_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Arch, Alpine */
    "/etc/pki/tls/certs/ca-bundle.crt", /* Red Hat, Fedora, CentOS */
};

struct img_stream {
	const struct img_fetch_req *req;
	char *shown; /* req->url for messages: without userinfo and query (nm_url_redact) */
	struct nm_error *e;
	uint64_t max_bytes;
	char *ca_file;
	CURLM *multi;
	CURL *easy;
	EVP_MD_CTX *md;
	int file_fd; /* file:// URLs are read directly (libcurl's file reader cannot pause), -1 otherwise */
	bool in_flight; /* easy is attached to multi */
	bool paused; /* the write callback asked libcurl to hold data */
	bool done; /* every byte of the stream has arrived */
	bool failed; /* an error is recorded in e */
	uint64_t consumed; /* bytes accepted, hashed and handed out */
	uint64_t total; /* announced length of the whole stream, 0 = unknown */
	/* the current attempt */
	unsigned attempt;
	uint64_t attempt_start; /* its Range offset (= consumed when it started) */
	uint64_t attempt_seen; /* body bytes of its response seen so far */
	uint64_t skip; /* bytes of its response to drop: the server ignored Range */
	bool response_checked;
	bool give_up; /* the callback recorded a fatal error in e */
	char status_reason[160]; /* retryable HTTP status, for the message */
	char errbuf[CURL_ERROR_SIZE];
	/* reader buffer */
	unsigned char *buf;
	size_t len, cap;
	int64_t t0_ms, last_progress_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int img_ca_bundle(const char *root, char **path)
{
	*path = NULL;
	for (size_t i = 0; i < NM_ELEMENTSOF(ca_bundles); i++) {
		if (!nm_exists(root, ca_bundles[i]))
			continue;
		char buf[4096];
		int r = nm_root_path(root, ca_bundles[i], buf, sizeof buf);
		if (r < 0)
			return r;
		*path = strdup(buf);
		return *path ? 0 : -ENOMEM;
	}
	return 0;
}

const char *img_stream_url(const struct img_stream *s)
{
	return s->shown;
}

static void stream_fail_flag(struct img_stream *s)
{
	s->failed = true;
	s->give_up = true;
}

/* "bytes START-END/TOTAL" (TOTAL may be '*'); returns false when it is not of that shape. */
static bool parse_content_range(const char *v, uint64_t *start, uint64_t *total)
{
	unsigned long long a, b;
	int used = 0;
	if (sscanf(v, " bytes %llu-%llu/%n", &a, &b, &used) != 2 || used == 0)
		return false;
	*start = a;
	*total = 0;
	if (v[used] != '*' && sscanf(v + used, "%llu", &b) == 1)
		*total = b;
	return true;
}

static bool http_status_retryable(long code)
{
	return code >= 500 || code == 408 || code == 429;
}

/* Checks a length the source announces against the pin, the limit and earlier attempts. */
static int accept_length(struct img_stream *s, uint64_t announced)
{
	const char *url = s->shown;
	if (announced == 0)
		return 0;
	if (s->req->expected_size && announced != s->req->expected_size) {
		stream_fail_flag(s);
		return nm_fail(s->e, NM_ERR_VERIFY, EBADMSG,
			       "%s: the server announces %" PRIu64 " bytes, the pin says %" PRIu64
			       "; the file is not the pinned one",
			       url, announced, s->req->expected_size);
	}
	if (announced > s->max_bytes) {
		stream_fail_flag(s);
		return nm_fail(s->e, NM_ERR_VERIFY, EFBIG,
			       "%s: the server announces %" PRIu64 " bytes, more than the limit of %" PRIu64
			       " (--max-bytes); raise the limit if this file really is that large",
			       url, announced, s->max_bytes);
	}
	if (s->total && announced != s->total) {
		stream_fail_flag(s);
		return nm_fail(s->e, NM_ERR_VERIFY, EBADMSG,
			       "%s: the length changed between attempts (%" PRIu64 ", then %" PRIu64
			       " bytes); the file changed on the server",
			       url, s->total, announced);
	}
	s->total = announced;
	return 0;
}

/* Records what this response announces (length, offset) and rejects what cannot be used. */
static int check_response(struct img_stream *s)
{
	long code = 0;
	char *scheme = NULL;
	curl_off_t cl = -1;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(s->easy, CURLINFO_SCHEME, &scheme);
	curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	const char *url = s->shown;
	uint64_t announced = 0;
	s->response_checked = true;

	if (scheme && strncasecmp(scheme, "http", 4) == 0) {
		if (code >= 400) {
			snprintf(s->status_reason, sizeof s->status_reason, "the server answered HTTP %ld", code);
			if (http_status_retryable(code))
				return -EAGAIN;
			stream_fail_flag(s);
			return nm_fail(s->e, NM_ERR_RUNTIME, ENOENT,
				       "%s: the server answered HTTP %ld; check the URL (or --mirror) and that the "
				       "file is published there",
				       url, code);
		}
		if (code == 206) {
			struct curl_header *h = NULL;
			uint64_t start = 0, total = 0;
			if (curl_easy_header(s->easy, "Content-Range", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
			    !parse_content_range(h->value, &start, &total) || start != s->attempt_start) {
				stream_fail_flag(s);
				return nm_fail(s->e, NM_ERR_RUNTIME, EPROTO,
					       "%s: asked for the bytes from %" PRIu64
					       " on, the server answered another range (%s); use another mirror",
					       url, s->attempt_start, h ? h->value : "no Content-Range");
			}
			announced = total ? total : (cl >= 0 ? start + (uint64_t)cl : 0);
		} else if (code == 200) {
			if (s->attempt_start > 0)
				nm_info("%s: the server ignored the Range request; skipping the %" PRIu64
					" bytes already verified",
					url, s->attempt_start);
			s->skip = s->attempt_start;
			announced = cl >= 0 ? (uint64_t)cl : 0;
		} else {
			stream_fail_flag(s);
			return nm_fail(s->e, NM_ERR_RUNTIME, EPROTO,
				       "%s: unexpected HTTP status %ld; expected 200 or 206", url, code);
		}
	}
	return accept_length(s, announced);
}

static int reserve(struct img_stream *s, size_t need)
{
	if (need <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 65536;
	while (cap < need)
		cap *= 2;
	unsigned char *b = realloc(s->buf, cap);
	if (!b)
		return -ENOMEM;
	s->buf = b;
	s->cap = cap;
	return 0;
}

/* Accepts the next bytes of the stream: limits, buffer, hash. The only way bytes enter it. */
static int take(struct img_stream *s, const char *data, size_t keep)
{
	if (s->consumed + keep > s->max_bytes) {
		stream_fail_flag(s);
		return nm_fail(s->e, NM_ERR_VERIFY, EFBIG,
			       "%s: more than %" PRIu64 " bytes (--max-bytes); stopped; raise the limit if this file "
			       "really is that large",
			       s->shown, s->max_bytes);
	}
	if (s->total && s->consumed + keep > s->total) {
		stream_fail_flag(s);
		return nm_fail(s->e, NM_ERR_VERIFY, EBADMSG, "%s: more bytes than the %" PRIu64 " announced; stopped",
			       s->shown, s->total);
	}
	if (reserve(s, s->len + keep) < 0) {
		stream_fail_flag(s);
		return nm_fail(s->e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory", s->shown);
	}
	if (data != (const char *)s->buf + s->len)
		memcpy(s->buf + s->len, data, keep);
	EVP_DigestUpdate(s->md, data, keep);
	s->len += keep;
	s->consumed += keep;
	return 0;
}

/* libcurl's write callback. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct img_stream *s = userdata;
	size_t n = size * nmemb;
	if (!s->response_checked && check_response(s) < 0)
		return 0;
	if (s->len >= STREAM_BUF_HIGH) {
		s->paused = true; /* libcurl hands the same bytes again after unpausing */
		return CURL_WRITEFUNC_PAUSE;
	}
	size_t drop = 0;
	if (s->attempt_seen < s->skip)
		drop = s->skip - s->attempt_seen < n ? (size_t)(s->skip - s->attempt_seen) : n;
	s->attempt_seen += n;
	size_t keep = n - drop;
	if (keep == 0)
		return n;
	if (take(s, data + drop, keep) < 0)
		return 0;
	return n;
}

static void report_progress(struct img_stream *s, bool done)
{
	if (!s->req->progress)
		return;
	int64_t t = now_ms();
	if (!done && t - s->last_progress_ms < PROGRESS_INTERVAL_MS)
		return;
	s->last_progress_ms = t;
	struct img_progress p = {
	    .bytes = s->consumed,
	    .total = s->total ? s->total : s->req->expected_size,
	    .elapsed_sec = (double)(t - s->t0_ms) / 1000.0,
	    .attempt = s->attempt,
	    .done = done,
	};
	s->req->progress(s->req->progress_data, &p);
}

static int start_attempt(struct img_stream *s)
{
	char range[32];
	s->attempt++;
	s->attempt_start = s->consumed;
	s->attempt_seen = 0;
	s->skip = 0;
	s->response_checked = false;
	s->status_reason[0] = '\0';
	s->errbuf[0] = '\0';
	/* CURLOPT_RANGE rather than RESUME_FROM: libcurl would reject a 200 answer itself, and
	 * we can use one by skipping what we already have. */
	snprintf(range, sizeof range, "%" PRIu64 "-", s->consumed);
	curl_easy_setopt(s->easy, CURLOPT_RANGE, s->consumed > 0 ? range : NULL);
	if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
		s->failed = true;
		return nm_fail(s->e, NM_ERR_RUNTIME, EIO, "%s: libcurl could not start the transfer", s->shown);
	}
	s->in_flight = true;
	return 0;
}

static bool curl_code_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR: return true;
	default: return false;
	}
}

static void describe_failure(struct img_stream *s, CURLcode rc, char *buf, size_t size)
{
	if (s->status_reason[0])
		snprintf(buf, size, "%s", s->status_reason);
	else if (rc == CURLE_OK)
		snprintf(buf, size, "the connection closed after %" PRIu64 " of %" PRIu64 " bytes", s->consumed,
			 s->total);
	else if (rc == CURLE_OPERATION_TIMEDOUT && s->errbuf[0])
		snprintf(buf, size, "stalled or timed out (%s)", s->errbuf);
	else if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		snprintf(buf, size,
			 "refused a redirect or URL scheme (%s); only http, https and file URLs are fetched, "
			 "and redirects never lead to file:// or from https to http",
			 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
		snprintf(buf, size,
			 "TLS verification failed (%s) against the CA bundle %s; pass --ca-file FILE if the "
			 "mirror uses its own CA",
			 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc), s->ca_file ? s->ca_file : "(none)");
	else if (rc == CURLE_TOO_MANY_REDIRECTS)
		snprintf(buf, size, "more than %ld redirects (a redirect loop?)", STREAM_MAX_REDIRS);
	else
		snprintf(buf, size, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
}

static void backoff_sleep(const struct img_stream *s)
{
	unsigned base = s->req->backoff_ms ? s->req->backoff_ms : 500;
	unsigned shift = s->attempt > 1 ? s->attempt - 1 : 0;
	uint64_t ms = (uint64_t)base << (shift > 10 ? 10 : shift);
	if (ms > STREAM_MAX_BACKOFF_MS)
		ms = STREAM_MAX_BACKOFF_MS;
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One attempt ended: the stream is complete, or we retry from where it stopped, or give up. */
static int on_attempt_done(struct img_stream *s, CURLcode rc)
{
	curl_multi_remove_handle(s->multi, s->easy);
	s->in_flight = false;
	s->paused = false;
	int r = 0;
	if (rc == CURLE_OK && !s->response_checked)
		r = check_response(s); /* an empty body never reached the write callback */
	if (s->give_up)
		return -1;
	if (rc == CURLE_OK && r == 0 && (s->total == 0 || s->consumed == s->total)) {
		s->done = true;
		return 0;
	}
	unsigned retries = s->req->retries_set ? s->req->retries : IMG_DEFAULT_RETRIES;
	bool retryable = s->status_reason[0] || rc == CURLE_OK || curl_code_retryable(rc) ||
	    (rc == CURLE_WRITE_ERROR && r == -EAGAIN);
	char why[CURL_ERROR_SIZE + 256];
	describe_failure(s, rc, why, sizeof why);
	if (!retryable || s->attempt > retries) {
		s->failed = true;
		if (!retryable)
			return nm_fail(s->e, NM_ERR_RUNTIME, EIO, "%s: %s", s->shown, why);
		return nm_fail(s->e, NM_ERR_RUNTIME, EIO,
			       "%s: %s; gave up after %u attempts (%" PRIu64
			       " bytes received); check the network or the mirror, or raise --retries",
			       s->shown, why, s->attempt, s->consumed);
	}
	nm_warn("%s: %s; retrying from byte %" PRIu64 " (attempt %u of %u)", s->shown, why, s->consumed, s->attempt + 1,
		retries + 1);
	backoff_sleep(s);
	return start_attempt(s);
}

/* file:// — the local path of the URL (percent-decoded; host empty or localhost). */
static int file_open(struct img_stream *s)
{
	CURLU *u = curl_url();
	char *path = NULL, *host = NULL;
	int r = 0;
	if (!u || curl_url_set(u, CURLUPART_URL, s->req->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK)
		r = nm_fail(s->e, NM_ERR_USAGE, EINVAL, "%s: not a usable file:// URL", s->shown);
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host && strcmp(host, "localhost") != 0)
		r = nm_fail(s->e, NM_ERR_USAGE, EINVAL, "%s: file:// URLs name a local path (file:///path)", s->shown);
	else if ((s->file_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		r = nm_fail(s->e, NM_ERR_RUNTIME, errno, "%s: cannot open %s: %s; check the path (or --mirror)",
			    s->shown, path, strerror(errno));
	struct stat st;
	if (r == 0 && (fstat(s->file_fd, &st) < 0 || !S_ISREG(st.st_mode)))
		r = nm_fail(s->e, NM_ERR_RUNTIME, EINVAL, "%s: %s is not a regular file", s->shown, path);
	s->attempt = 1;
	if (r == 0)
		r = accept_length(s, (uint64_t)st.st_size);
	curl_free(path);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

static int file_pump(struct img_stream *s)
{
	if (reserve(s, s->len + STREAM_FILE_CHUNK) < 0) {
		s->failed = true;
		return nm_fail(s->e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory", s->shown);
	}
	ssize_t n;
	do
		n = read(s->file_fd, s->buf + s->len, STREAM_FILE_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		s->failed = true;
		return nm_fail(s->e, NM_ERR_RUNTIME, errno, "%s: read failed: %s", s->shown, strerror(errno));
	}
	if (n == 0) {
		if (s->consumed != s->total) {
			s->failed = true;
			return nm_fail(s->e, NM_ERR_RUNTIME, EIO, "%s: the file shrank while being read", s->shown);
		}
		s->done = true;
		return 0;
	}
	int r = take(s, (const char *)s->buf + s->len, (size_t)n);
	report_progress(s, false);
	return r;
}

/* Lets libcurl move data until something arrived, the stream ended or it failed. */
static int pump(struct img_stream *s)
{
	int running = 0;
	if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
		s->failed = true;
		return nm_fail(s->e, NM_ERR_RUNTIME, EIO, "%s: libcurl failed to run the transfer", s->shown);
	}
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(s->multi, &left))) {
		if (m->msg == CURLMSG_DONE && on_attempt_done(s, m->data.result) < 0)
			return -1;
	}
	if (s->len == 0 && s->in_flight && !s->paused)
		curl_multi_poll(s->multi, NULL, 0, 200, NULL);
	report_progress(s, false);
	return 0;
}

ssize_t img_stream_read(struct img_stream *s, const void **buf)
{
	s->len = 0;
	*buf = s->buf;
	if (s->paused && !s->failed) {
		s->paused = false;
		curl_easy_pause(s->easy, CURLPAUSE_CONT); /* may refill the buffer at once */
	}
	while (s->len == 0 && !s->done && !s->failed)
		if ((s->file_fd >= 0 ? file_pump(s) : pump(s)) < 0)
			break;
	if (s->failed)
		return s->e->code ? s->e->code : -EIO;
	*buf = s->buf;
	return (ssize_t)s->len;
}

int img_stream_finish(struct img_stream *s, struct img_fetch_result *res)
{
	const void *b;
	ssize_t n;
	while ((n = img_stream_read(s, &b)) > 0)
		;
	if (n < 0)
		return (int)n;
	report_progress(s, true);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_DigestFinal_ex(s->md, md, &mdlen);
	img_hex_encode(md, mdlen, res->sha256);
	res->bytes = s->consumed;
	res->attempts = s->attempt;
	if (s->req->sha256 && strcasecmp(res->sha256, s->req->sha256) != 0) /* else a NAR hash judges */
		return nm_fail(s->e, NM_ERR_VERIFY, EBADMSG,
			       "%s: SHA-256 mismatch: expected %s, got %s (%" PRIu64
			       " bytes); the download is corrupt or the pin is wrong; nothing was kept",
			       s->shown, s->req->sha256, res->sha256, s->consumed);
	if (s->req->expected_size && s->consumed != s->req->expected_size)
		return nm_fail(s->e, NM_ERR_VERIFY, EBADMSG, "%s: %" PRIu64 " bytes, the pin says %" PRIu64, s->shown,
			       s->consumed, s->req->expected_size);
	return 0;
}

static int choose_ca(struct img_stream *s, bool https)
{
	const struct img_fetch_req *req = s->req;
	if (req->ca_file) {
		if (access(req->ca_file, R_OK) < 0)
			return nm_fail(s->e, NM_ERR_USAGE, errno, "--ca-file %s: cannot read it: %s", req->ca_file,
				       strerror(errno));
		s->ca_file = strdup(req->ca_file);
		return s->ca_file ? 0 : -ENOMEM;
	}
	int r = img_ca_bundle(req->root ? req->root : "/", &s->ca_file);
	if (r < 0)
		return nm_fail(s->e, NM_ERR_RUNTIME, r, "cannot look for a CA bundle: %s", strerror(-r));
	if (!s->ca_file && https)
		return nm_fail(s->e, NM_ERR_USAGE, ENOENT,
			       "%s: no CA bundle at %s or %s; pass --ca-file FILE (TLS is always verified)", s->shown,
			       ca_bundles[0], ca_bundles[1]);
	return 0;
}

static int setup_easy(struct img_stream *s, bool https)
{
	CURL *c = s->easy;
	bool ok = curl_easy_setopt(c, CURLOPT_URL, s->req->url) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file") == CURLE_OK &&
	    /* a redirect never leads to file://, and never from https down to http */
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https") == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_MAXREDIRS, STREAM_MAX_REDIRS) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	    (!s->ca_file || curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file) == CURLE_OK) &&
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, s) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, STREAM_CONNECT_TIMEOUT) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, STREAM_LOW_SPEED) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
			     (long)(s->req->stall_sec ? s->req->stall_sec : IMG_DEFAULT_STALL_SEC)) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, STREAM_CURL_BUFFER) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "nmmm-agent") == CURLE_OK;
	if (!ok)
		return nm_fail(s->e, NM_ERR_RUNTIME, EINVAL,
			       "%s: libcurl refused an option (this libcurl lacks http, https or file support?)",
			       s->shown);
	return 0;
}

int img_stream_open(const struct img_fetch_req *req, uint64_t max_bytes, struct nm_error *e, struct img_stream **out)
{
	*out = NULL;
	struct img_stream *s = calloc(1, sizeof *s);
	if (!s)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	s->req = req;
	s->e = e;
	s->shown = nm_url_redact(req->url);
	if (!s->shown) {
		free(s);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	s->max_bytes = max_bytes;
	s->t0_ms = s->last_progress_ms = now_ms();
	s->file_fd = -1;
	bool https = strncasecmp(req->url, "https://", 8) == 0;
	s->md = EVP_MD_CTX_new();
	if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
		img_stream_free(s);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "cannot set up SHA-256");
	}
	int r;
	if (strncasecmp(req->url, "file://", 7) == 0) {
		r = file_open(s);
		if (r < 0) {
			img_stream_free(s);
			return r;
		}
		*out = s;
		return 0;
	}
	r = choose_ca(s, https);
	if (r >= 0) {
		s->multi = curl_multi_init();
		s->easy = curl_easy_init();
		if (!s->multi || !s->easy)
			r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: cannot set up libcurl", s->shown);
	}
	if (r >= 0)
		r = setup_easy(s, https);
	if (r >= 0)
		r = start_attempt(s);
	if (r < 0) {
		img_stream_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void img_stream_free(struct img_stream *s)
{
	if (!s)
		return;
	if (s->in_flight)
		curl_multi_remove_handle(s->multi, s->easy);
	if (s->easy)
		curl_easy_cleanup(s->easy);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	EVP_MD_CTX_free(s->md);
	if (s->file_fd >= 0)
		close(s->file_fd);
	free(s->ca_file);
	free(s->shown);
	free(s->buf);
	free(s);
}
