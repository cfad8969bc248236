/* log.c: the process-wide log sink. The log file gets everything (including the output of the
 * programs nmmm runs); the console gets messages at or above the chosen level, on stderr so
 * that stdout stays machine-readable. Configured once from the parsed options. */
#include "common/common.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static struct {
	FILE *file;
	enum nm_log_level console;
} sink = {NULL, NM_LOG_INFO};

int nm_log_open(const char *path, enum nm_log_level console_level, struct nm_error *e)
{
	sink.console = console_level;
	if (!path)
		return 0;
	FILE *f = fopen(path, "ae");
	if (!f)
		return nm_fail(e, NM_ERR_USAGE, errno,
			       "--log %s: cannot open for appending: %s; choose a writable path", path,
			       strerror(errno));
	setvbuf(f, NULL, _IOLBF, 0);
	sink.file = f;
	return 0;
}

void nm_log_close(void)
{
	if (sink.file)
		fclose(sink.file);
	sink.file = NULL;
}

static const char *level_name(enum nm_log_level l)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	return names[l];
}

void nm_log(enum nm_log_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (sink.file) {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(sink.file, "%s %s: %s\n", ts, level_name(level), msg);
	}
	if (level <= sink.console) {
		if (level <= NM_LOG_WARN)
			fprintf(stderr, "nmmm-agent: %s: %s\n", level_name(level), msg);
		else
			fprintf(stderr, "%s\n", msg);
	}
}

void nm_log_raw(const char *prefix, const char *buf, size_t len)
{
	if (!sink.file || len == 0)
		return;
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		fprintf(sink.file, "  %s| %.*s\n", prefix, (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}
