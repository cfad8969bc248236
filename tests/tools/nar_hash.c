/* nar_hash.c: `nar-hash PATH...` prints the NAR hash of each PATH as nix32, SRI and hex, one line
 * each, using img_nar_hash_path — the agent's own implementation, for scripts/bench-nar and for
 * comparing a tree by hand with `nix-hash --type sha256 --base32 PATH`. A test tool: it is built
 * with the tests and never installed. */
#include <stdio.h>

#include "images/images.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: nar-hash PATH...\n", stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct nm_error e = {0};
		unsigned char d[IMG_HASH_BYTES];
		if (img_nar_hash_path(argv[i], d, &e) < 0) {
			fprintf(stderr, "nar-hash: %s\n", e.msg);
			return nm_exit_code(&e);
		}
		_cleanup_free_ char *nix32 = img_hash_to_nix32(d);
		_cleanup_free_ char *sri = img_hash_to_sri(d);
		_cleanup_free_ char *hex = img_hash_to_hex(d);
		if (!nix32 || !sri || !hex)
			return 1;
		printf("%s %s %s  %s\n", nix32, sri, hex, argv[i]);
	}
	return 0;
}
