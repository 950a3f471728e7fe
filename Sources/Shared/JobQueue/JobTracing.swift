import Tracing

/// A job's place in a distributed trace: the context a span hands to the job it enqueues (``JobHeader/traceContext``),
/// and the span a worker runs the job in, continuing that trace across processes.
public enum JobTracing {
    /// Whether a tracer records spans: false with the default no-op one, so that hot paths can skip building spans.
    public static var isActive: Bool { !(InstrumentationSystem.tracer is NoOpTracer) }

    /// The propagation fields of `context`'s span (W3C `traceparent` with OpenTelemetry), for an envelope; nil
    /// when there are none.
    public static func carrier(of context: ServiceContext) -> [String: String]? {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier.isEmpty ? nil : carrier
    }

    /// The context a job's header carries, to continue its trace; the top level when it carries none.
    public static func context(of header: JobHeader) -> ServiceContext {
        var context = ServiceContext.topLevel
        if let carrier = header.traceContext {
            InstrumentationSystem.instrument.extract(carrier, into: &context, using: DictionaryExtractor())
        }
        return context
    }

    struct DictionaryInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    struct DictionaryExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}
