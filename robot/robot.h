/* robot.h: Hetzner's Robot webservice (robot-ws.your-server.de): the server, its rescue boot,
 * resets and the account's SSH keys. HTTP Basic over libcurl, JSON answers via json-c. Never logs,
 * prints or returns in an error the password or the rescue password.
 *
 * Errors name the server number and the endpoint ("POST /reset/321") and say what to do; their
 * classes: a refused login (401), an unknown server (404) and rejected input (400) are usage
 * errors; a rate limit past the allowed wait, a pending manual reset (409), Robot's own failures
 * and maintenance (5xx), transport failures and answers that are not the JSON expected are
 * runtime errors. After a 401 a client sends nothing more: three failed logins block the
 * address for 10 minutes. Each request is logged at debug level as "robot: GET /server/321 → 200",
 * never with its headers or body. */
#pragma once

#include "common/common.h"

#define ROBOT_DEFAULT_URL "https://robot-ws.your-server.de"

/* ---- the web service user (credentials.c) ---- */

struct robot_credentials {
	char *user;
	char *password;
	char *source; /* where they came from, for messages: "NMMM_ROBOT_USER/NMMM_ROBOT_PASSWORD" or the file */
};
/* From NMMM_ROBOT_USER / NMMM_ROBOT_PASSWORD when file is NULL, else from FILE, which must be a
 * regular file owned by the caller (the effective uid) with mode 0600 or stricter: anything else is
 * a usage error naming the file and `chmod 600`. The file holds two lines, the web service user
 * and then its password, each taken verbatim (a password may hold ':' or blanks); a trailing
 * newline (or CRLF) and blank lines after the password are accepted, a third line with text is
 * not. The one-line form "user:password" is refused with a message saying so. Never from argv. */
int robot_credentials_read(const char *file, struct robot_credentials *c, struct nm_error *e);
void robot_credentials_free(struct robot_credentials *c); /* wipes the password (explicit_bzero) */
#define _cleanup_robot_credentials_ _cleanup_(robot_credentials_free)

/* ---- the client (client.c) ---- */

struct robot_client_opts {
	/* CA bundle that verifies Robot's certificate in place of libcurl's default, or NULL. The
	 * static binary's libcurl has no default bundle (scripts/static/libs.sh): the caller passes
	 * --ca-file or img_ca_bundle("/")'s answer. */
	const char *ca_file;
	unsigned rate_limit_wait_max_sec; /* longest total wait on 403 RATE_LIMIT_EXCEEDED; 0 = 900 */
	unsigned timeout_sec; /* per request; 0 = 60 */
	/* told before each wait (rate limit), so the caller can show a countdown/event */
	void (*on_wait)(void *ud, unsigned seconds, const char *why);
	void *ud;
};
#define ROBOT_RATE_LIMIT_WAIT_MAX_SEC 900u
#define ROBOT_TIMEOUT_SEC 60u

struct robot_client;
/* base_url: ROBOT_DEFAULT_URL or --robot-url (a path prefix is kept, trailing '/' dropped).
 * https:// required, except http:// to a loopback address written as one (127.0.0.0/8 or [::1];
 * a name such as localhost is refused: what it resolves to is not checked): tests, a local
 * proxy. Any other http://, a URL with a user name, query or fragment, another scheme are usage
 * errors, decided before anything is sent. The client keeps its own copy of the credentials.
 * o may be NULL (the defaults). */
int robot_client_new(const char *base_url, const struct robot_credentials *c, const struct robot_client_opts *o,
		     struct robot_client **out, struct nm_error *e);
void robot_client_free(struct robot_client *c); /* wipes its copy of the password */
void robot_client_freep(struct robot_client **c);
#define _cleanup_robot_client_ _cleanup_(robot_client_freep)

/* ---- the server (server.c) ---- */

struct robot_server {
	int number;
	char *name;
	char *ipv4; /* NULL when server_ip is null (IPv6-only) */
	char *ipv6_net; /* "2a01:4f8:a:b::" as given */
	char *product;
	char *dc;
	char *status; /* "ready" | "in process" */
	bool cancelled;
};
/* GET /server/N. */
int robot_server_get(struct robot_client *c, int number, struct robot_server *s, struct nm_error *e);
void robot_server_free(struct robot_server *s);
#define _cleanup_robot_server_ _cleanup_(robot_server_free)
/* The address the rescue answers on: ipv4, else ipv6_net's /64 with interface id ::2 (a net
 * given with or without a trailing "::", or with a "/64" suffix), in canonical form
 * ("2a01:4f8:a:b::2"). malloc'd; NULL when the server has neither, the net is not an IPv6
 * address, or out of memory. */
char *robot_server_rescue_address(const struct robot_server *s);

/* ---- the account's SSH keys (keys.c) ---- */

struct robot_key {
	char *name;
	char *fingerprint; /* MD5 "aa:bb:..." */
	char *type; /* "ED25519", "RSA", "ECDSA" */
	char *data; /* the OpenSSH public key line */
};
/* GET /key; 404 NOT_FOUND is an empty list (*keys NULL, *n 0), not an error. */
int robot_keys_list(struct robot_client *c, struct robot_key **keys, size_t *n, struct nm_error *e);
/* POST /key name=&data=; 409 KEY_ALREADY_EXISTS is success: out (may be NULL) is filled from the
 * answer, or, after a 409, has the given name and data and fingerprint/type NULL. */
int robot_key_add(struct robot_client *c, const char *name, const char *data, struct robot_key *out,
		  struct nm_error *e);
void robot_keys_free(struct robot_key *keys, size_t n);
void robot_key_free(struct robot_key *k);
#define _cleanup_robot_key_ _cleanup_(robot_key_free)

/* ---- the rescue boot (rescue.c) ---- */

struct robot_rescue {
	bool active;
	char *os; /* the activated OS ("linux"); NULL when inactive */
	char **os_offered; /* inactive: the choices Robot offers (["linux","vkvm"]), NULL-terminated; else NULL */
	char *password; /* secret: never logged or printed */
	char **authorized_fingerprints; /* MD5 colon hex, NULL-terminated (empty when none) */
	char **host_key_fingerprints; /* MD5 colon hex, NULL-terminated (empty when none) */
};
/* GET /boot/N/rescue. */
int robot_rescue_get(struct robot_client *c, int number, struct robot_rescue *r, struct nm_error *e);
/* POST /boot/N/rescue os=linux&authorized_key[]=FP... (one per fingerprint, in order; fingerprints
 * is NULL-terminated and may be NULL or empty). The rescue of the next boot, with its password. */
int robot_rescue_activate(struct robot_client *c, int number, char *const *fingerprints, struct robot_rescue *r,
			  struct nm_error *e);
/* DELETE /boot/N/rescue. */
int robot_rescue_deactivate(struct robot_client *c, int number, struct nm_error *e);
void robot_rescue_free(struct robot_rescue *r); /* wipes the password */
#define _cleanup_robot_rescue_ _cleanup_(robot_rescue_free)

/* ---- resets (reset.c) ---- */

/* GET /reset/N: the offered types (NULL-terminated; empty when Robot lists none). */
int robot_reset_types(struct robot_client *c, int number, char ***types, struct nm_error *e);
/* The type that restarts a running server, from those offered: "hw" (the reset button: restarts
 * whatever runs, what boots a server into an activated rescue), else "sw" (Ctrl+Alt+Del: needs a
 * running system that honours it); NULL when neither is offered. Never "power" (the ACPI button
 * shuts a running server down), "power_long" (forces it off) or "man" (a technician, taking
 * time): none of them restarts a server on its own, so none is chosen without the operator. */
const char *robot_reset_choose(char *const *types);
/* POST /reset/N type=TYPE. */
int robot_reset(struct robot_client *c, int number, const char *type, struct nm_error *e);
