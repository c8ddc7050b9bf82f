"""Interop peer: an OpenTelemetry Python SDK server continuing the trace of its callers.

Usage: python3 server.py

Listens on 127.0.0.1 on a free port and prints `{"port": N}` as its first line. For every GET it extracts the
context with the SDK's global propagators (tracecontext,baggage), starts a server span in it, and answers (and
prints) one JSON line: the extracted trace id, parent span id and baggage, and the ids of its own span. Exits by
itself after INTEROP_TIMEOUT seconds (default 60), should its parent die without killing it.
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import baggage, propagate, trace
from opentelemetry.sdk.trace import TracerProvider

trace.set_tracer_provider(TracerProvider())
TRACER = trace.get_tracer("traced-interop-server")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        # The SDK's default getter matches keys exactly; header names are case-insensitive.
        carrier = {name.lower(): value for name, value in self.headers.items()}
        extracted = propagate.extract(carrier)
        parent = trace.get_current_span(extracted).get_span_context()
        with TRACER.start_as_current_span(
            "py-server", context=extracted, kind=trace.SpanKind.SERVER
        ) as span:
            own = span.get_span_context()
            report = {
                "extracted_valid": parent.is_valid,
                "extracted_remote": parent.is_remote,
                "extracted_trace_id": format(parent.trace_id, "032x"),
                "extracted_span_id": format(parent.span_id, "016x"),
                "baggage": {k: str(v) for k, v in baggage.get_all(extracted).items()},
                "span_trace_id": format(own.trace_id, "032x"),
                "span_parent_id": format(span.parent.span_id, "016x") if span.parent else None,
            }
        body = json.dumps(report).encode()
        print(json.dumps(report), flush=True)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # stdout is the report channel; access logs would only be noise


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    timer = threading.Timer(float(os.environ.get("INTEROP_TIMEOUT", "60")), os._exit, args=(3,))
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
