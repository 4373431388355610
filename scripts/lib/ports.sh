# Sourced by scripts/pg and scripts/bench.
#
# port_candidate: a random TCP port below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range), from which every outgoing connection takes
# its local port. A client that holds the port makes a server's bind fail
# with "Address already in use" even though nothing listens there: a port
# picked inside the range was taken so in CI. Callers still check that the
# port is free, and retry when a bind fails all the same.
port_candidate() {
  local lo=20000 span=40000 low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || low=
  if [[ $low =~ ^[0-9]+$ ]] && [ "$low" -gt 11024 ]; then
    lo=10000
    span=$((low - 10000))
  fi
  echo $((lo + (RANDOM * 32768 + RANDOM) % span))
}
