"""The load client of scripts/bench-glance: one workload against any Glance v2 endpoint.

Two kinds of case, so that imagefleet and the reference Glance are measured by the same
client in the same way:

- new-connection cases (Python, stdlib http.client): CLIENTS threads share OPS requests,
  each request on a NEW TCP connection (connect, send, read the whole answer, close),
  timed from before the connect to the last byte. The cases chain on one project's
  images: create makes the images, upload puts 1 MiB into each (204), get and download
  read them, list reads the first page of 25, delete removes them.
- keep-alive cases (wrk, 2 threads, 8 connections, 10 s, `--latency`): get (over the
  created images), create, list (limit 25), each on connections wrk keeps open as long
  as the server does.

Any unexpected status stops the benchmark: a fast error is not a result. Standalone:
`python3 scripts/glance_load.py http://127.0.0.1:9292` runs every case once and prints
the figures as JSON.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

CLIENTS = 8
OPS = 300
DATA = os.urandom(1 << 20)
WRK_SECONDS = 10
# A long timeout: wrk leaves requests slower than its timeout (2 s) out of the latencies.
WRK_ARGS = ["-t2", "-c8", "--timeout", "60s"]

# (case, method, expected status, row label); the order they run in.
CASES = [
    ("create", "POST", 201, "create (POST /v2/images)"),
    ("upload", "PUT", 204, "upload 1 MiB (PUT /v2/images/{id}/file)"),
    ("get", "GET", 200, "get (GET /v2/images/{id})"),
    ("download", "GET", 200, "download 1 MiB (GET /v2/images/{id}/file)"),
    ("list", "GET", 200, "list (GET /v2/images?limit=25)"),
    ("delete", "DELETE", 204, "delete (DELETE /v2/images/{id})"),
]
KEEPALIVE = [
    ("ka-get", "keep-alive get (wrk)"),
    ("ka-create", "keep-alive create (wrk)"),
    ("ka-list", "keep-alive list limit 25 (wrk)"),
]
CREATE_BODY = json.dumps({"name": "bench", "disk_format": "raw", "container_format": "bare"})


class BenchError(Exception):
    """An answer the workload did not expect."""


class Target:
    """One endpoint and the identity and images the cases use there."""

    def __init__(self, name, url):
        parsed = urllib.parse.urlsplit(url)
        self.name = name
        self.url = url.rstrip("/")
        self.host, self.port = parsed.hostname, parsed.port or 80
        # A project of its own per target and run: lists see only this run's images.
        self.project = "bench-" + uuid.uuid4().hex[:12]
        self.headers = {
            "X-Project-Id": self.project,
            "X-User-Id": "bench-user",
            "X-Roles": "member,reader",
        }
        self.images = []

    def request(self, method, path, body=None, content_type=None):
        """One request on a new connection: (status, body bytes)."""
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def one(target, case, n):
    """Sends request n of `case`; returns the created image's id for a create."""
    images = target.images
    if case == "create":
        args = ("POST", "/v2/images", CREATE_BODY, "application/json")
    elif case == "upload":
        args = ("PUT", f"/v2/images/{images[n]}/file", DATA, "application/octet-stream")
    elif case == "get":
        args = ("GET", f"/v2/images/{images[n % len(images)]}")
    elif case == "download":
        args = ("GET", f"/v2/images/{images[n % len(images)]}/file")
    elif case == "list":
        args = ("GET", "/v2/images?limit=25")
    else:
        args = ("DELETE", f"/v2/images/{images[n]}")
    expected = next(status for name, _, status, _ in CASES if name == case)
    status, body = target.request(*args)
    if status != expected:
        raise BenchError(f"{target.name} {case} {args[1]}: {status} (expected {expected}): {body[:500]!r}")
    if case == "download" and len(body) != len(DATA):
        raise BenchError(f"{target.name} download {args[1]}: {len(body)} bytes, not {len(DATA)}")
    if case == "create":
        return json.loads(body)["id"]
    return None


def percentile(sorted_values, p):
    """The pth percentile (nearest rank) of sorted values."""
    rank = -(-p * len(sorted_values) // 100)
    return sorted_values[min(max(int(rank), 1), len(sorted_values)) - 1]


def run_case(target, case, ops=OPS, clients=CLIENTS):
    """Runs `ops` requests of `case` from `clients` threads: ops/s, p50 and p99 ms."""
    if case in ("upload", "delete"):
        ops = min(ops, len(target.images))
    latencies, created, errors = [], [], []
    lock = threading.Lock()
    counter = iter(range(ops))

    def client():
        while not errors:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            sent = time.perf_counter()
            try:
                image = one(target, case, n)
            except Exception as error:  # noqa: BLE001 - reported below, stops the run
                errors.append(error)
                return
            took = (time.perf_counter() - sent) * 1000
            with lock:
                latencies.append(took)
                if image:
                    created.append(image)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise BenchError(str(errors[0]))
    if case == "create":
        target.images = created
    elif case == "delete":
        target.images = []
    latencies.sort()
    return {
        "requests": len(latencies),
        "ops": len(latencies) / elapsed,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


WRK_SCRIPT = """
local headers = {{["X-Project-Id"] = "{project}", ["X-User-Id"] = "bench-user",
  ["X-Roles"] = "member,reader", ["Content-Type"] = "application/json"}}
local images = {{{images}}}
local n = 0
request = function()
  n = n + 1
  {body}
end
"""
WRK_BODIES = {
    "ka-get": 'return wrk.format("GET", "/v2/images/" .. images[n % #images + 1], headers)',
    "ka-create": "return wrk.format(\"POST\", \"/v2/images\", headers, '" + CREATE_BODY + "')",
    "ka-list": 'return wrk.format("GET", "/v2/images?limit=25", headers)',
}
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    """wrk's latency ('812.00us', '1.20ms', '1.01s') in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchError(f"wrk latency {text!r} not understood")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def run_wrk(target, case, seconds=WRK_SECONDS):
    """Runs one keep-alive case with wrk: ops/s, p50 and p99 ms, and the connections."""
    body = WRK_BODIES[case]
    images = ", ".join(f'"{image}"' for image in target.images) or '""'
    script = WRK_SCRIPT.format(project=target.project, images=images, body=body)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        out = subprocess.run(
            ["wrk", *WRK_ARGS, f"-d{seconds}s", "--latency", "-s", lua.name, target.url],
            check=True, capture_output=True, text=True,
        ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rate and total and p50 and p99):
        raise BenchError(f"wrk output not understood:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    connect, reads, write, timeout = (int(n) for n in errors.groups()) if errors else (0, 0, 0, 0)
    # A read error is a connection the server closed after an answer (uWSGI's
    # http-socket does so after each one; wrk then reconnects): counted, not fatal.
    if bad or connect or write or timeout:
        raise BenchError(f"{target.name} {case}: wrk saw errors:\n{out}")
    return {"requests": int(total.group(1)), "ops": float(rate.group(1)),
            "p50": to_ms(p50.group(1)), "p99": to_ms(p99.group(1)), "closed": reads}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: glance_load.py BASE_URL")
    target = Target("target", sys.argv[1])
    results = {}
    for case, *_ in CASES[:-1]:
        results[case] = run_case(target, case)
    for case, _ in KEEPALIVE:
        results[case] = run_wrk(target, case)
    results["delete"] = run_case(target, "delete")
    json.dump(results, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
