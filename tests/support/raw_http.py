"""Helpers the Python suites (tests/api, tests/cluster) and the soak share: HTTP/1.1 read off a
raw socket, for what Python's clients hide (pipelining, framing), and this host's address on its
default route, to reach a server from somewhere that is not loopback."""
import socket


class Connection:
    """A raw socket that reads whole responses (Content-Length or chunked) one after another."""

    def __init__(self, port, timeout=60, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.data = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection; unread: %r" % self.data[:300]
        self.data += chunk

    def _take_line(self):
        while b"\r\n" not in self.data:
            self._fill()
        line, _, self.data = self.data.partition(b"\r\n")
        return line

    def _take(self, n):
        while len(self.data) < n:
            self._fill()
        out, self.data = self.data[:n], self.data[n:]
        return out

    def read_head(self):
        status = int(self._take_line().split()[1])
        headers = {}
        while True:
            line = self._take_line().decode("latin-1")
            if not line:
                return status, headers
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()

    def read_chunk(self):
        """The next chunk of a chunked body; b"" at its end."""
        size = int(self._take_line().split(b";")[0], 16)
        data = self._take(size)
        assert self._take(2) == b"\r\n"
        if size == 0:
            return b""
        return data

    def read_response(self):
        status, headers = self.read_head()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while chunk := self.read_chunk():
                body += chunk
        else:
            body = self._take(int(headers["content-length"]))
        return status, headers, body

    def close(self):
        self.sock.close()


def non_loopback_address():
    """This host's address on its default route (no packet is sent), or None."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address
