#!/usr/bin/env python3
"""Waits until a queue has no ready and no in-flight job, then prints the time (seconds since the epoch).

  wait_drained.py PORT QUEUE

One Redis connection, polled every 10 ms. The benchmark used to start two `redis-cli` processes per poll: at 20
polls a second that cost about 0.1 s of CPU per second, which the workers under test had to share and pgbench,
their baseline, did not.
"""
import socket
import sys
import time


def main(port, queue):
    conn = socket.create_connection(("127.0.0.1", port))
    # The queue's keys carry its hash tag: {queue}:ready (two braces more than the name).
    request = (f"*2\r\n$5\r\nZCARD\r\n${len(queue) + 8}\r\n{{{queue}}}:ready\r\n"
               f"*2\r\n$4\r\nHLEN\r\n${len(queue) + 11}\r\n{{{queue}}}:inflight\r\n").encode()
    reader = conn.makefile("rb")
    while True:
        conn.sendall(request)
        ready, inflight = (int(reader.readline()[1:]) for _ in range(2))
        if ready == 0 and inflight == 0:
            print(f"{time.time():.6f}")
            return
        time.sleep(0.01)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
