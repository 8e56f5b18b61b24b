"""Real HTTP servers on this machine that receive webhooks in tests: each answers from a
script of (status, headers) and keeps every request it got."""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    answer: object = None


class Receiver:
    """Answers the n-th request with answers[n] (then 200): a status, a (status, headers)
    pair, or HANG to hold the request open until the receiver stops. With `tls` (an
    ssl.SSLContext) it speaks https."""

    def __init__(self, answers=(), tls=None):
        self.answers = list(answers)
        self.requests = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, answer))
                if answer == HANG:
                    receiver.released.wait(60)
                    return
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self):
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
