#!/bin/sh
# Stage 1's record for the VM scenarios: seconds since the kernel started when stage 1 ended, the
# root's mount (monotonic µs), and per array when mdadm's last-resort service ran (0: never; it
# started the array degraded when it did).
read -r up _ </proc/uptime
{
	echo "stage1_end_s=$up"
	echo "sysroot_mounted_us=$(systemctl show -P ActiveEnterTimestampMonotonic sysroot.mount)"
	for md in /sys/block/md*; do
		[ -e "$md" ] || continue
		md=${md##*/}
		echo "last_resort_$md=$(systemctl show -P ExecMainStartTimestampMonotonic "mdadm-last-resort@$md.service")"
		echo "last_resort_timer_$md=$(systemctl show -P ActiveEnterTimestampMonotonic "mdadm-last-resort@$md.timer")"
	done
} >/run/nmmm-stage1
exit 0
