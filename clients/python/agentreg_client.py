"""agentreg_client: a Python client for agentregd, the agentreg HTTP server.

One file, standard library only. The function names are the seed's
(register, heartbeat, get_least_loaded_agent, start_execution,
complete_execution, record_tool_usage, get_performance,
list_online_agents...), plus the leases that replace the seed's racy
get_least_loaded_agent + update_load(load + 1): acquire, renew, release.
The routes, fields and error codes are those of docs/api.md.

    from agentreg_client import Client, AgentRegError

    with Client("http://127.0.0.1:8080", token="...") as reg:
        reg.register("agent_planner_1", "planner", max_capacity=10)
        with reg.leased("planner") as lease:
            execution_id = reg.start_execution(lease["agent_id"], task_type="planning")
            reg.complete_execution(execution_id, "success", prompt_tokens=1500, completion_tokens=800)

Every answer is the server's JSON, decoded (dicts, lists, str, int,
float). Every error answer raises AgentRegError, which carries the
server's error code (`unknown_agent`, `no_capacity`...), its message, the
HTTP status and Retry-After when the server sent one. A refused request
changed nothing on the server, so it is safe to repeat once the cause is
gone (for `persistence_backlog`, after `retry_after` seconds). Network
failures raise the standard library's OSError subclasses.

A Client keeps one keep-alive connection and serialises the calls made on
it; threads that want parallel requests each use their own Client.
"""

import http.client
import json
import os
import ssl
import threading
import urllib.parse
from contextlib import contextmanager

__all__ = ["Client", "AgentRegError", "Response"]

DEFAULT_URL = "http://127.0.0.1:8080"


class AgentRegError(Exception):
    """An error answer of agentregd: `code` is the `error` field of its body."""

    def __init__(self, code, message, status, retry_after=None):
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        #: seconds, from the Retry-After header (429 and 503), else None
        self.retry_after = retry_after


class Response:
    """One HTTP answer: status, headers (lower-case names) and decoded JSON body."""

    __slots__ = ("status", "headers", "body", "raw")

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body = None
        if raw:
            content_type = headers.get("content-type", "")
            if content_type.startswith("application/json"):
                self.body = json.loads(raw.decode("utf-8"))

    def __repr__(self):
        return f"Response({self.status}, {self.body!r})"


def _quote(segment):
    """An id as one path segment: every reserved character percent-encoded."""
    if not isinstance(segment, str) or segment == "":
        raise ValueError(f"an id must be a non-empty string, not {segment!r}")
    return urllib.parse.quote(segment, safe="")


def _lease_id(lease):
    """A lease as returned by acquire(), or its lease_id."""
    return lease["lease_id"] if isinstance(lease, dict) else lease


def _without_none(fields):
    """The fields that were given: the server applies its defaults to the others."""
    return {k: v for k, v in fields.items() if v is not None}


class Client:
    """A connection to one agentregd.

    `url`: `http://host:port` or `https://host:port` (default
    $AGENTREG_URL, else http://127.0.0.1:8080). `token`: the bearer token
    (default $AGENTREG_TOKEN, else none). For HTTPS, `cafile` names the
    certificate(s) to trust (for a self-signed server), or `ssl_context`
    gives a complete context; by default the system's trust store is used
    and the host name is checked. `timeout`: seconds for connecting and
    for each read.
    """

    def __init__(self, url=None, token=None, *, timeout=30.0, cafile=None, ssl_context=None):
        url = url or os.environ.get("AGENTREG_URL") or DEFAULT_URL
        token = token if token is not None else os.environ.get("AGENTREG_TOKEN")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"agentregd URL must be http://host[:port] or https://host[:port], not {url!r}")
        if parts.scheme == "http" and (cafile or ssl_context):
            raise ValueError("cafile and ssl_context need an https:// URL")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._tls = None
        if parts.scheme == "https":
            self._tls = ssl_context or ssl.create_default_context(cafile=cafile)
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._connection = None
        self._lock = threading.Lock()

    # ---- connection ----

    def close(self):
        """Closes the connection (the next call opens a new one)."""
        with self._lock:
            self._drop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _drop(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self):
        if self._tls is not None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._tls)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def request(self, method, path, body=None, query=None, headers=None):
        """Sends one request and answers its Response, whatever the status.

        `body` is encoded as JSON (NaN and Infinity are refused here: they
        are not JSON); `query` is a dict of parameters (None values left
        out). The named calls below use this and raise on error statuses.
        """
        data = None
        send_headers = dict(self._headers)
        if body is not None:
            data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        if headers:
            send_headers.update(headers)
        target = self._prefix + path
        if query:
            query = _without_none(query)
            if query:
                target += "?" + urllib.parse.urlencode(query)
        with self._lock:
            return self._exchange(method, target, data, send_headers)

    def _exchange(self, method, target, data, headers):
        # A kept-alive connection may have been closed by the server since
        # the last answer (its idle timeout): the request then fails before
        # any byte of an answer arrives, and the server, which closes only
        # between requests, did not read it. Sending it again on a new
        # connection is then safe, once. A failure on a new connection is
        # the caller's to see.
        reused = self._connection is not None
        if not reused:
            self._connection = self._connect()
        try:
            self._connection.request(method, target, body=data, headers=headers)
            answer = self._connection.getresponse()
            raw = answer.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self._drop()
            if not reused:
                raise
            self._connection = self._connect()
            try:
                self._connection.request(method, target, body=data, headers=headers)
                answer = self._connection.getresponse()
                raw = answer.read()
            except BaseException:
                self._drop()
                raise
        except BaseException:
            self._drop()
            raise
        response = Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, raw)
        if answer.will_close:
            self._drop()
        return response

    def _call(self, method, path, body=None, query=None, expect=(200,)):
        response = self.request(method, path, body=body, query=query)
        if response.status in expect:
            return response.body
        raise self._error(response)

    @staticmethod
    def _error(response):
        body = response.body if isinstance(response.body, dict) else {}
        retry_after = response.headers.get("retry-after")
        try:
            retry_after = float(retry_after) if retry_after is not None else None
        except ValueError:
            retry_after = None
        code = body.get("error") or f"http_{response.status}"
        message = body.get("message") or response.raw.decode("utf-8", "replace")
        return AgentRegError(code, message, response.status, retry_after)

    # ---- agents ----

    def register(self, agent_id, agent_type, **spec):
        """Registers an agent, or replaces a registered agent's spec (keeping
        its load and history). `spec`: llm_provider, model_name,
        temperature, max_tokens, max_capacity, metadata (dict of str),
        skills (list of str), agent_card (an A2A Agent Card dict).
        Answers the agent."""
        return self._call("POST", "/v1/agents", dict(agent_id=agent_id, agent_type=agent_type, **_without_none(spec)))

    def get_agent(self, agent_id):
        """The agent. Raises unknown_agent."""
        return self._call("GET", f"/v1/agents/{_quote(agent_id)}")

    def unregister(self, agent_id):
        """Removes the agent from selection and listings (its history stays)."""
        self._call("DELETE", f"/v1/agents/{_quote(agent_id)}", expect=(204,))

    def heartbeat(self, agent_id, current_load=None):
        """Refreshes the agent's heartbeat (an offline agent comes back
        online), optionally with the load it reports. Answers the agent."""
        body = None if current_load is None else {"current_load": current_load}
        return self._call("POST", f"/v1/agents/{_quote(agent_id)}/heartbeat", body)

    def heartbeats(self, heartbeats):
        """Many heartbeats in one request (at most 1000): `heartbeats` is a
        list of agent ids or of (agent_id, current_load) pairs. Answers one
        result dict per item, in order (`ok` tells whether it succeeded)."""
        items = []
        for item in heartbeats:
            if isinstance(item, str):
                items.append({"agent_id": item})
            else:
                agent_id, current_load = item
                items.append(_without_none({"agent_id": agent_id, "current_load": current_load}))
        return self._call("POST", "/v1/heartbeats", {"heartbeats": items})["results"]

    def update_status(self, agent_id, status):
        """Sets `online`, `offline` or `paused`. Answers the agent."""
        return self._call("PUT", f"/v1/agents/{_quote(agent_id)}/status", {"status": status})

    def update_load(self, agent_id, current_load):
        """Sets the load the agent reports (0..max_capacity). Answers the
        agent. To take a slot, acquire() a lease instead: reading the least
        loaded agent and then setting its load races with other callers."""
        return self._call("PUT", f"/v1/agents/{_quote(agent_id)}/load", {"current_load": current_load})

    def get_agent_card(self, agent_id):
        """The agent's A2A Agent Card as registered. Raises unknown_agent_card."""
        return self._call("GET", f"/v1/agents/{_quote(agent_id)}/agent-card.json")

    def list_agents_page(self, agent_type=None, status=None, llm_provider=None, model_name=None,
                         skill=None, limit=None, cursor=None):
        """One page of agents ordered by id: `{"agents": [...], "next_cursor": ...}`."""
        return self._call("GET", "/v1/agents", query=dict(
            agent_type=agent_type, status=status, llm_provider=llm_provider, model_name=model_name,
            skill=skill, limit=limit, cursor=cursor))

    def list_agents(self, agent_type=None, status=None, llm_provider=None, model_name=None, skill=None):
        """Every agent matching the filters given, ordered by id (all pages)."""
        agents, cursor = [], None
        while True:
            page = self.list_agents_page(agent_type, status, llm_provider, model_name, skill,
                                         limit=1000, cursor=cursor)
            agents.extend(page["agents"])
            cursor = page["next_cursor"]
            if cursor is None:
                return agents

    def list_online_agents(self, agent_type=None):
        """The agents that are up, ordered by id: status `online` or `busy`
        (a busy agent is online with every slot taken), as the facade's
        list_online_agents."""
        agents = self.list_agents(agent_type, status="online") + self.list_agents(agent_type, status="busy")
        return sorted(agents, key=lambda a: a["agent_id"])

    def get_least_loaded_agent(self, agent_type):
        """The eligible agent of the type with the smallest load/capacity,
        or None when none has a free slot. It reserves nothing: acquire()
        picks and reserves in one step."""
        return self._call("GET", "/v1/agents/least-loaded", query={"agent_type": agent_type})["agent"]

    # ---- leases ----

    def acquire(self, agent_type, ttl_ms=None):
        """Picks the least-loaded eligible agent of the type and reserves one
        slot, atomically. Answers the lease: lease_id, agent_id, agent_type,
        expires_at. It expires after `ttl_ms` (default: the server's
        --lease-ttl) unless renewed. Raises no_capacity, unknown_type."""
        return self._call("POST", "/v1/leases", _without_none({"agent_type": agent_type, "ttl_ms": ttl_ms}),
                          expect=(201,))

    def renew(self, lease, ttl_ms=None):
        """Extends the lease (a dict from acquire() or its lease_id) by
        `ttl_ms` from now. Answers the lease. Raises lease_not_held."""
        body = None if ttl_ms is None else {"ttl_ms": ttl_ms}
        return self._call("POST", f"/v1/leases/{_quote(_lease_id(lease))}/renew", body)

    def release(self, lease):
        """Frees the lease's slot. Raises lease_not_held when it was
        released before or expired."""
        self._call("DELETE", f"/v1/leases/{_quote(_lease_id(lease))}", expect=(204,))

    @contextmanager
    def leased(self, agent_type, ttl_ms=None):
        """`with client.leased("planner") as lease:` acquires a lease and
        releases it at the end of the block, whatever happens in it."""
        lease = self.acquire(agent_type, ttl_ms)
        try:
            yield lease
        finally:
            self.release(lease)

    # ---- executions ----

    def start_execution(self, agent_id, task_type=None, workflow_slug=None, run_id=None):
        """Starts an execution on the agent (status `running`). Answers its
        execution_id."""
        body = _without_none(dict(agent_id=agent_id, task_type=task_type, workflow_slug=workflow_slug, run_id=run_id))
        return self._call("POST", "/v1/executions", body, expect=(201,))["execution_id"]

    def complete_execution(self, execution_id, status, **metrics):
        """Completes a running execution with `status` `success`, `failed` or
        `timeout`. `metrics`: prompt_tokens, completion_tokens,
        cached_tokens, total_tokens (prompt + completion when absent),
        estimated_cost_usd (from the server's price table when absent),
        success_score (0..1), retry_count, error_message. Answers the
        completed execution (duration, tokens, cost_micro_usd...). Raises
        unknown_execution, already_completed."""
        body = dict(status=status, **_without_none(metrics))
        return self._call("POST", f"/v1/executions/{_quote(execution_id)}/complete", body)

    def get_execution(self, execution_id):
        """A running execution. Raises already_completed once completed."""
        return self._call("GET", f"/v1/executions/{_quote(execution_id)}")

    # ---- tools ----

    def record_tool_usage(self, agent_id, tool_name, execution_id=None, success_count=None,
                          failure_count=None, duration_ms=None):
        """Records tool calls of the agent. Answers the (agent, tool) totals:
        invocation_count, success_count, failure_count, avg/p50/p95/p99
        duration."""
        body = _without_none(dict(tool_name=tool_name, execution_id=execution_id, success_count=success_count,
                                  failure_count=failure_count, duration_ms=duration_ms))
        return self._call("POST", f"/v1/agents/{_quote(agent_id)}/tools", body)

    def get_tool_usage(self, agent_id):
        """The agent's tool usage totals, by tool name."""
        return self._call("GET", f"/v1/agents/{_quote(agent_id)}/tools")["tools"]

    # ---- performance ----

    def get_performance(self, agent_id):
        """The agent's performance summary: total/successful/failed
        executions, success_rate, avg and p50/p95/p99 duration, tokens,
        total_cost_usd, avg_cost_per_execution, retries, last execution."""
        return self._call("GET", f"/v1/agents/{_quote(agent_id)}/performance")

    def get_performance_by(self, by):
        """Summaries per `agent`, `agent_type`, `model`, `task_type` or `workflow`."""
        return self._call("GET", "/v1/performance", query={"by": by})["summaries"]

    # ---- operations ----

    def stats(self):
        """The engine's and the server's counters (GET /v1/stats)."""
        return self._call("GET", "/v1/stats")

    def health(self):
        """Liveness: {"status": "ok"}."""
        return self._call("GET", "/health")

    def ready(self):
        """{"ready": true, "persistence": "postgresql" or "memory_only"};
        raises not_ready (503) until recovery from the database is done."""
        return self._call("GET", "/ready")

    def openapi(self):
        """The server's OpenAPI 3.1 document."""
        return self._call("GET", "/openapi.json")

