"""Resolved access logs -> Envoy `access_log` entries (file logger), as istiod writes them
(istio/istio pilot/pkg/model/telemetry_logging.go, pilot/pkg/networking/core/accesslog.go):

- `logFormat.text`: a text format (Istio adds the trailing newline when missing); `logFormat.labels`:
  JSON lines with those keys; neither: Istio's default text format.
- `filter.expression`: Envoy's CEL access log filter (`envoy.access_loggers.extension_filters.cel`),
  which Envoy 1.40 ships; the expression was parsed by validation, so Envoy never sees a bad one.
Envoy: https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage
"""

from __future__ import annotations

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.core.v3 import base_pb2, extension_pb2, substitution_format_string_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.access_loggers.filters.cel.v3 import cel_pb2
from envoy.extensions.formatter.req_without_query.v3 import req_without_query_pb2
from google.protobuf import struct_pb2

from pilot.model.providers import FileLog
from pilot.model.telemetry import AccessLogSpec
from pilot.translate.pb import pack

FILE_LOGGER = "envoy.access_loggers.file"
CEL_FILTER = "envoy.access_loggers.extension_filters.cel"
REQ_WITHOUT_QUERY = "envoy.formatter.req_without_query"

# Istio's default text format (EnvoyTextLogFormat), one operator per field Istio logs.
DEFAULT_TEXT_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% '
    '%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% '
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% '
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" '
    '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% '
    '%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% '
    '%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n')


def access_logs(specs: tuple[AccessLogSpec, ...]) -> list[accesslog_pb2.AccessLog]:
    out = []
    for spec in specs:
        assert spec.provider.file_log is not None
        entry = accesslog_pb2.AccessLog(name=FILE_LOGGER, typed_config=pack(file_log(spec.provider.file_log)))
        if spec.filter:
            cel = cel_pb2.ExpressionFilter(expression=spec.filter)
            entry.filter.extension_filter.CopyFrom(accesslog_pb2.ExtensionFilter(name=CEL_FILTER,
                                                                                 typed_config=pack(cel)))
        out.append(entry)
    return out


def file_log(log: FileLog) -> file_pb2.FileAccessLog:
    fmt = substitution_format_string_pb2.SubstitutionFormatString()
    if log.labels:
        fmt.json_format.CopyFrom(_struct(log.labels))
        fmt.json_format_options.sort_properties = False
        operators = "".join(v for _, v in log.labels)
    else:
        text = log.text if log.text else DEFAULT_TEXT_FORMAT
        text = text if text.endswith("\n") else text + "\n"
        fmt.text_format_source.CopyFrom(base_pb2.DataSource(inline_string=text))
        operators = text
    if "%REQ_WITHOUT_QUERY" in operators:
        fmt.formatters.append(extension_pb2.TypedExtensionConfig(
            name=REQ_WITHOUT_QUERY, typed_config=pack(req_without_query_pb2.ReqWithoutQuery())))
    return file_pb2.FileAccessLog(path=log.path, log_format=fmt)


def _struct(labels: tuple[tuple[str, str], ...]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    for key, value in labels:
        s.fields[key].string_value = value
    return s
