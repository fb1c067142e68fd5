"""A real SMTP server for tests/api/smtp.rs: aiosmtpd on 127.0.0.1, each received message
written as <n>.eml into the folder given as the first argument (on the port given as the
second, else a free one). Prints `ready <port>` once it
listens, then serves until its stdin closes (so it never outlives the test)."""

import socket
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class Save:
    def __init__(self, folder: Path):
        self.folder = folder
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        tmp = self.folder / f".{n}.tmp"
        tmp.write_bytes(b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n" + envelope.original_content)
        tmp.rename(self.folder / f"{n}.eml")
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    port = int(sys.argv[2]) if len(sys.argv) > 2 else free_port()
    controller = Controller(Save(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"ready {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
