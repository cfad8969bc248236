/* install-options.c: the options that decide what an install builds and where, recorded in its
 * state file at the first run, so that `install --resume` carries on the same install. A resume
 * takes every recorded option it is not given again; one given with another value (a config file
 * whose contents changed, too) is refused naming the option and both values, before anything
 * runs: a resume never mixes the plan, files and system of one run with the options of another.
 * Per-invocation options (--yes, --until, --detach, --no-reboot) are not recorded. The --config
 * file's digest is that of the bytes the run parsed (agent_config_read, once per run), so the
 * record and the install cannot disagree about what the file said.
 * What is recorded holds no secret: a URL keeps its scheme, host and path (nm_url_redact) and,
 * when that dropped credentials or a query, the SHA-256 of the whole URL to compare against. */
#include "agent/install.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum recorded_kind {
	REC_TEXT, /* a plain value */
	REC_URL, /* may carry credentials: recorded redacted, compared by digest */
	REC_FILE, /* a path whose contents count: recorded with their digest */
	REC_CONFIG, /* the --config file: like REC_FILE, the digest of what the run read */
	REC_FLAG, /* a switch without a --no- form: given now and not before is a difference */
	REC_LIST, /* repeatable (--ssh-key) */
};

struct recorded_option {
	const char *flag; /* as the operator types it */
	enum recorded_kind kind;
	size_t offset; /* in struct install_opts */
};

#define REC(flag, kind, field)                                                                                         \
	{                                                                                                              \
		flag, kind, offsetof(struct install_opts, field)                                                       \
	}

static const struct recorded_option recorded[] = {
    REC("--config", REC_CONFIG, config_path),
    REC("--disks", REC_TEXT, disks),
    REC("--mirror", REC_URL, mirror),
    REC("--target", REC_TEXT, target),
    REC("--uplink", REC_TEXT, uplink),
    REC("--hostname", REC_TEXT, hostname),
    REC("--ssh-key", REC_LIST, ssh_keys),
    REC("--ssh-key-file", REC_FILE, ssh_key_file),
    REC("--nix-tarball", REC_URL, nix_tarball),
    REC("--nix-sha256", REC_TEXT, nix_sha256),
    REC("--nixpkgs", REC_URL, nixpkgs),
    REC("--nixpkgs-hash", REC_TEXT, nixpkgs_hash),
    REC("--nixpkgs-release", REC_TEXT, nixpkgs_release),
    REC("--nixpkgs-from", REC_FILE, nixpkgs_from),
    REC("--nixpkgs-node", REC_TEXT, nixpkgs_node),
    REC("--substituters", REC_URL, substituters),
    REC("--ca-file", REC_FILE, ca_file),
    REC("--nix-from-path", REC_FLAG, nix_from_path),
    REC("--build-in-target", REC_FLAG, build_in_target),
    REC("--discard", REC_FLAG, discard),
};

#define OPT_FIELD(o, rec, type) ((type *)((char *)(o) + (rec)->offset))

static bool is_file(const struct recorded_option *rec)
{
	return rec->kind == REC_FILE || rec->kind == REC_CONFIG;
}

/* The digest of a file option's contents; for --config, of what the run read and parsed. */
static int file_digest(const struct recorded_option *rec, const char *path, const struct agent_config *config,
		       char **hex, struct nm_error *e)
{
	if (rec->kind == REC_CONFIG) {
		*hex = config->sha256 ? strdup(config->sha256) : NULL;
		return *hex ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	const char *flag = rec->flag;
	_cleanup_free_ char *text = NULL, *abs = realpath(path, NULL); /* relative to where the operator is */
	size_t len = 0;
	int r = abs ? nm_read_file("/", abs, 64u << 20, &text, &len) : -errno;
	if (r < 0)
		return nm_fail(e, NM_ERR_USAGE, r, "%s %s: cannot read: %s", flag, path, strerror(-r));
	*hex = agent_sha256_hex(text, len);
	return *hex ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

/* The record of one text-like option: a string, or {"value", "sha256"} where the value alone
 * would not identify it (a redacted URL, a file's contents). */
static int record_one(const struct recorded_option *rec, const char *value, const struct agent_config *config,
		      json_object **out, struct nm_error *e)
{
	_cleanup_free_ char *shown = rec->kind == REC_URL ? nm_url_redact(value) : strdup(value);
	if (!shown)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	_cleanup_free_ char *digest = NULL;
	if (is_file(rec)) {
		int r = file_digest(rec, value, config, &digest, e);
		if (r < 0)
			return r;
	} else if (rec->kind == REC_URL && strcmp(shown, value) != 0) {
		digest = agent_sha256_hex(value, strlen(value));
		if (!digest)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (!digest) {
		*out = json_object_new_string(shown);
		return 0;
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "value", json_object_new_string(shown));
	json_object_object_add(*out, "sha256", json_object_new_string(digest));
	return 0;
}

json_object *install_options_record(const struct install_opts *o, const struct agent_config *config, struct nm_error *e)
{
	json_object *all = json_object_new_object();
	for (size_t i = 0; i < NM_ELEMENTSOF(recorded); i++) {
		const struct recorded_option *rec = &recorded[i];
		json_object *v = NULL;
		if (rec->kind == REC_FLAG) {
			v = json_object_new_boolean(*OPT_FIELD(o, rec, bool));
		} else if (rec->kind == REC_LIST) {
			v = nm_json_strv(*OPT_FIELD(o, rec, char **));
		} else {
			const char *value = *OPT_FIELD(o, rec, const char *);
			if (!value)
				continue;
			if (record_one(rec, value, config, &v, e) < 0) {
				json_object_put(all);
				return NULL;
			}
		}
		json_object_object_add(all, rec->flag + 2, v);
	}
	return all;
}

static const char *recorded_value(json_object *v)
{
	json_object *inner = NULL;
	if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "value", &inner))
		return json_object_get_string(inner);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *recorded_digest(json_object *v)
{
	json_object *inner = NULL;
	if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "sha256", &inner))
		return json_object_get_string(inner);
	return NULL;
}

static int differs(const char *flag, const char *was, const char *now, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_USAGE, EINVAL,
		       "--resume: %s is %s now but was %s in the install being resumed; resume with the same "
		       "options (or leave %s out to keep it), or start over without --resume",
		       flag, now, was, flag);
}

static int given_now_only(const struct recorded_option *rec, const char *now, struct nm_error *e)
{
	_cleanup_free_ char *shown = rec->kind == REC_URL ? nm_url_redact(now) : strdup(now);
	return differs(rec->flag, "not given", shown ? shown : "?", e);
}

/* An option given again on resume: the same value, or the same digest, or a refusal. */
static int compare_one(const struct recorded_option *rec, json_object *was, const char *now,
		       const struct agent_config *config, struct nm_error *e)
{
	const char *was_value = recorded_value(was), *was_digest = recorded_digest(was);
	_cleanup_free_ char *now_digest = NULL;
	if (is_file(rec)) {
		int r = file_digest(rec, now, config, &now_digest, e);
		if (r < 0)
			return r;
		if (was_digest && strcmp(was_digest, now_digest) != 0)
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "--resume: %s %s: the file changed since the install being resumed read it; "
				       "put back what it said then, or start over without --resume",
				       rec->flag, now);
		return 0; /* the same contents under another path is the same option */
	}
	if (was_digest) {
		now_digest = agent_sha256_hex(now, strlen(now));
		if (!now_digest)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		if (strcmp(was_digest, now_digest) == 0)
			return 0;
	} else if (was_value && strcmp(was_value, now) == 0) {
		return 0;
	}
	_cleanup_free_ char *shown = rec->kind == REC_URL ? nm_url_redact(now) : strdup(now);
	return differs(rec->flag, was_value ? was_value : "?", shown ? shown : "?", e);
}

/* An option not given on resume takes the recorded value (borrowed from the state, which lives
 * as long as the run). A secret URL was not recorded whole: it must be given again. */
static int adopt_one(const struct recorded_option *rec, json_object *was, struct install_opts *o, struct nm_error *e)
{
	if (rec->kind == REC_URL && recorded_digest(was))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--resume: the install being resumed used %s %s with credentials or a query, which "
			       "nmmm does not write down; give %s again",
			       rec->flag, recorded_value(was), rec->flag);
	const char *value = recorded_value(was);
	if (!value)
		return nm_fail(e, NM_ERR_RUNTIME, EBADMSG, "--resume: the state's record of %s is not readable",
			       rec->flag);
	*OPT_FIELD(o, rec, const char *) = value;
	return 0;
}

static int resume_list(const struct recorded_option *rec, json_object *was, struct install_opts *o, struct nm_error *e)
{
	char ***now = OPT_FIELD(o, rec, char **);
	size_t n_was = json_object_is_type(was, json_type_array) ? json_object_array_length(was) : 0;
	if (!*now) {
		for (size_t k = 0; k < n_was; k++)
			if (nm_strv_push(now, json_object_get_string(json_object_array_get_idx(was, k))) < 0)
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		return 0;
	}
	bool same = nm_strv_len(*now) == n_was;
	for (size_t k = 0; same && k < n_was; k++)
		same = strcmp((*now)[k], json_object_get_string(json_object_array_get_idx(was, k))) == 0;
	if (!same)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--resume: the %s keys differ from the %zu given to the install being resumed; give "
			       "the same ones (or none, to keep them), or start over without --resume",
			       rec->flag, n_was);
	return 0;
}

int install_options_resume(json_object *was_all, struct install_opts *o, struct agent_config *config,
			   struct nm_error *e)
{
	if (!json_object_is_type(was_all, json_type_object))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--resume: the state file records no options (written by an older nmmm-agent); "
			       "start over without --resume");
	for (size_t i = 0; i < NM_ELEMENTSOF(recorded); i++) {
		const struct recorded_option *rec = &recorded[i];
		json_object *was = NULL;
		bool have = json_object_object_get_ex(was_all, rec->flag + 2, &was);
		int r = 0;
		if (rec->kind == REC_FLAG) {
			bool was_on = have && json_object_get_boolean(was);
			bool *now = OPT_FIELD(o, rec, bool);
			if (*now && !was_on)
				r = differs(rec->flag, "not given", "given", e);
			*now = was_on;
		} else if (rec->kind == REC_LIST) {
			r = resume_list(rec, was, o, e);
		} else {
			const char *now = *OPT_FIELD(o, rec, const char *);
			bool adopted = !now && have;
			if (now && !have)
				r = given_now_only(rec, now, e);
			else if (adopted)
				r = adopt_one(rec, was, o, e);
			/* The config is read here, once, under the path given or adopted. */
			if (r == 0 && rec->kind == REC_CONFIG)
				r = agent_config_read(*OPT_FIELD(o, rec, const char *), config, e);
			/* An adopted file is compared too: the resumed run reads it again. */
			if (r == 0 && have && (now || is_file(rec)))
				r = compare_one(rec, was, *OPT_FIELD(o, rec, const char *), config, e);
		}
		if (r < 0)
			return r;
	}
	return 0;
}
