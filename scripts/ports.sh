# Sourced by the benchmark, soak, hostile-load and burst scripts: a free loopback port, so a
# process left on a fixed port cannot break a run, and a wait until something listens on one.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_listening() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }
