# Sourced by the benchmark and soak scripts: a free loopback port, so a process left on a fixed
# port cannot break a run.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
