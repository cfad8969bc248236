/* predict.c: the interface name systemd's net_id builtin will give a NIC on the installed
 * NixOS (NamePolicy "kernel database onboard slot path", so onboard beats slot beats path),
 * worked out from sysfs under --root: eno<acpi_index|index>, ens<hotplug slot>,
 * enp<bus>s<slot> in decimal, P<domain> prefix, f<function> for multi-function devices,
 * n<phys_port_name> or d<dev_port>, u<port>... for USB NICs, virtio named by its PCI parent.
 * Not covered: SR-IOV virtual functions (v<N>), PCI ARI function numbers, bridge-slot lookups
 * of newer naming schemes, BCMA/CCW/platform/devicetree names, the MAC fallback (enx…, not
 * in NixOS' default NamePolicy). It only reads sysfs; it never renames anything. */
#include "netcfg/netcfg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "netcfg/netcfg-internal.h"

/* systemd ignores firmware onboard indexes above this as rubbish */
#define ONBOARD_INDEX_MAX (16u * 1024u - 1u)

struct pci_addr {
	unsigned domain, bus, slot, func;
};

/* "0000:23:00.0" → {0, 0x23, 0, 0}; false for anything else (usb1, virtio0, pci0000:00). */
static bool parse_pci_addr(const char *s, struct pci_addr *a)
{
	int end = 0;
	if (sscanf(s, "%4x:%2x:%2x.%1u%n", &a->domain, &a->bus, &a->slot, &a->func, &end) != 4)
		return false;
	return (size_t)end == strlen(s) && end == 12;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Cuts `path` (a device path relative to root) back to its nearest PCI device; false when no
 * component is one. */
static bool nearest_pci_device(char *path, struct pci_addr *a)
{
	for (;;) {
		if (parse_pci_addr(base_name(path), a))
			return true;
		char *slash = strrchr(path, '/');
		if (!slash || slash == path)
			return false;
		*slash = '\0';
	}
}

/* The bus a device sits on (its subsystem link); a device directory named like a PCI
 * address is PCI even when a damaged tree lacks the link. */
static int device_subsystem(const char *root, const char *dev, char **subsystem)
{
	char rel[PATH_MAX];
	struct pci_addr a;
	snprintf(rel, sizeof rel, "%s/subsystem", dev);
	if (nm_readlink_base(root, rel, subsystem) == 0)
		return 0;
	if (!parse_pci_addr(base_name(dev), &a))
		return -ENOENT;
	*subsystem = strdup("pci");
	return *subsystem ? 0 : -ENOMEM;
}

int net_pci_slot_of(const char *root, const char *ifname, char **slot)
{
	*slot = NULL;
	char rel[PATH_MAX];
	snprintf(rel, sizeof rel, "/sys/class/net/%s/device", ifname);
	_cleanup_free_ char *dev = NULL, *subsystem = NULL;
	if (nm_realpath(root, rel, &dev) < 0)
		return 0;
	if (device_subsystem(root, dev, &subsystem) < 0)
		return 0;
	/* a USB NIC hangs off its controller's PCI device, which is not the NIC's slot */
	if (strcmp(subsystem, "pci") != 0 && strcmp(subsystem, "virtio") != 0)
		return 0;
	struct pci_addr a;
	if (!nearest_pci_device(dev, &a))
		return 0;
	*slot = strdup(base_name(dev));
	return *slot ? 0 : -ENOMEM;
}

/* Bit 7 of the header-type byte (offset 0x0e of the configuration space): the device has
 * more than one function, so even function 0 gets its f0. Only the first 16 bytes are read:
 * each dword of `config` is a real config-space access (a trap to the hypervisor in a VM), and
 * the whole 256 bytes cost a millisecond. */
static bool pci_multifunction(const char *root, const char *pcidev)
{
	char rel[PATH_MAX], path[PATH_MAX];
	unsigned char head[16];
	snprintf(rel, sizeof rel, "%s/config", pcidev);
	if (nm_root_path(root, rel, path, sizeof path) < 0)
		return false;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head)
		return false;
	return (head[0x0e] & 0x80) != 0;
}

/* acpi_index (else index) of the PCI device: the firmware's onboard number; 0 when none. */
static unsigned pci_onboard_index(const char *root, const char *pcidev)
{
	static const char *const attrs[] = {"acpi_index", "index"};
	for (size_t i = 0; i < NM_ELEMENTSOF(attrs); i++) {
		char rel[PATH_MAX];
		uint64_t v;
		snprintf(rel, sizeof rel, "%s/%s", pcidev, attrs[i]);
		if (nm_read_u64(root, rel, &v) < 0)
			continue;
		return v > 0 && v <= ONBOARD_INDEX_MAX ? (unsigned)v : 0;
	}
	return 0;
}

/* The hotplug slot number whose /sys/bus/pci/slots/N/address names this device's
 * domain:bus:slot; -1 when none does. */
static long pci_hotplug_slot(const char *root, const struct pci_addr *a)
{
	_cleanup_strv_free_ char **slots = NULL;
	if (nm_list_dir(root, "/sys/bus/pci/slots", &slots) < 0)
		return -1;
	for (size_t i = 0; slots[i]; i++) {
		char rel[PATH_MAX], *end;
		_cleanup_free_ char *addr = NULL;
		unsigned d, b, s;
		int n = 0;
		long num = strtol(slots[i], &end, 10);
		if (*end || num < 0)
			continue;
		snprintf(rel, sizeof rel, "/sys/bus/pci/slots/%s/address", slots[i]);
		if (nm_read_line(root, rel, &addr) < 0)
			continue;
		if (sscanf(addr, "%x:%x:%x%n", &d, &b, &s, &n) == 3 && (size_t)n == strlen(addr) && d == a->domain &&
		    b == a->bus && s == a->slot)
			return num;
	}
	return -1;
}

/* n<phys_port_name> when the driver names its ports, else d<dev_port> when above 0. */
static void port_suffix(const char *root, const char *ifname, char *buf, size_t size)
{
	char rel[PATH_MAX];
	_cleanup_free_ char *ppn = NULL;
	uint64_t dev_port = 0;
	buf[0] = '\0';
	snprintf(rel, sizeof rel, "/sys/class/net/%s/phys_port_name", ifname);
	if (nm_read_line(root, rel, &ppn) == 0 && *ppn) {
		snprintf(buf, size, "n%s", ppn);
		return;
	}
	snprintf(rel, sizeof rel, "/sys/class/net/%s/dev_port", ifname);
	if (nm_read_u64(root, rel, &dev_port) == 0 && dev_port > 0)
		snprintf(buf, size, "d%llu", (unsigned long long)dev_port);
}

/* u<port>[u<port>...][c<config>][i<interface>] from a USB interface name like "1-1.2:1.0";
 * config 1 and interface 0 are left out, as systemd does. */
static bool usb_suffix(const char *intf, char *buf, size_t size)
{
	const char *dash = strchr(intf, '-'), *colon = strchr(intf, ':');
	unsigned config, interface;
	if (!dash || !colon || colon < dash || sscanf(colon + 1, "%u.%u", &config, &interface) != 2)
		return false;
	size_t n = 0;
	n += (size_t)snprintf(buf + n, size - n, "u");
	for (const char *p = dash + 1; p < colon && n + 2 < size; p++)
		buf[n++] = *p == '.' ? 'u' : *p;
	buf[n] = '\0';
	if (config != 1)
		n += (size_t)snprintf(buf + n, size > n ? size - n : 0, "c%u", config);
	if (interface != 0)
		snprintf(buf + n, size > n ? size - n : 0, "i%u", interface);
	return true;
}

int net_predict_name(const char *root, const char *ifname, char **name, struct nm_error *e)
{
	*name = NULL;
	char rel[PATH_MAX];
	snprintf(rel, sizeof rel, "/sys/class/net/%s", ifname);
	if (!nm_exists(root, rel))
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "%s: no such network interface in %s/sys/class/net; give a name `ip link` shows", ifname,
			       root && strcmp(root, "/") ? root : "");
	snprintf(rel, sizeof rel, "/sys/class/net/%s/device", ifname);
	_cleanup_free_ char *dev = NULL, *subsystem = NULL;
	if (nm_realpath(root, rel, &dev) < 0)
		return 0; /* virtual interface: no rule applies */
	if (device_subsystem(root, dev, &subsystem) < 0)
		return 0;

	char usb[64] = "";
	bool is_usb = strcmp(subsystem, "usb") == 0;
	if (is_usb && !usb_suffix(base_name(dev), usb, sizeof usb))
		return 0;
	if (!is_usb && strcmp(subsystem, "pci") != 0 && strcmp(subsystem, "virtio") != 0)
		return 0; /* platform, bcma, ccw ...: not covered */
	struct pci_addr a;
	if (!nearest_pci_device(dev, &a))
		return 0;

	char port[80], func[16] = "", domain[16] = "";
	port_suffix(root, ifname, port, sizeof port);
	if (a.func > 0 || pci_multifunction(root, dev))
		snprintf(func, sizeof func, "f%u", a.func);
	if (a.domain > 0)
		snprintf(domain, sizeof domain, "P%u", a.domain);

	unsigned onboard = is_usb ? 0 : pci_onboard_index(root, dev);
	long slot = pci_hotplug_slot(root, &a);
	if (onboard > 0)
		*name = nm_strdup_printf("eno%u%s", onboard, port);
	else if (slot >= 0)
		*name = nm_strdup_printf("en%ss%ld%s%s%s", domain, slot, func, port, usb);
	else
		*name = nm_strdup_printf("en%sp%us%u%s%s%s", domain, a.bus, a.slot, func, port, usb);
	if (!*name)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory", ifname);
	if (strlen(*name) > 15) {
		/* IFNAMSIZ: udev drops a name that does not fit, and the kernel name stays */
		free(*name);
		*name = NULL;
	}
	return 0;
}
