/* render-internal.h: the text buffer the Nix renderers write into. Nix syntax (attribute paths,
 * brackets, numbers) comes from the renderers' own constant text through nix_out_printf; every
 * value that came from the machine, the plan or the operator goes through nix_out_str (which is
 * net_nix_string) or, in comments, through nix_out_comment, which keeps it on one line. */
#pragma once

#include "netcfg/netcfg.h"

/* A rendered file is a few KiB; past this something fed it an absurd value. */
#define NIX_OUT_MAX (16u << 20)

struct nix_out {
	struct nm_buf text; /* capped at NIX_OUT_MAX */
	int err; /* the first failure (negative errno); later writes do nothing */
	struct nm_error *e;
};

void nix_out_init(struct nix_out *o, struct nm_error *e);
/* Nix syntax from the renderer's own text; never a value from outside (use nix_out_str). */
void nix_out_printf(struct nix_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A value as a Nix string literal; `field` names it in an error. */
void nix_out_str(struct nix_out *o, const char *field, const char *s);
/* "<indent># text\n" with control characters and invalid UTF-8 in the text replaced by '?', so a
 * value quoted in a comment cannot start a new line of Nix. */
void nix_out_comment(struct nix_out *o, const char *indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Hands the text to *out, or frees it and returns the first error. */
int nix_out_finish(struct nix_out *o, char **out);
