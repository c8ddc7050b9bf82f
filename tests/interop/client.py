"""Interop peer: an OpenTelemetry Python SDK client calling a traced server.

Usage: python3 client.py URL

Starts a client span with baggage `tenant=acme`, injects `traceparent` and `baggage` with the SDK's global
propagators (tracecontext,baggage), GETs URL and prints one JSON line: the span's ids, the headers sent, and the
response's status, body and `traceparent`.
"""

import json
import sys
import urllib.request

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider


def main() -> None:
    url = sys.argv[1]
    trace.set_tracer_provider(TracerProvider())
    tracer = trace.get_tracer("traced-interop-client")
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with tracer.start_as_current_span("py-client", kind=trace.SpanKind.CLIENT) as span:
            headers: dict = {}
            propagate.inject(headers)
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
                body = response.read().decode()
                response_traceparent = response.headers.get("traceparent")
            ids = span.get_span_context()
            print(
                json.dumps(
                    {
                        "trace_id": format(ids.trace_id, "032x"),
                        "span_id": format(ids.span_id, "016x"),
                        "sent": headers,
                        "status": status,
                        "body": body,
                        "response_traceparent": response_traceparent,
                    }
                ),
                flush=True,
            )
    finally:
        context.detach(token)


if __name__ == "__main__":
    main()
