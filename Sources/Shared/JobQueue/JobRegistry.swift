import Foundation
import JSONBytes
import Logging

/// What a handler knows about the job it runs.
public struct JobContext: Sendable {
    /// A logger carrying `job.id`, `job.kind`, `queue`, `business.id` and `shop`.
    public var logger: Logger
    public var header: JobHeader
    public var queue: String
}

/// The handlers of one worker process, by job kind.
public struct JobRegistry: Sendable {
    typealias Handler = @Sendable ([UInt8], JobContext) async throws -> Void
    private var handlers: [String: Handler] = [:]
    private var queuesInOrder: [String] = []
    /// What a handler's error means to the worker, applied to every error a handler throws: the place where the
    /// errors of lower layers become ``JobRetryLater`` or ``PermanentJobError`` (they do not know the queue).
    public var mapError: @Sendable (any Error) -> any Error = { $0 }

    public init() {}

    /// Registers the handler of one job kind. A payload that does not decode as `Job.Payload` is a
    /// ``PermanentJobError``: running it again cannot help.
    public mutating func register<Job: JobDefinition>(
        _ job: Job.Type,
        handler: @escaping @Sendable (JobEnvelope<Job.Payload>, JobContext) async throws -> Void
    ) {
        self.register(job, decode: { try JobCoding.decoder().decode(JobEnvelope<Job.Payload>.self, from: Data($0)) }, handler: handler)
    }

    /// Registers a kind whose payload also reads itself from bytes (`JSONScannable`): decoded without `Codable`,
    /// for the job kinds that come by the thousand (order ingestion).
    public mutating func register<Job: JobDefinition>(
        _ job: Job.Type,
        handler: @escaping @Sendable (JobEnvelope<Job.Payload>, JobContext) async throws -> Void
    ) where Job.Payload: JSONScannable {
        self.register(job, decode: { try JobEnvelope<Job.Payload>(json: $0) }, handler: handler)
    }

    private mutating func register<Job: JobDefinition>(
        _ job: Job.Type,
        decode: @escaping @Sendable ([UInt8]) throws -> JobEnvelope<Job.Payload>,
        handler: @escaping @Sendable (JobEnvelope<Job.Payload>, JobContext) async throws -> Void
    ) {
        precondition(self.handlers[Job.kind] == nil, "job kind \(Job.kind) registered twice")
        self.handlers[Job.kind] = { raw, context in
            let envelope: JobEnvelope<Job.Payload>
            do {
                envelope = try decode(raw)
            } catch {
                throw PermanentJobError(code: "malformed_payload", message: "payload of \(Job.kind) does not decode: \(error)")
            }
            try await handler(envelope, context)
        }
        if !self.queuesInOrder.contains(Job.queue) { self.queuesInOrder.append(Job.queue) }
    }

    /// The job kinds that have a handler.
    public var kinds: Set<String> { Set(self.handlers.keys) }

    /// The queues that registered kinds live on, in registration order.
    public var queues: [String] { self.queuesInOrder }

    func handler(for kind: String) -> Handler? {
        guard let handler = self.handlers[kind] else { return nil }
        let mapError = self.mapError
        return { raw, context in
            do {
                try await handler(raw, context)
            } catch {
                throw mapError(error)
            }
        }
    }
}
