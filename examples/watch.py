#!/usr/bin/env python3
"""Hold a phone's notification socket and print each message as one JSON line.

Usage: watch.py URL TOKEN [--cursor CURSOR] [--until TYPE] [--timeout SECONDS]

  URL      the gateway, e.g. http://127.0.0.1:8080
  TOKEN    an access token from POST /login
  --cursor the last cursor seen (a /sync answer's next_cursor): every change after
           it is sent first, so nothing that happened before the socket opened is lost
  --until  exit 0 after the first message of this type (e.g. game.processed);
           a game.failed exits 2; without it, runs until the server closes
  --timeout give up (exit 1) after this many seconds (default 120)

Standard library only (no websockets package, no websocat): it speaks just the part
of RFC 6455 a client needs, which is small, so the README's commands work anywhere
python3 does.
"""
import argparse
import base64
import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.parse

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def connect(url, token, cursor, timeout):
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    sock = socket.create_connection((parts.hostname, port), timeout=timeout)
    if secure:
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
    path = parts.path.rstrip("/") + "/notifications"
    if cursor:
        path += "?" + urllib.parse.urlencode({"cursor": cursor})
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the gateway closed the connection during the handshake")
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0].decode()
    if " 101 " not in status + " ":
        # A refusal is the API's JSON error; show it as the server sent it.
        raise ConnectionError(f"{status}: {rest.decode(errors='replace')}")
    return sock, rest


class Frames:
    """Reads a server's frames (unmasked) and sends the client's (always masked)."""

    def __init__(self, sock, buffered):
        self.sock, self.buffer = sock, buffered

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the gateway closed the socket")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def next(self):
        first, second = self._read(2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        # Messages are small JSON objects, never fragmented by this server.
        return opcode, self._read(length)

    def send(self, opcode, payload=b""):
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--cursor")
    parser.add_argument("--until")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    try:
        sock, rest = connect(args.url, args.token, args.cursor, args.timeout)
        frames = Frames(sock, rest)
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            opcode, payload = frames.next()
            if opcode == PING:
                frames.send(PONG, payload)  # the gateway drops a phone that never answers
            elif opcode == CLOSE:
                print("watch: the gateway closed the socket", file=sys.stderr)
                return 0 if args.until is None else 1
            elif opcode == TEXT:
                message = json.loads(payload)
                print(json.dumps(message, separators=(",", ":")), flush=True)
                if args.until and message.get("type") == args.until:
                    frames.send(CLOSE, struct.pack("!H", 1000))
                    return 0
                if args.until and message.get("type") == "game.failed":
                    return 2
    except socket.timeout:
        print(f"watch: no {args.until} within {args.timeout:.0f} s", file=sys.stderr)
        return 1
    except (ConnectionError, OSError) as error:
        print(f"watch: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
