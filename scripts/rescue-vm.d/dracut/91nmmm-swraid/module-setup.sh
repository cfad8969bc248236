#!/bin/bash
# dracut module: what NixOS's boot.swraid puts into its systemd initrd — mdadm, mdadm's own udev
# rules (incremental assembly; the array still missing a member wants mdadm-last-resort@.timer)
# and the last-resort timer and service, unchanged from Debian's mdadm. Plus a record of stage 1
# for the scenarios (nmmm-stage1.sh): when the root was mounted, when stage 1 ended, which arrays
# the last-resort service started. The installed system's mdadm.conf comes as a second initrd.

check() {
    require_binaries mdadm || return 1
    return 0
}

depends() {
    echo systemd rootfs-block
}

# Loaded in stage 1 for stage 2: the toy system has no kernel modules of its own to mount the
# ESPs with, and vfat loads its codepage (cp437) and I/O charset at mount time — Debian's kernel
# defaults to iocharset=ascii (CONFIG_FAT_DEFAULT_IOCHARSET), so nls_ascii; without it the mount
# is EINVAL. systemd-modules-load loads them, as NixOS's systemd initrd loads
# boot.initrd.kernelModules; dracut's rd.driver.pre would need dracut-pre-udev, which runs only
# for options on the kernel's own command line.
esp_modules="vfat nls_cp437 nls_ascii nls_utf8"

installkernel() {
    instmods md_mod raid1 $esp_modules
}

# shellcheck disable=SC2154 # moddir, systemdsystemunitdir, initdir, SYSTEMCTL: set by dracut
install() {
    inst_multiple mdadm cat
    inst_rules 63-md-raid-arrays.rules 64-md-raid-assembly.rules
    inst_simple "$systemdsystemunitdir/mdadm-last-resort@.timer"
    inst_simple "$systemdsystemunitdir/mdadm-last-resort@.service"
    inst_script "$moddir/nmmm-stage1.sh" /usr/bin/nmmm-stage1
    inst_simple "$moddir/nmmm-stage1.service" "$systemdsystemunitdir/nmmm-stage1.service"
    $SYSTEMCTL -q --root "$initdir" add-wants initrd-switch-root.target nmmm-stage1.service
    mkdir -p "$initdir/etc/modules-load.d"
    printf '%s\n' $esp_modules >"$initdir/etc/modules-load.d/nmmm-esp.conf"
}
