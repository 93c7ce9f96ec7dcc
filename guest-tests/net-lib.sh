# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Network namespaces and taps for the scripts that give the test guest a
# NIC (net-test.sh, run-demo.sh); sourced, not run. All traffic stays in a
# namespace the script creates: the VMM runs inside it (ip netns exec), so
# the tap it opens or creates is there too, and deleting the namespace
# deletes every tap in it.

# Why a NIC cannot be set up here, or nothing if it can.
netns_unusable_reason() {
	local probe=kite-probe-$$
	if [ "$(id -u)" != 0 ]; then
		echo "needs root (network namespaces and taps)"
	elif [ ! -c /dev/net/tun ]; then
		echo "/dev/net/tun does not exist"
	elif ! command -v ip >/dev/null 2>&1; then
		echo "ip (iproute2) is not installed"
	elif ! ip netns add "$probe" 2>/dev/null; then
		echo "cannot create a network namespace (ip netns add)"
	else
		ip netns del "$probe" 2>/dev/null || true
	fi
}

# netns_create NS: a namespace with lo up and IPv6 off (so the guest sees
# only the test's own traffic).
netns_create() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

# netns_remove NS: gone with every tap in it; quiet if it is not there.
netns_remove() {
	ip netns del "$1" 2>/dev/null || true
}

# tap_create NS TAP QUEUES: a persistent tap in NS, multiqueue if QUEUES > 1
# (a VMM opening it must ask for the same).
tap_create() {
	local mq=()
	[ "$3" -gt 1 ] && mq=(multi_queue)
	ip -n "$1" tuntap add dev "$2" mode tap "${mq[@]}"
}

# tap_wait NS TAP SECS: until TAP exists in NS (a VMM creating it).
tap_wait() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		ip -n "$1" link show dev "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# tap_up NS TAP ADDR/PREFIX: the host's address on TAP, TAP up.
tap_up() {
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$1" link set "$2" up
}

# tap_tx_dropped NS TAP: frames the tap dropped on the way to the guest.
tap_tx_dropped() {
	ip -n "$1" -s -j link show dev "$2" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])'
}
