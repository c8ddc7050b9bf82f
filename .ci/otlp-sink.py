#!/usr/bin/env python3
"""A counting OTLP/HTTP traces receiver for CI scripts: `otlp-sink.py PORT` counts the spans POSTed to /v1/traces
per service name, and `GET /count?service=NAME` answers how many arrived."""

import gzip
import sys
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

SPANS = Counter()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        # The collector forwards the metrics and logs of the same commands too: accepted, not counted.
        if urllib.parse.urlparse(self.path).path != "/v1/traces":
            self.send_response(200)
            self.end_headers()
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
            )
            SPANS[service] += sum(len(scope.spans) for scope in resource_spans.scope_spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        count = SPANS[query.get("service", [""])[0]]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(str(count).encode())

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
