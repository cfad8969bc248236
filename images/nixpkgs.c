/* nixpkgs.c: fetching the pinned nixpkgs tree from the first source that gives a tree with the
 * pinned NAR hash, and reading a pin from a flake.lock. Every source is verified the same way
 * (img_fetch with the NAR hash): where the bytes came from never matters, only the tree. */
#include "images/images-internal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GITHUB "https://github.com"
#define RELEASES "https://releases.nixos.org"
#define CHANNELS "https://channels.nixos.org"
#define WHY_MAX 160 /* of each source's failure in the combined message */

void img_sources_free(struct img_source *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].url);
	free(s);
}

static int add_source(struct img_source **s, size_t *n, char *url, bool channel)
{
	if (!url)
		return -ENOMEM;
	struct img_source *grown = realloc(*s, (*n + 1) * sizeof **s);
	if (!grown) {
		free(url);
		return -ENOMEM;
	}
	*s = grown;
	(*s)[(*n)++] = (struct img_source){.url = url, .channel = channel};
	return 0;
}

/* An origin of the pin: the real base and the path under it (the mirror keeps the path). */
struct origin {
	const char *base; /* GITHUB, RELEASES, CHANNELS */
	char *path;
	bool channel;
};

/* The channel tarball holding the pin's rev, when one is known: the compiled-in pin names its
 * channel release; a flake.lock input following a NixOS branch has the branch's current channel,
 * which holds the rev only while the branch has not moved on (.git-revision tells). */
static int channel_origin(const struct img_nixpkgs_pin *p, struct origin *o)
{
	bool nixos_repo = p->owner && p->repo && strcmp(p->owner, "NixOS") == 0 && strcmp(p->repo, "nixpkgs") == 0;
	if (!p->rev || !nixos_repo)
		return 0;
	o->channel = true;
	if (p->channel && p->release) {
		o->base = RELEASES;
		o->path = nm_strdup_printf("/nixos/%s/%s/nixexprs.tar.xz", p->release, p->channel);
	} else if (p->branch && strncmp(p->branch, "nixos-", 6) == 0 && !strchr(p->branch, '/')) {
		o->base = CHANNELS;
		o->path = nm_strdup_printf("/%s/nixexprs.tar.xz", p->branch);
	} else {
		return 0;
	}
	return o->path ? 0 : -ENOMEM;
}

char *img_nixpkgs_archive_url(const struct img_nixpkgs_pin *p)
{
	if (!p->rev)
		return p->url ? strdup(p->url) : NULL;
	return nm_strdup_printf(GITHUB "/%s/%s/archive/%s.tar.gz", p->owner ? p->owner : "NixOS",
				p->repo ? p->repo : "nixpkgs", p->rev);
}

int img_nixpkgs_sources(const struct img_nixpkgs_pin *p, struct img_source **out, size_t *n, struct nm_error *e)
{
	*out = NULL;
	*n = 0;
	if (!p->rev && !p->url)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "the nixpkgs pin names neither a rev nor a URL");
	struct origin origins[2] = {{0}, {0}};
	int r = 0;
	if (p->rev) {
		origins[0].base = GITHUB;
		origins[0].path = nm_strdup_printf("/%s/%s/archive/%s.tar.gz", p->owner ? p->owner : "NixOS",
						   p->repo ? p->repo : "nixpkgs", p->rev);
		r = origins[0].path ? channel_origin(p, &origins[1]) : -ENOMEM;
	}
	/* A tree named by URL is its own origin; the mirror takes its path. */
	for (size_t i = 0; r == 0 && p->mirror && i < 2; i++)
		if (origins[i].path || (i == 0 && p->url)) {
			_cleanup_free_ char *real = origins[i].path
			    ? nm_strdup_printf("%s%s", origins[i].base, origins[i].path)
			    : strdup(p->url);
			r = real ? add_source(out, n, img_mirrored_url(p->mirror, real), origins[i].channel) : -ENOMEM;
		}
	if (r == 0 && !p->rev)
		r = add_source(out, n, strdup(p->url), false);
	for (size_t i = 0; r == 0 && i < 2; i++)
		if (origins[i].path)
			r = add_source(out, n,
				       nm_strdup_printf("%s%s", p->origin_base ? p->origin_base : origins[i].base,
							origins[i].path),
				       origins[i].channel);
	free(origins[0].path);
	free(origins[1].path);
	if (r < 0) {
		img_sources_free(*out, *n);
		*out = NULL;
		*n = 0;
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	return 0;
}

/* A regular file's first line, trimmed; NULL when it is absent or not a plain file. */
static char *first_line(const char *dir, const char *name)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/%s", dir, name);
	struct stat st;
	if (!path || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	char *text = NULL;
	size_t len = 0;
	if (nm_read_file("/", path, 4096, &text, &len) < 0)
		return NULL;
	text[strcspn(text, "\r\n")] = '\0';
	return text;
}

/* What the channel scripts add to the git tree (PINS.md: nixos/lib/make-channel.nix and the
 * channel mirror script), each removed only when it has the shape they give it. programs.sqlite
 * (command-not-found's database) goes too: nothing verifies it. */
static int remove_addition(const char *root, const char *name, mode_t type, const char *link_target, struct nm_error *e)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/%s", root, name);
	if (!path)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0; /* not every channel has every addition */
	char target[8] = "";
	bool shaped = (st.st_mode & S_IFMT) == type;
	if (shaped && link_target) {
		ssize_t n = readlink(path, target, sizeof target - 1);
		shaped = n >= 0 && (target[n] = '\0', strcmp(target, link_target) == 0);
	}
	if (!shaped)
		return nm_fail(e, NM_ERR_VERIFY, EBADMSG,
			       "the channel tarball's %s is not what a channel adds (%s); not a NixOS channel tree",
			       name, link_target ? "a symlink to ." : "a plain file");
	if (unlink(path) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot remove: %s", path, strerror(errno));
	return 0;
}

/* tree_prepare for a channel tarball: it must be of the pinned rev, and what remains after its
 * additions are removed must be the git tree (whose NAR hash the pin is). This is derived from
 * the published channel scripts; it was not checked against a real nixexprs.tar.xz here. */
static int channel_prepare(void *data, const char *root, struct nm_error *e)
{
	const char *rev = data;
	_cleanup_free_ char *got = first_line(root, ".git-revision");
	if (!got)
		return nm_fail(e, NM_ERR_VERIFY, EBADMSG,
			       "the channel tarball has no .git-revision: not a NixOS channel");
	if (strcmp(got, rev) != 0)
		return nm_fail(e, NM_ERR_VERIFY, EBADMSG,
			       "the channel tarball is of rev %.64s, the pin is %s (the channel has moved on or is "
			       "another one)",
			       got, rev);
	static const struct {
		const char *name;
		mode_t type;
		const char *link;
	} additions[] = {
	    {".git-revision", S_IFREG, NULL},
	    {".version-suffix", S_IFREG, NULL},
	    {"nixpkgs", S_IFLNK, "."},
	    {"programs.sqlite", S_IFREG, NULL},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(additions); i++) {
		int r = remove_addition(root, additions[i].name, additions[i].type, additions[i].link, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One line of the combined refusal: the source (redacted) and the first WHY_MAX bytes of why. */
static int note_failure(char **notes, size_t i, const char *url, const struct nm_error *why)
{
	_cleanup_free_ char *shown = nm_url_redact(url);
	char *more = nm_strdup_printf("%s\n  %zu. %s: %.*s%s", *notes ? *notes : "", i + 1, shown ? shown : "?",
				      WHY_MAX, why->msg, strlen(why->msg) > WHY_MAX ? "..." : "");
	if (!more)
		return -ENOMEM;
	free(*notes);
	*notes = more;
	return 0;
}

static char *pin_shown(const struct img_nixpkgs_pin *p)
{
	_cleanup_free_ char *url = p->url ? nm_url_redact(p->url) : NULL;
	return nm_strdup_printf("%s%s%s %s", p->branch ? p->branch : "", p->branch ? " " : "",
				p->rev	  ? p->rev
				    : url ? url
					  : "?",
				p->nar_hash);
}

int img_nixpkgs_fetch(const struct img_nixpkgs_pin *p, const struct img_fetch_req *base, const char *dest, char **used,
		      struct nm_error *e)
{
	struct img_source *src = NULL;
	size_t n = 0;
	int r = img_nixpkgs_sources(p, &src, &n, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *notes = NULL;
	bool any_mismatch = false;
	for (size_t i = 0; i < n; i++) {
		struct img_fetch_req req = *base;
		req.url = src[i].url;
		req.sha256 = NULL;
		req.nar_hash = p->nar_hash;
		req.out_file = NULL;
		req.unpack_dir = dest;
		req.tree_prepare = src[i].channel ? channel_prepare : NULL;
		req.tree_prepare_data = p->rev;
		struct img_fetch_result res = {0};
		struct nm_error why = {0};
		_cleanup_free_ char *shown = nm_url_redact(src[i].url);
		nm_info("fetch: nixpkgs from %s", shown ? shown : "?");
		if (img_fetch(&req, &res, &why) == 0) {
			*used = strdup(src[i].url);
			img_sources_free(src, n);
			return *used ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		}
		nm_warn("fetch: %s", why.msg);
		any_mismatch = any_mismatch || why.cls == NM_ERR_VERIFY;
		if (note_failure(&notes, i, src[i].url, &why) < 0) {
			img_sources_free(src, n);
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		}
	}
	img_sources_free(src, n);
	_cleanup_free_ char *pin = pin_shown(p);
	return nm_fail(e, any_mismatch ? NM_ERR_VERIFY : NM_ERR_RUNTIME, any_mismatch ? EBADMSG : EIO,
		       "nixpkgs (%s, %s): no source gave the pinned tree; no disk was touched. Pass --mirror URL "
		       "(a directory laid out like the origin, e.g. NixOS/nixpkgs/archive/REV.tar.gz), --nixpkgs URL "
		       "--nixpkgs-hash HASH, or --nixpkgs-from FILE (your deploy repository's flake.lock). Tried:%s",
		       p->origin ? p->origin : "pin", pin ? pin : "?", notes ? notes : " nothing");
}

int img_nixpkgs_tree_release(const char *tree, char **release, struct nm_error *e)
{
	_cleanup_free_ char *v = first_line(tree, ".version");
	if (!v) {
		/* nixpkgs' own .version is a symlink to lib/.version */
		_cleanup_free_ char *lib = nm_strdup_printf("%s/lib", tree);
		v = lib ? first_line(lib, ".version") : NULL;
	}
	if (v && strlen(v) >= 5)
		v[5] = '\0'; /* "26.11pre-git" is the 26.11 line */
	if (!v || !img_release_valid(v))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "the nixpkgs tree has no readable .version (YY.MM): give its release with "
			       "--nixpkgs-release YY.MM (it becomes system.stateVersion)");
	*release = NM_TAKE_PTR(v);
	return 0;
}
