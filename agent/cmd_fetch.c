/* cmd_fetch.c: `nmmm-agent fetch URL (--sha256 HEX | --nar-hash HASH) (--out FILE | --unpack DIR)`
 * — one verified download, as install does it for the Nix tarball (the file's SHA-256) and nixpkgs
 * (the unpacked tree's NAR hash). Parses options, shows
 * progress (a line on a terminal, events with --events) and reports; the work is img_fetch().
 * It never keeps an unverified byte. */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "agent/progress.h"
#include "images/images.h"

static const char fetch_help[] =
    "usage: nmmm-agent fetch URL --sha256 HEX (--out FILE | --unpack DIR) [options]\n"
    "       nmmm-agent fetch URL --nar-hash HASH --unpack DIR [options]\n"
    "options: [--retries N] [--max-bytes N] [--max-entries N] [--ca-file FILE] [--size N]\n"
    "         [--stall-timeout SEC]\n\n"
    "Downloads URL (http, https or file) in one streaming pass: the SHA-256 and, with --unpack,\n"
    "the archive reader (tar with xz, gzip, zstd or bzip2) see the same bytes as they arrive.\n"
    "Nothing is kept unless the hash matches: FILE.part or DIR.part-XXXXXX is renamed into place\n"
    "only then, and removed on any failure. A dropped connection is resumed with a Range request.\n"
    "One hash is mandatory: an unpinned fetch does not exist.\n\n"
    "  --sha256 HEX         the SHA-256 of the file as downloaded (64 hex digits)\n"
    "  --nar-hash HASH      the NAR hash of the unpacked tree, as flake.lock's narHash and\n"
    "                       fetchTarball's sha256 give it: SRI (sha256-...), nix32 or hex; needs\n"
    "                       --unpack. An archive holding one top directory (nixpkgs-REV/) stands\n"
    "                       for that directory, as in Nix: DIR is the tree (DIR/default.nix)\n"
    "  --out FILE           write the verified file to FILE (replaced atomically)\n"
    "  --unpack DIR         extract the verified archive into the new directory DIR; entries with\n"
    "                       absolute paths, '..', escaping symlinks or hardlinks, device nodes,\n"
    "                       FIFOs or setuid/setgid bits make the archive untrusted (exit 4)\n"
    "  --retries N          attempts after the first on a dropped or stalled connection (default 5)\n"
    "  --max-bytes N        limit for the download and for the unpacked total, where each entry\n"
    "                       also counts 512 bytes and its names (default 8G; suffixes K, M, G, T\n"
    "                       are powers of 1024)\n"
    "  --max-entries N      --unpack: at most N archive entries (default 1000000; nixpkgs has\n"
    "                       about 60000)\n"
    "  --size N             the exact expected length (checked before and after the download)\n"
    "  --ca-file FILE       CA bundle (default: /etc/ssl/certs/ca-certificates.crt or\n"
    "                       /etc/pki/tls/certs/ca-bundle.crt); TLS is always verified\n"
    "  --stall-timeout SEC  retry when less than 1 KiB/s arrives for SEC seconds (default 30)\n\n"
    "exit codes: 0 verified, 1 download failed, 2 bad usage, 4 hash, size or archive not trusted\n";

/* "64M" → 67108864; suffixes are powers of 1024. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	static const char suffixes[] = "KMGT";
	const char *u = *end ? strchr(suffixes, *end) : NULL;
	if (*end && (!u || end[1]))
		return -EINVAL;
	unsigned shift = u ? 10u * (unsigned)(u - suffixes + 1) : 0;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	uint64_t v;
	if (parse_size(s, &v) < 0 || v > max || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static void event_done(struct agent_ctx *ctx, const struct img_fetch_req *req, const char *shown,
		       const struct img_fetch_result *res)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "url", json_object_new_string(shown));
	json_object_object_add(f, "bytes", json_object_new_int64((int64_t)res->bytes));
	json_object_object_add(f, "sha256", json_object_new_string(res->sha256));
	json_object_object_add(f, "verified", json_object_new_string(res->have_nar_hash ? "nar_hash" : "sha256"));
	if (res->have_nar_hash) {
		_cleanup_free_ char *sri = img_hash_to_sri(res->nar_hash);
		json_object_object_add(f, "nar_hash", sri ? json_object_new_string(sri) : NULL);
	}
	json_object_object_add(f, "attempts", json_object_new_int((int)res->attempts));
	if (req->unpack_dir) {
		json_object_object_add(f, "unpack", json_object_new_string(req->unpack_dir));
		json_object_object_add(f, "entries", json_object_new_int64((int64_t)res->entries));
		json_object_object_add(f, "extracted_bytes", json_object_new_int64((int64_t)res->extracted_bytes));
	} else {
		json_object_object_add(f, "out", json_object_new_string(req->out_file));
	}
	agent_event(ctx, "fetch", "done", f);
}

static int parse_fetch_args(int argc, char **argv, struct img_fetch_req *req, struct nm_error *e)
{
	enum {
		OPT_SHA = 0x100,
		OPT_NAR,
		OPT_OUT,
		OPT_UNPACK,
		OPT_RETRIES,
		OPT_MAX,
		OPT_MAX_ENTRIES,
		OPT_CA,
		OPT_SIZE,
		OPT_STALL
	};
	static const struct option longopts[] = {
	    {"sha256", required_argument, NULL, OPT_SHA},
	    {"nar-hash", required_argument, NULL, OPT_NAR},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"unpack", required_argument, NULL, OPT_UNPACK},
	    {"retries", required_argument, NULL, OPT_RETRIES},
	    {"max-bytes", required_argument, NULL, OPT_MAX},
	    {"max-entries", required_argument, NULL, OPT_MAX_ENTRIES},
	    {"ca-file", required_argument, NULL, OPT_CA},
	    {"size", required_argument, NULL, OPT_SIZE},
	    {"stall-timeout", required_argument, NULL, OPT_STALL},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	/* permute: the URL may come before or after the options */
	while ((c = getopt_long(argc, argv, "-h", longopts, NULL)) != -1) {
		switch (c) {
		case 1: {
			_cleanup_free_ char *shown = nm_url_redact(optarg);
			if (req->url)
				return agent_usage_error(e, "fetch", "fetch: one URL only ('%s' is extra)",
							 shown ? shown : "?");
			/* the secret stays in memory; the process list shows the URL without it */
			req->url = strdup(optarg);
			if (!req->url)
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
			nm_url_scrub(optarg);
			break;
		}
		case OPT_SHA: req->sha256 = optarg; break;
		case OPT_NAR: req->nar_hash = optarg; break;
		case OPT_OUT: req->out_file = optarg; break;
		case OPT_UNPACK: req->unpack_dir = optarg; break;
		case OPT_CA: req->ca_file = optarg; break;
		case OPT_RETRIES:
			if (parse_uint(optarg, 100, &req->retries) < 0)
				return agent_usage_error(e, "fetch", "fetch: --retries %s: give 0 to 100", optarg);
			req->retries_set = true;
			break;
		case OPT_STALL:
			if (parse_uint(optarg, 3600, &req->stall_sec) < 0 || req->stall_sec == 0)
				return agent_usage_error(e, "fetch",
							 "fetch: --stall-timeout %s: give 1 to 3600 seconds", optarg);
			break;
		case OPT_MAX:
			if (parse_size(optarg, &req->max_bytes) < 0 || req->max_bytes == 0)
				return agent_usage_error(e, "fetch", "fetch: --max-bytes %s: give a size like 512M",
							 optarg);
			break;
		case OPT_MAX_ENTRIES:
			if (parse_size(optarg, &req->max_entries) < 0 || req->max_entries == 0 ||
			    strspn(optarg, "0123456789") != strlen(optarg))
				return agent_usage_error(e, "fetch",
							 "fetch: --max-entries %s: give a count like 100000", optarg);
			break;
		case OPT_SIZE:
			if (parse_size(optarg, &req->expected_size) < 0 || req->expected_size == 0)
				return agent_usage_error(e, "fetch", "fetch: --size %s: give the length in bytes",
							 optarg);
			break;
		case 'h': fputs(fetch_help, stdout); return AGENT_HELP_SHOWN;
		default:
			return agent_usage_error(e, "fetch", "fetch: unknown or incomplete option '%s'",
						 argv[optind - 1]);
		}
	}
	if (!req->url)
		return agent_usage_error(e, "fetch", "fetch: no URL given");
	if (!req->sha256 == !req->nar_hash) {
		_cleanup_free_ char *shown = nm_url_redact(req->url);
		return agent_usage_error(e, "fetch",
					 req->sha256
					     ? "fetch: %s: give one of --sha256 HEX and --nar-hash HASH, not both"
					     : "fetch: %s: --sha256 HEX (the file) or --nar-hash HASH (the "
					       "unpacked tree) is mandatory (an unpinned fetch does not exist)",
					 shown ? shown : "?");
	}
	if (!req->out_file == !req->unpack_dir)
		return agent_usage_error(e, "fetch", "fetch: give exactly one of --out FILE and --unpack DIR");
	if (req->nar_hash && !req->unpack_dir)
		return agent_usage_error(e, "fetch",
					 "fetch: --nar-hash is the hash of an unpacked tree: it needs --unpack DIR "
					 "(a file is verified with --sha256)");
	return 0;
}

int agent_cmd_fetch(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	struct agent_progress view;
	agent_progress_init(&view, ctx, "fetch", NULL);
	struct img_fetch_req req = {.root = ctx->g.root, .progress = agent_progress_update, .progress_data = &view};
	int r = parse_fetch_args(argc, argv, &req, e);
	_cleanup_free_ char *url = (char *)req.url; /* parse_fetch_args copied it */
	if (r != 0)
		return r == AGENT_HELP_SHOWN ? 0 : r;
	/* events and the log name the URL without its userinfo and query */
	_cleanup_free_ char *shown = nm_url_redact(req.url);
	if (!shown)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");

	json_object *f = json_object_new_object();
	json_object_object_add(f, "url", json_object_new_string(shown));
	json_object_object_add(f, req.sha256 ? "sha256" : "nar_hash",
			       json_object_new_string(req.sha256 ? req.sha256 : req.nar_hash));
	agent_event(ctx, "fetch", "start", f);

	struct img_fetch_result res;
	r = img_fetch(&req, &res, e);
	agent_progress_finish(&view, r == 0);
	if (r < 0) {
		json_object *ef = json_object_new_object();
		json_object_object_add(ef, "url", json_object_new_string(shown));
		json_object_object_add(ef, "class", json_object_new_string(nm_err_class_name(e->cls)));
		json_object_object_add(ef, "message", json_object_new_string(e->msg));
		agent_event(ctx, "fetch", "error", ef);
		return r;
	}
	event_done(ctx, &req, shown, &res);
	if (res.have_nar_hash) {
		_cleanup_free_ char *sri = img_hash_to_sri(res.nar_hash);
		nm_info("%s: verified (NAR hash %s of the tree; %" PRIu64 " bytes, %u attempt%s); %" PRIu64
			" entries in %s",
			shown, sri ? sri : "?", res.bytes, res.attempts, res.attempts == 1 ? "" : "s", res.entries,
			req.unpack_dir);
	} else if (req.unpack_dir)
		nm_info("%s: verified (%" PRIu64 " bytes, sha256 %s, %u attempt%s); %" PRIu64 " entries in %s", shown,
			res.bytes, res.sha256, res.attempts, res.attempts == 1 ? "" : "s", res.entries, req.unpack_dir);
	else
		nm_info("%s: verified (%" PRIu64 " bytes, sha256 %s, %u attempt%s); saved as %s", shown, res.bytes,
			res.sha256, res.attempts, res.attempts == 1 ? "" : "s", req.out_file);
	return 0;
}
