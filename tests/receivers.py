"""Real HTTP servers on this machine that receive webhooks in tests: each answers from a
script of (status, headers) and keeps every request it got; and hung receivers, which accept
connections and never answer."""

import socket
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


class HungListener:
    """A TCP listener on 127.0.0.1 that accepts every connection and never answers: it reads
    what comes and holds the connection until the client gives up. Counts the connections it
    accepted and the most it held open at once."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/hooks"
        self.lock = threading.Lock()
        self.accepted = self.open = self.most_open = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.socket.accept()
            except TimeoutError:
                continue
            with self.lock:
                self.accepted += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
            threading.Thread(target=self.hold, args=(conn,), daemon=True).start()

    def hold(self, conn):
        conn.settimeout(0.2)
        with conn:
            while not self.stopped.is_set():
                try:
                    if not conn.recv(65536):
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
        with self.lock:
            self.open -= 1

    def stop(self):
        self.stopped.set()
        self.thread.join(5)
        self.socket.close()
