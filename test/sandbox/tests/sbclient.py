"""Small HTTP client helpers for okra-sandbox's black-box tests (stdlib only).

Everything here talks to a sandbox over real sockets:

* call()      one Okra API request (fresh connection unless `conn` is given)
* control()   one /_sandbox/ request
* raw()       a hand-written request on a raw socket, read until EOF, reset or
              timeout; used where http.client would hide what the wire did
              (truncation, resets, hangs, trickling)
* multipart() a multipart/form-data body (bulk uploads)
* Sandbox     spawns an extra okra-sandbox process with given flags

Every TCP connection opened to a port is counted in CONNECTS[port], so a test
can compare the sandbox's `connections` counter with what the client did.
"""

import http.client
import json
import os
import select
import socket
import ssl
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
CONNECTS = {}           # port -> TCP connections this process opened
DEFAULT = object()      # "use the default key"


def _count(port):
    CONNECTS[port] = CONNECTS.get(port, 0) + 1


class CountingHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection that counts each TCP connect (keep-alive reuse shows)."""

    def connect(self):
        _count(self.port)
        self.connects = getattr(self, "connects", 0) + 1
        super().connect()


class CountingHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        _count(self.port)
        self.connects = getattr(self, "connects", 0) + 1
        super().connect()


class DuplicateKey(ValueError):
    pass


def _no_dup_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise DuplicateKey("duplicate JSON key %r" % k)
        d[k] = v
    return d


def parse_json(body):
    """Strict parse: UTF-8, no duplicate keys; dicts keep the wire order."""
    return json.loads(body.decode("utf-8"), object_pairs_hook=_no_dup_pairs)


class Resp:
    def __init__(self, status, headers, body, elapsed, reason=""):
        self.status = status
        self.headers = headers          # lower-case name -> value
        self.body = body                # bytes
        self.elapsed = elapsed          # seconds, request sent -> body read
        self.reason = reason
        self._json = None
        self._parsed = False

    @property
    def json(self):
        if not self._parsed:
            self._json = parse_json(self.body)
            self._parsed = True
        return self._json

    def __repr__(self):
        b = self.body[:600]
        return "<HTTP %s %r%s>" % (self.status, b, "..." if len(self.body) > 600 else "")


def new_conn(port, tls_ctx=None, timeout=15):
    if tls_ctx is not None:
        return CountingHTTPSConnection(HOST, port, timeout=timeout, context=tls_ctx)
    return CountingHTTPConnection(HOST, port, timeout=timeout)


def request(port, method, path, body=b"", headers=None, conn=None,
            tls_ctx=None, timeout=15):
    """One HTTP request; returns Resp. Opens (and closes) a connection unless
    `conn` is given, in which case it is reused (keep-alive)."""
    own = conn is None
    if own:
        conn = new_conn(port, tls_ctx, timeout)
    hdrs = dict(headers or {})
    if body is None:
        body = b""
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=body if (body or method != "GET") else None,
                     headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        elapsed = time.monotonic() - t0
        h = {k.lower(): v for k, v in r.getheaders()}
        return Resp(r.status, h, data, elapsed, r.reason)
    finally:
        if own:
            conn.close()


class Api:
    """Okra API calls against one sandbox (port, keys, optional TLS)."""

    def __init__(self, port, key, tls_ctx=None):
        self.port = port
        self.key = key
        self.tls_ctx = tls_ctx

    def call(self, route, body=None, *, key=DEFAULT, prefix="/v2/", method="POST",
             auth=None, headers=None, raw_body=None,
             content_type="application/json", conn=None, idem=None, timeout=15):
        """POST <prefix><route> with `body` as JSON (or `raw_body` bytes)."""
        hdrs = {}
        if content_type:
            hdrs["Content-Type"] = content_type
        hdrs["Accept"] = "application/json"
        if auth is not None:
            hdrs["Authorization"] = auth
        elif key is DEFAULT:
            hdrs["Authorization"] = "Bearer " + self.key
        elif key is not None:
            hdrs["Authorization"] = "Bearer " + key
        if idem is not None:
            hdrs["Idempotency-Key"] = idem
        if headers:
            hdrs.update(headers)
        if raw_body is not None:
            data = raw_body
        elif body is None:
            data = b"" if method != "POST" else b"{}"
        else:
            data = json.dumps(body).encode()
        return request(self.port, method, prefix + route, data, hdrs, conn,
                       self.tls_ctx, timeout)

    def control(self, method, path, body=None, conn=None, timeout=15):
        hdrs = {}
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        return request(self.port, method, "/_sandbox/" + path, data, hdrs, conn,
                       self.tls_ctx, timeout)


def multipart(fields=(), files=(), boundary="okra-sandbox-test-boundary-7d1e"):
    """A multipart/form-data body: `fields` are (name, text) pairs, `files`
    (name, filename, content_type, bytes) tuples. Returns (body, content type)."""
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
                % (boundary, name)).encode() + value.encode() + b"\r\n"
    for name, filename, ctype, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: %s\r\n\r\n" % (boundary, name, filename, ctype)).encode()
        out += data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return out, "multipart/form-data; boundary=" + boundary


class RawResult:
    """What a raw socket saw: bytes until EOF / reset / timeout."""

    def __init__(self, data, end, elapsed):
        self.data = data
        self.end = end                  # "eof", "reset" or "timeout"
        self.elapsed = elapsed
        self.status = None
        self.headers = {}
        self.body = b""
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) >= 2 and parts[0].startswith("HTTP/"):
                self.status = int(parts[1])
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                self.body = _dechunk(rest)
            else:
                self.body = rest

    @property
    def content_length(self):
        v = self.headers.get("content-length")
        return int(v) if v is not None else None

    @property
    def json(self):
        return parse_json(self.body)

    def __repr__(self):
        return "<raw end=%s elapsed=%.3f status=%s body=%r>" % (
            self.end, self.elapsed, self.status, self.body[:300])


def _dechunk(rest):
    """The body of a chunked response, as far as it arrived."""
    out = b""
    while True:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return out
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            return out
        if n == 0:
            return out
        if len(rest) < n:
            return out + rest
        out += rest[:n]
        rest = rest[n + 2:]


def raw(port, method, path, body=b"", headers=None, timeout=10, tls_ctx=None,
        close=True):
    """Send one request on a fresh socket and read until the peer ends it."""
    _count(port)
    s = socket.create_connection((HOST, port), timeout=timeout)
    if tls_ctx is not None:
        s = tls_ctx.wrap_socket(s, server_hostname=HOST)
    hdrs = {"Host": "%s:%d" % (HOST, port)}
    if body or method == "POST":
        hdrs["Content-Length"] = str(len(body))
    if close:
        hdrs["Connection"] = "close"
    hdrs.update(headers or {})
    req = "%s %s HTTP/1.1\r\n" % (method, path)
    req += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
    t0 = time.monotonic()
    data = b""
    end = "eof"
    try:
        s.sendall(req.encode() + body)
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                end = "reset"
                break
            except socket.timeout:
                end = "timeout"
                break
            if not chunk:
                break
            data += chunk
    except (BrokenPipeError, ConnectionResetError):
        end = "reset"
    finally:
        try:
            s.close()
        except OSError:
            pass
    return RawResult(data, end, time.monotonic() - t0)


def api_raw(port, key, route, body, prefix="/v2/", timeout=10, tls_ctx=None,
            extra=None):
    hdrs = {"Content-Type": "application/json", "Authorization": "Bearer " + key}
    hdrs.update(extra or {})
    return raw(port, "POST", prefix + route, json.dumps(body).encode(), hdrs,
               timeout=timeout, tls_ctx=tls_ctx)


class Sandbox:
    """An extra okra-sandbox process, on 127.0.0.1 and a free port."""

    def __init__(self, binary, *args, port="0", host=None, wait=True):
        self.log = tempfile.NamedTemporaryFile(prefix="okra-sandbox-", suffix=".log",
                                               delete=False)
        cmd = [binary, "--port", str(port)]
        if host:
            cmd += ["--host", host]
        cmd += list(args)
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        self.port = None
        self.first_line = None
        if wait:
            self.first_line = self.read_line(10)
            if self.first_line is None or not self.first_line.startswith("OKRA_SANDBOX_PORT="):
                self.stop()
                raise RuntimeError("sandbox %r did not print its port (got %r); log: %s"
                                   % (cmd, self.first_line, self.log_text()))
            self.port = int(self.first_line.split("=", 1)[1])

    def read_line(self, timeout):
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 1)
            if not chunk:
                return buf.decode() if buf else None
            buf += chunk
        return buf.decode().rstrip("\n")

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_text(self):
        try:
            with open(self.log.name, "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            if self.wait_exit(5) is None:
                self.proc.kill()
                self.proc.wait()
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
