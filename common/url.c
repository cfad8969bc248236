/* url.c: how a URL is shown. A mirror URL may carry credentials in its userinfo or a token in
 * its query; those reach the transfer and nothing else — every URL that is written, logged or
 * emitted goes through nm_url_redact first. It never parses a URL for use, only for showing. */
#include "common/common.h"

#include <string.h>

/* The parts of a URL that may hold a secret, as offsets into it. */
struct url_parts {
	size_t authority; /* start of the authority (after "scheme://"), 0 without a scheme */
	size_t host; /* start of the host: after the userinfo's '@', = authority without one */
	size_t path; /* end of the authority */
	size_t query; /* the '?' (or the end) */
	size_t fragment; /* the '#' (or the end) */
	size_t end;
};

static void url_split(const char *url, struct url_parts *p)
{
	*p = (struct url_parts){0};
	const char *sep = strstr(url, "://");
	size_t scheme_len = sep ? (size_t)(sep - url) : 0;
	if (sep && scheme_len > 0 &&
	    strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") == scheme_len)
		p->authority = scheme_len + 3;
	p->end = strlen(url);
	p->path = p->authority + strcspn(url + p->authority, "/?#");
	p->host = p->authority;
	for (size_t i = p->authority; i < p->path; i++)
		if (url[i] == '@')
			p->host = i + 1; /* the last '@': a password may hold an unescaped one */
	p->fragment = p->path + strcspn(url + p->path, "#");
	const char *q = memchr(url + p->path, '?', p->fragment - p->path);
	p->query = q ? (size_t)(q - url) : p->fragment;
}

static char *redact_one(const char *url)
{
	struct url_parts p;
	url_split(url, &p);
	return nm_strdup_printf("%.*s%s%.*s%s", (int)p.authority, url, p.host > p.authority ? "***@" : "",
				(int)(p.query - p.host), url + p.host, p.fragment > p.query + 1 ? "?***" : "");
}

static void scrub_one(char *url)
{
	struct url_parts p;
	url_split(url, &p);
	if (p.host > p.authority)
		memset(url + p.authority, '*', p.host - 1 - p.authority);
	if (p.end > p.query + 1)
		memset(url + p.query + 1, '*', p.end - p.query - 1);
}

#define URL_LIST_SEPARATORS " \t"

/* A value may be a list of URLs separated by blanks (--substituters, Nix's form): each one is
 * shown, or scrubbed, on its own, so a secret in the second is hidden like one in the first. */
char *nm_url_redact(const char *url)
{
	if (!url)
		return strdup("");
	if (!strpbrk(url, URL_LIST_SEPARATORS))
		return redact_one(url);
	char *out = strdup("");
	for (const char *s = url; out && *s;) {
		size_t blank = strspn(s, URL_LIST_SEPARATORS), word = strcspn(s + blank, URL_LIST_SEPARATORS);
		_cleanup_free_ char *one = word ? strndup(s + blank, word) : strdup("");
		_cleanup_free_ char *shown = one ? redact_one(one) : NULL;
		char *joined = shown ? nm_strdup_printf("%s%.*s%s", out, (int)blank, s, shown) : NULL;
		free(out);
		out = joined;
		s += blank + word;
	}
	return out;
}

void nm_url_scrub(char *url)
{
	for (char *s = url; s && *s;) {
		s += strspn(s, URL_LIST_SEPARATORS);
		size_t word = strcspn(s, URL_LIST_SEPARATORS);
		char keep = s[word];
		s[word] = '\0';
		scrub_one(s);
		s[word] = keep;
		s += word;
	}
}
