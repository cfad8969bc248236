/* client.c: the connection to Robot — which base URLs are allowed, one request over libcurl
 * (HTTP Basic, TLS verified, a capped answer), Robot's rate limit waited out within a bound, and
 * the stop after a refused login. The password goes to libcurl as CURLOPT_PASSWORD only: never
 * into a URL, a message or the log; libcurl's verbose output (which shows headers) is never on. */
#include "robot/robot-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#define ANSWER_MAX (1u << 20) /* Robot's answers are a few KiB */
#define CONNECT_TIMEOUT_SEC 30L
#define RATE_LIMIT_DEFAULT_INTERVAL 60 /* when Robot's 403 names no interval */

struct robot_client {
	char *base; /* without a trailing '/' */
	char *shown_base; /* base for messages (nm_url_redact) */
	bool https;
	char *user, *password, *source;
	char *ca_file;
	unsigned wait_max_sec, timeout_sec;
	void (*on_wait)(void *ud, unsigned seconds, const char *why);
	void *ud;
	bool refused; /* Robot answered 401: nothing more is sent (the login lock-out) */
	CURL *curl; /* reused, so that requests share a connection */
	bool curl_global; /* curl_global_init succeeded: cleanup owed */
};

/* ---- the base URL ---- */

/* 127.0.0.0/8 or ::1, written as an address: what a name resolves to is not ours to trust. */
static bool host_is_loopback(const char *host, size_t len)
{
	char buf[64];
	if (len >= sizeof buf)
		return false;
	if (host[0] == '[') {
		if (len < 2 || host[len - 1] != ']')
			return false;
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		struct in6_addr a6;
		return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	memcpy(buf, host, len);
	buf[len] = '\0';
	struct in_addr a4;
	return inet_pton(AF_INET, buf, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* The host of an authority "host[:port]" or "[v6]:port", as [host, host+len). */
static size_t authority_host_len(const char *authority, size_t len)
{
	if (authority[0] == '[') {
		const char *close = memchr(authority, ']', len);
		return close ? (size_t)(close - authority) + 1 : len;
	}
	const char *colon = memchr(authority, ':', len);
	return colon ? (size_t)(colon - authority) : len;
}

static int check_base_url(const char *url, bool *https, struct nm_error *e)
{
	_cleanup_free_ char *shown = nm_url_redact(url);
	if (!shown)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	bool http = strncasecmp(url, "http://", 7) == 0;
	*https = strncasecmp(url, "https://", 8) == 0;
	if (!http && !*https)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "--robot-url %s: Robot is reached over https:// (default %s)",
			       shown, ROBOT_DEFAULT_URL);
	const char *authority = url + (http ? 7 : 8);
	size_t len = strcspn(authority, "/?#");
	if (authority[strcspn(authority, "?#")])
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "--robot-url %s: give the base URL without a query or fragment",
			       shown);
	if (memchr(authority, '@', len))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--robot-url %s: the URL carries a user name; the web service user comes from "
			       "NMMM_ROBOT_USER/NMMM_ROBOT_PASSWORD or the credentials file, never from the URL",
			       shown);
	if (len == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "--robot-url %s: no host", shown);
	if (http && !host_is_loopback(authority, authority_host_len(authority, len)))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--robot-url %s: http:// would send the Robot password in clear; use https://, or "
			       "http:// only to a loopback address written as one (127.0.0.1, [::1]) such as a "
			       "local proxy",
			       shown);
	return 0;
}

/* ---- the client ---- */

void robot_client_free(struct robot_client *c)
{
	if (!c)
		return;
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->curl_global)
		curl_global_cleanup();
	free(c->base);
	free(c->shown_base);
	free(c->user);
	free(c->password);
	free(c->source);
	free(c->ca_file);
	free(c);
}

void robot_client_freep(struct robot_client **c)
{
	robot_client_free(*c);
	*c = NULL;
}

static int client_take_opts(struct robot_client *c, const struct robot_client_opts *o)
{
	static const struct robot_client_opts defaults = {0};
	if (!o)
		o = &defaults;
	c->wait_max_sec = o->rate_limit_wait_max_sec ? o->rate_limit_wait_max_sec : ROBOT_RATE_LIMIT_WAIT_MAX_SEC;
	c->timeout_sec = o->timeout_sec ? o->timeout_sec : ROBOT_TIMEOUT_SEC;
	c->on_wait = o->on_wait;
	c->ud = o->ud;
	if (o->ca_file && !(c->ca_file = strdup(o->ca_file)))
		return -ENOMEM;
	return 0;
}

int robot_client_new(const char *base_url, const struct robot_credentials *cred, const struct robot_client_opts *o,
		     struct robot_client **out, struct nm_error *e)
{
	*out = NULL;
	if (!base_url || !*base_url)
		base_url = ROBOT_DEFAULT_URL;
	if (!cred || !cred->user || !*cred->user || !cred->password || !*cred->password)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "Robot: no web service user and password; set NMMM_ROBOT_USER and NMMM_ROBOT_PASSWORD "
			       "or give a credentials file");
	bool https = false;
	int r = check_base_url(base_url, &https, e);
	if (r < 0)
		return r;
	_cleanup_robot_client_ struct robot_client *c = calloc(1, sizeof *c);
	if (!c)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	c->https = https;
	size_t len = strlen(base_url);
	while (len > 0 && base_url[len - 1] == '/')
		len--;
	c->base = strndup(base_url, len);
	c->user = strdup(cred->user);
	c->password = strdup(cred->password);
	c->source = strdup(cred->source ? cred->source : "NMMM_ROBOT_USER/NMMM_ROBOT_PASSWORD or the credentials file");
	if (!c->base || !c->user || !c->password || !c->source || client_take_opts(c, o) < 0 ||
	    !(c->shown_base = nm_url_redact(c->base)))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return nm_fail(e, NM_ERR_RUNTIME, EIO, "libcurl failed to initialise");
	c->curl_global = true;
	if (!(c->curl = curl_easy_init()))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "libcurl: cannot make a handle (out of memory)");
	*out = NM_TAKE_PTR(c);
	return 0;
}

/* ---- forms ---- */

int robot_form_add(struct nm_buf *form, const char *name, const char *value)
{
	char *escaped = curl_easy_escape(NULL, value, 0);
	if (!escaped)
		return -ENOMEM;
	int r = form->len > 0 ? nm_buf_append(form, "&", 1) : 0;
	if (r == 0)
		r = nm_buf_append(form, name, strlen(name));
	if (r == 0)
		r = nm_buf_append(form, "=", 1);
	if (r == 0)
		r = nm_buf_append(form, escaped, strlen(escaped));
	curl_free(escaped);
	return r;
}

int robot_check_number(int number, struct nm_error *e)
{
	if (number <= 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--robot-server %d: a Robot server number is a positive integer (Robot → Server)",
			       number);
	return 0;
}

/* ---- one request ---- */

/* The body as it arrives, capped. */
struct answer {
	struct nm_buf body;
	bool too_big;
};

static size_t on_answer(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct answer *a = userdata;
	size_t n = size * nmemb;
	int r = nm_buf_append(&a->body, data, n);
	a->too_big = r == -EFBIG;
	return r == 0 ? n : 0;
}

/* The body may hold the rescue password: overwritten before it is freed. */
static void answer_free(struct answer *a)
{
	if (a->body.data)
		explicit_bzero(a->body.data, a->body.len);
	nm_buf_free(&a->body);
}

static int setup_request(struct robot_client *c, const char *method, const char *url, const char *form,
			 struct answer *answer, struct curl_slist *headers, char *errbuf)
{
	CURL *h = c->curl;
	curl_easy_reset(h);
	bool ok = curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->https ? "https" : "http") == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_USERNAME, c->user) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PASSWORD, c->password) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	    (!c->ca_file || curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) == CURLE_OK) &&
	    /* the password travels in clear over http://: never through a proxy, only to loopback */
	    (c->https || curl_easy_setopt(h, CURLOPT_NOPROXY, "*") == CURLE_OK) &&
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)c->timeout_sec) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
			     (long)c->timeout_sec < CONNECT_TIMEOUT_SEC ? (long)c->timeout_sec : CONNECT_TIMEOUT_SEC) ==
		CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_answer) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, answer) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "nmmm-agent") == CURLE_OK;
	if (ok && form)
		ok = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(form)) == CURLE_OK &&
		    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, form) == CURLE_OK;
	if (ok && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
	return ok ? 0 : -EINVAL;
}

/* The parsed body and its error code; a body that is not JSON leaves json NULL. */
static void reply_parse(struct robot_reply *r, const struct nm_buf *answer)
{
	if (!answer->data || answer->len == 0)
		return;
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return;
	json_object *o = json_tokener_parse_ex(tok, answer->data, (int)answer->len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	r->json = o;
	json_object *err = NULL;
	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "error", &err))
		r->code = nm_json_str(err, "code");
}

static int exchange_once(struct robot_client *c, const char *method, const char *path, const char *form,
			 struct robot_reply *r, struct nm_error *e)
{
	*r = (struct robot_reply){0};
	_cleanup_free_ char *url = nm_strdup_printf("%s%s", c->base, path);
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	if (!url || !headers) {
		curl_slist_free_all(headers);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	struct answer answer = {.body = NM_BUF_INIT(ANSWER_MAX)};
	char errbuf[CURL_ERROR_SIZE] = "";
	int ret = 0;
	if (setup_request(c, method, url, form, &answer, headers, errbuf) < 0)
		ret = nm_fail(e, NM_ERR_RUNTIME, EINVAL, "%s%s: libcurl refused an option (no %s support?)",
			      c->shown_base, path, c->https ? "https" : "http");
	CURLcode cr = ret == 0 ? curl_easy_perform(c->curl) : CURLE_OK;
	curl_slist_free_all(headers);
	if (ret == 0 && cr != CURLE_OK) {
		nm_debug("robot: %s %s → %s", method, path, curl_easy_strerror(cr));
		ret = nm_fail(e, NM_ERR_RUNTIME, EIO, "%s %s%s: %s; check the network, and --robot-url if given",
			      method, c->shown_base, path,
			      answer.too_big ? "the answer is larger than 1 MiB"
					     : (*errbuf ? errbuf : curl_easy_strerror(cr)));
	}
	if (ret == 0) {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
		nm_debug("robot: %s %s → %ld", method, path, r->status);
		reply_parse(r, &answer.body);
	}
	answer_free(&answer);
	return ret;
}

/* ---- 401 and the rate limit ---- */

static int refused_login(struct robot_client *c, const char *method, const char *path, struct nm_error *e)
{
	c->refused = true;
	return nm_fail(e, NM_ERR_USAGE, EACCES,
		       "Robot refused the web service credentials of user '%s' (HTTP 401 on %s %s): check %s ("
		       "Robot → Settings → Web service and app settings); three failed logins block this address "
		       "for 10 minutes, so nothing more is sent in this run",
		       c->user, method, path, c->source);
}

static void sleep_sec(unsigned sec)
{
	struct timespec t = {.tv_sec = sec}, left;
	while (nanosleep(&t, &left) < 0 && errno == EINTR)
		t = left;
}

/* The limit Robot names in its 403: max_request (or max_requests, as some answers spell it). */
static int rate_limit_of(json_object *err, const char *key)
{
	json_object *v = NULL;
	if (!err || !json_object_object_get_ex(err, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int(v);
}

/* 0: waited, retry; < 0: the wait allowed is spent (error filled). */
static int rate_limit_wait(struct robot_client *c, const struct robot_reply *r, const char *method, const char *path,
			   unsigned *waited, struct nm_error *e)
{
	json_object *err = NULL;
	json_object_object_get_ex(r->json, "error", &err);
	int limit = rate_limit_of(err, "max_request");
	if (limit == 0)
		limit = rate_limit_of(err, "max_requests");
	int interval = rate_limit_of(err, "interval");
	if (interval <= 0)
		interval = RATE_LIMIT_DEFAULT_INTERVAL;
	char limit_text[96];
	if (limit > 0)
		snprintf(limit_text, sizeof limit_text, "at most %d requests per %d s", limit, interval);
	else
		snprintf(limit_text, sizeof limit_text, "its interval is %d s", interval);
	if (*waited + (unsigned)interval > c->wait_max_sec) {
		time_t at = time(NULL) + interval;
		struct tm tm;
		char when[32];
		gmtime_r(&at, &tm);
		strftime(when, sizeof when, "%H:%M UTC", &tm);
		return nm_fail(e, NM_ERR_RUNTIME, EAGAIN,
			       "Robot's rate limit for %s %s is reached (RATE_LIMIT_EXCEEDED: %s); waited %u s of the "
			       "%u s allowed; try again after %d s (around %s)",
			       method, path, limit_text, *waited, c->wait_max_sec, interval, when);
	}
	char why[256];
	snprintf(why, sizeof why, "Robot's rate limit for %s %s (%s)", method, path, limit_text);
	nm_info("%s: waiting %d s", why, interval);
	if (c->on_wait)
		c->on_wait(c->ud, (unsigned)interval, why);
	sleep_sec((unsigned)interval);
	*waited += (unsigned)interval;
	return 0;
}

int robot_exchange(struct robot_client *c, const char *method, const char *path, const char *form,
		   struct robot_reply *r, struct nm_error *e)
{
	*r = (struct robot_reply){0};
	if (c->refused)
		return nm_fail(
		    e, NM_ERR_USAGE, EACCES,
		    "Robot refused the web service credentials of user '%s' earlier in this run; %s %s is not "
		    "sent: each failed login counts toward the 10-minute block of this address; fix %s, "
		    "then run again",
		    c->user, method, path, c->source);
	unsigned waited = 0;
	for (;;) {
		int ret = exchange_once(c, method, path, form, r, e);
		if (ret < 0)
			return ret;
		if (r->status == 401) {
			robot_reply_free(r);
			return refused_login(c, method, path, e);
		}
		if (r->status != 403 || !r->code || strcmp(r->code, "RATE_LIMIT_EXCEEDED") != 0)
			return 0;
		ret = rate_limit_wait(c, r, method, path, &waited, e);
		robot_reply_free(r);
		if (ret < 0)
			return ret;
	}
}

int robot_call(struct robot_client *c, const struct robot_request *q, struct robot_reply *r, json_object **obj,
	       struct nm_error *e)
{
	*obj = NULL;
	int ret = robot_exchange(c, q->method, q->path, q->form, r, e);
	if (ret < 0)
		return ret;
	if (q->accept_status && r->status == q->accept_status && r->code && strcmp(r->code, q->accept_code) == 0)
		return 1;
	if (r->status < 200 || r->status >= 300)
		return robot_reply_fail(r, q->method, q->path, q->number, e);
	*obj = q->type ? robot_unwrap(r->json, q->type) : r->json;
	if (!*obj) {
		char what[64];
		snprintf(what, sizeof what, "no \"%s\" object", q->type ? q->type : "");
		return robot_malformed(q->method, q->path, r->json ? what : "not JSON", e);
	}
	return 0;
}
