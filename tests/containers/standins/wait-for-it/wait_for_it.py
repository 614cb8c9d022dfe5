"""Wait until HOST:PORT accepts a TCP connection (wait-for-it's `HOST:PORT -t SECONDS`)."""

import argparse
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("address")
parser.add_argument("-t", "--timeout", type=float, default=15)
args = parser.parse_args()
host, _, port = args.address.rpartition(":")
deadline = time.monotonic() + args.timeout
while True:
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        print(f"wait-for-it: {args.address} is available")
        sys.exit(0)
    except OSError as error:
        if args.timeout and time.monotonic() > deadline:
            print(f"wait-for-it: timeout waiting for {args.address}: {error}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.5)
