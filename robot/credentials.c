/* credentials.c: the Robot web service user and its password, from the environment or from a
 * file of the operator's own that nobody else can read. Never takes them from argv, never puts
 * the password in a message, and overwrites every copy it made (the file's bytes, the struct)
 * before freeing it. */
#include "robot/robot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define CREDENTIALS_FILE_MAX 4096
#define ENV_USER "NMMM_ROBOT_USER"
#define ENV_PASSWORD "NMMM_ROBOT_PASSWORD"
#define WHERE_TO_FIND "the web service user of Robot → Settings → Web service and app settings"

void robot_credentials_free(struct robot_credentials *c)
{
	if (!c)
		return;
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->user);
	free(c->password);
	free(c->source);
	*c = (struct robot_credentials){0};
}

static int credentials_set(struct robot_credentials *c, const char *user, size_t user_len, const char *password,
			   size_t password_len, const char *source, struct nm_error *e)
{
	c->user = strndup(user, user_len);
	c->password = strndup(password, password_len);
	c->source = strdup(source);
	if (!c->user || !c->password || !c->source) {
		robot_credentials_free(c);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	return 0;
}

static int from_env(struct robot_credentials *c, struct nm_error *e)
{
	const char *user = getenv(ENV_USER), *password = getenv(ENV_PASSWORD);
	bool has_user = user && *user, has_password = password && *password;
	if (!has_user || !has_password)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "Robot web service credentials: %s; set " ENV_USER " and " ENV_PASSWORD
			       " (" WHERE_TO_FIND ") or give a credentials file",
			       !has_user && !has_password ? "neither " ENV_USER " nor " ENV_PASSWORD " is set"
				   : !has_user		  ? ENV_USER " is not set"
							  : ENV_PASSWORD " is not set");
	return credentials_set(c, user, strlen(user), password, strlen(password), ENV_USER "/" ENV_PASSWORD, e);
}

/* The line starting at *p (without its "\n" or "\r\n") as [start, start+len); *p moves past it. */
static void next_line(const char **p, const char *end, const char **start, size_t *len)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	const char *stop = nl ? nl : end;
	*start = *p;
	*len = (size_t)(stop - *p);
	if (*len > 0 && (*start)[*len - 1] == '\r')
		(*len)--;
	*p = nl ? nl + 1 : end;
}

/* "user\npassword\n": the text of a file already checked for its owner and mode. */
static int parse_file_text(const char *file, const char *text, size_t len, struct robot_credentials *c,
			   struct nm_error *e)
{
	if (memchr(text, '\0', len))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: holds a NUL byte; it must be two text lines, the web "
			       "service user and then its password",
			       file);
	const char *p = text, *end = text + len, *user, *password;
	size_t user_len, password_len;
	next_line(&p, end, &user, &user_len);
	bool one_line = p == end;
	next_line(&p, end, &password, &password_len);
	if (user_len == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: the first line (the web service user) is empty; write the user on the first "
			       "line and its password on the second",
			       file);
	if (one_line)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: holds one line; write the web service user on the first line and its password on "
			       "the second (the form user:password is not read: a password may contain ':')",
			       file);
	if (password_len == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: the second line (the password) is empty; write the web service user on the first "
			       "line and its password on the second",
			       file);
	if (p + strspn(p, "\r\n") < end)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: holds more than two lines; write only the web service user and its password, one "
			       "per line",
			       file);
	return credentials_set(c, user, user_len, password, password_len, file, e);
}

/* Refuses a file another user could read or replace: the password must be the operator's alone. */
static int check_file(const char *file, const struct stat *st, struct nm_error *e)
{
	if (!S_ISREG(st->st_mode))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: not a regular file; give the file that holds the Robot "
			       "web service user and password",
			       file);
	if (st->st_uid != geteuid())
		return nm_fail(
		    e, NM_ERR_USAGE, EPERM,
		    "%s: owned by uid %u, not by you (uid %u): keep the Robot password in a file of your own "
		    "(chown it, or copy it), then chmod 600 %s",
		    file, (unsigned)st->st_uid, (unsigned)geteuid(), file);
	if (st->st_mode & 077)
		return nm_fail(e, NM_ERR_USAGE, EPERM,
			       "%s: mode %04o lets others read the Robot password; run chmod 600 %s", file,
			       (unsigned)(st->st_mode & 07777), file);
	if (st->st_size > CREDENTIALS_FILE_MAX)
		return nm_fail(e, NM_ERR_USAGE, EFBIG,
			       "%s: %lld bytes, too large for a user and a password; it must be two lines", file,
			       (long long)st->st_size);
	return 0;
}

static int from_file(const char *file, struct robot_credentials *c, struct nm_error *e)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return nm_fail(e, NM_ERR_USAGE, errno, "%s: cannot open the Robot credentials file: %s", file,
			       strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return nm_fail(e, NM_ERR_USAGE, errno, "%s: cannot stat it: %s", file, strerror(errno));
	int r = check_file(file, &st, e);
	if (r < 0)
		return r;
	char text[CREDENTIALS_FILE_MAX + 1];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof text && (n = read(fd, text + len, sizeof text - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = nm_fail(e, NM_ERR_USAGE, errno, "%s: cannot read it: %s", file, strerror(errno));
			break;
		}
		len += (size_t)n;
	}
	if (r == 0 && len > CREDENTIALS_FILE_MAX)
		r = nm_fail(e, NM_ERR_USAGE, EFBIG, "%s: too large for a user and a password; it must be two lines",
			    file);
	if (r == 0)
		r = parse_file_text(file, text, len, c, e);
	explicit_bzero(text, sizeof text);
	return r;
}

int robot_credentials_read(const char *file, struct robot_credentials *c, struct nm_error *e)
{
	*c = (struct robot_credentials){0};
	return file ? from_file(file, c, e) : from_env(c, e);
}
