/* util.c: small helpers the disk library's files share — operator-readable sizes, random
 * UUIDs for the plan, kernel partition names and the kinds of block devices that are never
 * install targets. Pure functions (randomness aside); nothing here touches a device. */
#include "disk/disk.h"
#include "disk/disk-internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

const char *disk_human_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < NM_ELEMENTSOF(units)) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

static int random_bytes(unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = getrandom(buf + got, n - got, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)k;
	}
	return 0;
}

int disk_random_uuid(char out[37])
{
	unsigned char b[16];
	int r = random_bytes(b, sizeof b);
	if (r < 0)
		return r;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

int disk_random_vfat_id(char out[37])
{
	unsigned char b[4];
	int r = random_bytes(b, sizeof b);
	if (r < 0)
		return r;
	snprintf(out, 37, "%02X%02X-%02X%02X", b[0], b[1], b[2], b[3]);
	return 0;
}

char *disk_partition_name(const char *disk, unsigned number)
{
	size_t n = strlen(disk);
	/* The kernel puts a 'p' between a name ending in a digit and the number (nvme0n1p1,
	 * loop0p1, mmcblk0p1, md127p1) and none otherwise (sda1, vda1). */
	bool digit = n > 0 && isdigit((unsigned char)disk[n - 1]);
	return nm_strdup_printf("%s%s%u", disk, digit ? "p" : "", number);
}

const char *disk_virtual_kind(const char *name)
{
	static const struct {
		const char *prefix;
		const char *kind;
	} kinds[] = {
	    {"md", "an md array"},	{"dm-", "a device-mapper volume (LVM, LUKS)"},
	    {"ram", "a RAM disk"},	{"zram", "a compressed RAM disk (zram)"},
	    {"sr", "an optical drive"}, {"nbd", "a network block device"},
	    {"fd", "a floppy drive"},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(kinds); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncmp(name, kinds[i].prefix, n) == 0 &&
		    (name[n] == '\0' || isdigit((unsigned char)name[n]) || kinds[i].prefix[n - 1] == '-'))
			return kinds[i].kind;
	}
	return NULL;
}

json_object *disk_json_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

bool disk_uuid_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool disk_vfat_id_valid(const char *s)
{
	if (!s || strlen(s) != 9 || s[4] != '-')
		return false;
	for (size_t i = 0; i < 9; i++)
		if (i != 4 && !(isdigit((unsigned char)s[i]) || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}
