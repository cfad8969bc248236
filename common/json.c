/* json.c: reading the operator's own JSON files (--config). They are not part of the machine,
 * so they are read as given, not under --root. */
#include "common/common.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define JSON_FILE_MAX (1u << 20)

static int read_whole(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *buf = malloc(JSON_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, JSON_FILE_MAX + 1, f) : 0;
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	if (err == 0 && n > JSON_FILE_MAX)
		err = -EFBIG;
	if (err < 0) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

int nm_json_read_file_text(const char *path, const char *what, json_object **out, char **text_out, size_t *len_out,
			   struct nm_error *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_whole(path, &text, &len);
	if (r < 0)
		return nm_fail(e, NM_ERR_USAGE, r, "%s %s: cannot read it: %s", what, path, strerror(-r));
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s %s: out of memory", what, path);
	json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t at = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	bool ok = o && jerr == json_tokener_success;
	for (size_t i = at; ok && i < len; i++)
		ok = isspace((unsigned char)text[i]);
	if (!ok) {
		json_object_put(o);
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s %s: not valid JSON near byte %zu: %s", what, path, at,
			       jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "text after the object");
	}
	*out = o;
	if (text_out) {
		*text_out = text;
		*len_out = len;
		text = NULL;
	}
	return 0;
}

json_object *nm_json_strv(char *const *v)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; v && v[i]; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

const char *nm_json_str(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}
