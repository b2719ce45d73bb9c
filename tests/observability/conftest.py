"""Fixtures for the observability tests: an in-memory span exporter on the process's provider (cleared for each
test), and a small OTLP/HTTP receiver on loopback that decodes what exporters send."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hugginggpt.observability import tracing
from stub_http import serve_in_thread, stop


@pytest.fixture
def spans() -> Iterator[Any]:
    """An ``InMemorySpanExporter`` receiving every span ended during the test (then removed)."""
    tracing.reset_tracing()
    exporter = tracing.install_memory_exporter()
    yield exporter
    tracing.reset_tracing()


class OTLPReceiver:
    """A real OTLP/HTTP traces endpoint (``POST /v1/traces``, protobuf ``ExportTraceServiceRequest``) on loopback:
    it decodes each request with opentelemetry-proto's classes and keeps the spans with their resource."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                    ExportTraceServiceRequest,
                    ExportTraceServiceResponse,
                )

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                with receiver._lock:
                    receiver.requests.append(req)
                    receiver.paths.append(self.path)
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[dict[str, Any]]:
        """Every span received: name, ids (hex), parent id, attributes and the resource's service.name."""
        out = []
        with self._lock:
            requests = list(self.requests)
        for req in requests:
            for rs in req.resource_spans:
                resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        attrs = {kv.key: _value(kv.value) for kv in s.attributes}
                        out.append({"name": s.name, "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                                    "parent_span_id": s.parent_span_id.hex(), "attributes": attrs,
                                    "service": resource.get("service.name"), "scope": ss.scope.name})
        return out

    def wait_for(self, name: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [s for s in self.spans() if s["name"] == name]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no span {name!r} received in {timeout} s; got {[s['name'] for s in self.spans()]}")


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


@pytest.fixture
def otlp_receiver() -> Iterator[OTLPReceiver]:
    r = OTLPReceiver()
    thread = serve_in_thread(r.server)
    yield r
    stop(r.server, thread)
