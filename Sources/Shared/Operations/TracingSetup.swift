import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Distributed tracing for a process: spans exported with OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and nothing otherwise (the default no-op tracer: the code's spans
/// then cost next to nothing, and the webhook path skips them altogether).
///
/// The rest of OpenTelemetry's standard variables apply: `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default,
/// or `http/json`; gRPC is not built in), `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY` and
/// the others swift-otel reads. Only traces go to OpenTelemetry: metrics stay Prometheus's and logs swift-log's.
public enum TracingSetup {
    /// Whether `environment` asks for spans to be exported.
    public static func isRequested(in environment: [String: String]) -> Bool {
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].contains { !(environment[$0] ?? "").isEmpty }
    }

    /// Bootstraps the process's tracer from `environment`: the exporter's service to run beside the process's
    /// others (it flushes the last spans on shutdown), or nil when tracing is off. Call once, before any span.
    public static func bootstrap(serviceName: String, environment: [String: String], logger: Logger) throws -> (any Service)? {
        guard Self.isRequested(in: environment) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.diagnosticLogLevel = .warning
        let service = try OTel.bootstrap(configuration: configuration, environment: environment)
        logger.info("tracing: spans exported with OTLP", metadata: ["service": "\(serviceName)"])
        return service
    }
}
