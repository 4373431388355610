"""The real parts the HTTP integration tests run against: a scratch
PostgreSQL cluster (scripts/pg in a temporary directory) and agentregd
processes on free loopback ports, plus raw-socket helpers for the requests
no well-behaved client sends.

CTest passes AGENTREGD (the binary) and AGENTREG_SOURCE_DIR (for
scripts/pg and the client); see tests/http/CMakeLists.txt.
"""

import atexit
import itertools
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SOURCE_DIR = os.environ.get("AGENTREG_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "clients", "python"))

from agentreg_client import Client  # noqa: E402

PG_SCRIPT = os.path.join(SOURCE_DIR, "scripts", "pg")
PSQL = "/usr/lib/postgresql/15/bin/psql"

#: Every wait in these tests is for an event (a log line, a process exit,
#: a row that must appear) and gives up after this many seconds: generous,
#: because the machine is shared with compilers.
DEADLINE_S = 60.0


def agentregd_binary():
    path = os.environ.get("AGENTREGD")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("AGENTREGD must name the agentregd binary (CTest sets it)")
    return path


def wait_until(predicate, what, deadline_s=DEADLINE_S, interval_s=0.02):
    """Re-checks `predicate` until it is true; fails after `deadline_s`.
    For state that can only be observed by asking (a row in PostgreSQL)."""
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        time.sleep(interval_s)


def raise_open_files_limit(sockets):
    """Raises this process's soft limit of open files to hold `sockets` sockets
    here and as many in the server, which inherits the limit; skips the
    calling test module when the hard limit is too low for that."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * sockets + 512
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            raise unittest.SkipTest(f"the hard limit of open files ({hard}) is below {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

class Postgres:
    """A throwaway PostgreSQL cluster, removed at exit (also when this
    process is killed: a watchdog outlives it and cleans up)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="agentreg-http-pg.")
        # Same watchdog as support/scratch_cluster: waits for this process
        # to be gone, then stops the cluster and removes its directory.
        pid = os.getpid()
        watchdog = (f"while [ -d /proc/{pid} ] && [ \"$(sed 's/.*) //' /proc/{pid}/stat 2>/dev/null | cut -c1)\" != Z ];"
                    f" do sleep 1; done; {PG_SCRIPT} stop {self.dir} || {PG_SCRIPT} kill {self.dir}; rm -rf {self.dir}")
        # (posix_spawn, not Popen: it is meant to outlive this process.)
        null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
        os.posix_spawnp("setsid", ["setsid", "sh", "-c", watchdog], os.environ, file_actions=null)
        self.url = subprocess.run([PG_SCRIPT, "start", self.dir, "--throwaway"], check=True,
                                  capture_output=True, text=True).stdout.strip()
        self._databases = itertools.count(1)
        atexit.register(self.close)

    def close(self):
        if self.dir is None:
            return
        subprocess.run([PG_SCRIPT, "stop", self.dir], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def _server_pids(self):
        """The postmaster and its children (the backends), from the lock file and /proc."""
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                            children.append(int(entry))
                except (OSError, IndexError, ValueError):
                    pass  # gone meanwhile
        return postmaster, children

    def freeze(self):
        """SIGSTOPs the server and its backends: connections stay open and
        the kernel still takes their bytes, but nothing answers (a hung
        database, unlike a dead one). thaw() undoes it."""
        postmaster, children = self._server_pids()
        os.kill(postmaster, signal.SIGSTOP)
        # Listed again once the postmaster is stopped: it forks no more.
        for pid in set(children) | set(self._server_pids()[1]):
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass

    def thaw(self):
        postmaster, children = self._server_pids()
        for pid in [postmaster, *children]:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def down(self):
        """Stops the server (connections are refused until up())."""
        subprocess.run([PG_SCRIPT, "stop", self.dir], check=True, capture_output=True)

    def up(self):
        """Starts the server again after down(), on its port (daemons keep their URLs)."""
        url = subprocess.run([PG_SCRIPT, "start", self.dir, "--throwaway"], check=True,
                             capture_output=True, text=True).stdout.strip()
        assert url == self.url, f"the cluster came back at {url}, not {self.url}"

    def new_database(self):
        """The URL of a new, empty database of this cluster."""
        name = f"t{os.getpid()}_{next(self._databases)}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + "/" + name

    def sql(self, query, url=None):
        """Rows of `query` as tuples of text (NULL as None)."""
        out = subprocess.run([PSQL, url or self.url, "-X", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\x1f",
                              "-P", "null=\x1e", "-c", query],
                             check=True, capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines():
            rows.append(tuple(None if field == "\x1e" else field for field in line.split("\x1f")))
        return rows

    def value(self, query, url=None):
        """The single value `query` answers."""
        rows = self.sql(query, url)
        assert len(rows) == 1 and len(rows[0]) == 1, f"{query} answered {rows}"
        return rows[0][0]


class ModulePostgres:
    """The cluster every test of one module shares: a Postgres started by
    the module's setUpModule and removed by its tearDownModule. A module
    declares it with

        pg = ModulePostgres()
        setUpModule, tearDownModule = pg.set_up, pg.tear_down

    and uses `pg` as the Postgres it holds (pg.url, pg.sql, pg.down...)."""

    def __init__(self):
        self._cluster = None

    def set_up(self):
        self._cluster = Postgres()

    def tear_down(self):
        self._cluster.close()
        self._cluster = None

    def __getattr__(self, name):  # only for names ModulePostgres lacks
        if self._cluster is None:
            raise RuntimeError(f"pg.{name}: the module's cluster runs from setUpModule to tearDownModule only")
        return getattr(self._cluster, name)


_LISTENING = re.compile(r"listening on (https?)://([^:\s]+):(\d+)")


class Daemon:
    """An agentregd process on a free loopback port (--port 0; the port is
    read from its start line). Its output is collected by a thread, so
    tests can wait for a line and print the log when they fail."""

    def __init__(self, database_url=None, *args, token=None, env=None, open_files=None):
        self.args = list(args)
        self.open_files = open_files  # RLIMIT_NOFILE (soft and hard) of the process, if given
        if database_url:
            self.args += ["--database-url", database_url]
        self.token = token
        self.env = dict(os.environ, **(env or {}))
        if token:
            self.env["AGENTREG_TOKEN"] = token
        self.process = None
        self._clients = []
        self.lines = []
        self._cond = threading.Condition()
        self.url = None
        self.scheme = None
        self.port = None

    def start(self):
        self.lines = []
        self.process = subprocess.Popen([agentregd_binary(), "--port", "0", *self.args],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=self.env,
                                        preexec_fn=self._limit_open_files if self.open_files else None)
        atexit.register(self._kill_if_running, self.process)
        threading.Thread(target=self._collect, args=(self.process,), daemon=True).start()
        match = self.wait_for_line(_LISTENING)
        self.scheme, host, port = match.group(1), match.group(2), int(match.group(3))
        self.port = port
        self.url = f"{self.scheme}://{host}:{port}"
        return self

    def _limit_open_files(self):
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    def cpu_seconds(self):
        """User plus system CPU time the process has used (/proc/PID/stat)."""
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _kill_if_running(process):
        if process.poll() is None:
            process.kill()
            process.wait()

    def _collect(self, process):
        for raw in process.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_line(self, pattern, deadline_s=DEADLINE_S, start=0):
        """The first match of `pattern` in a log line (from line `start`),
        waiting for it; fails when the process exits or the deadline passes."""
        pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        end = time.monotonic() + deadline_s
        seen = start
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    match = pattern.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                if self.process.poll() is not None and seen == len(self.lines):
                    raise AssertionError(f"agentregd exited ({self.process.returncode}) before printing "
                                         f"{pattern.pattern!r}:\n" + self.log())
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"agentregd printed no {pattern.pattern!r} within {deadline_s} s:\n"
                                         + self.log())
                self._cond.wait(min(left, 0.5))

    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def client(self, **kwargs):
        """A Client of this server (closed when the server is stopped)."""
        kwargs.setdefault("token", self.token or "")
        client = Client(self.url, **kwargs)
        self._clients.append(client)
        return client

    def _close_clients(self):
        for client in self._clients:
            client.close()
        self._clients = []

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def terminate(self, deadline_s=DEADLINE_S):
        """SIGTERM, then the exit status (fails if it does not exit in time)."""
        self._close_clients()
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=deadline_s)

    def kill(self):
        self._close_clients()
        self.process.kill()
        self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.alive():
            self.kill()
        self._close_clients()


# ---- totals, from the API and from the rows ----

SUMMARY_FIELDS = ("total_executions", "successful_executions", "failed_executions", "timeout_executions",
                  "total_tokens_used", "total_cost_micro_usd", "total_retries")


def totals(summaries):
    """The SUMMARY_FIELDS of performance summaries, by key."""
    return {s["key"]: tuple(s[f] for f in SUMMARY_FIELDS) for s in summaries}


def sql_totals(pg, db, column):
    """The summary fields (SUMMARY_FIELDS) from the committed execution rows
    of database `db` of cluster `pg`, grouped by `column`."""
    rows = pg.sql(f"SELECT {column}, count(*), count(*) FILTER (WHERE status = 'success'), "
                  f"count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'timeout'), "
                  f"sum(total_tokens), sum(cost_micro_usd), sum(retry_count) "
                  f"FROM agent_executions WHERE status <> 'running' GROUP BY {column}", db)
    return {row[0]: tuple(int(v) for v in row[1:]) for row in rows}


# ---- raw HTTP over a socket: for what the client refuses to send ----

def connect(port, timeout=DEADLINE_S):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def raw_request(method, path, body=b"", headers=None, content_type="application/json", token=None):
    """The bytes of one HTTP/1.1 request; `body` as given (bytes or str)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body and content_type:
        lines.append(f"Content-Type: {content_type}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return f"RawResponse({self.status}, {self.body[:200]!r})"


def read_response(sock):
    """One HTTP/1.1 response read from `sock` (Content-Length bodies, as the
    server sends), or None when the server closed the connection first.
    It reads no byte past the response, so that the next call finds the
    next pipelined response whole (a greedy recv took both at once when
    they arrived together, and the second was lost)."""
    buf = b""
    while not buf.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            if buf:
                raise AssertionError(f"connection closed inside a response head: {buf!r}")
            return None
        buf += chunk
    head, rest = buf[:-4], b""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(length - len(rest))
        if not chunk:
            raise AssertionError("connection closed inside a response body")
        rest += chunk
    return RawResponse(status, headers, rest[:length])


def exchange(port, data, timeout=DEADLINE_S):
    """Sends `data` on a new connection and reads one response."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def closed_by_peer(sock, deadline_s=DEADLINE_S):
    """True once the server closed `sock` (EOF or reset), False when it is
    still open after `deadline_s`. Answers sent before the close are read
    and dropped."""
    end = time.monotonic() + deadline_s
    while True:
        left = max(0.0, end - time.monotonic())
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            return False
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
