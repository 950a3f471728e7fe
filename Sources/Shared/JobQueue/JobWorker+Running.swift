import Foundation
import JSONBytes
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import Tracing

/// Running one job: its handler, under the job's metadata, and recording its outcome.
extension JobWorker {
    func start(_ job: ClaimedJob) {
        let entry = InFlight(job: job)
        self.state.withLock { $0.inFlight[job.id] = entry }
        // The task is unstructured on purpose: on shutdown a handler stuck past the grace period is handed back
        // and abandoned, instead of holding the process open (see `drain`); so is one past the job timeout.
        let task = Task {
            await self.execute(job, run: entry.run)
            self.state.withLock { state in
                if state.inFlight[job.id]?.run == entry.run { state.inFlight.removeValue(forKey: job.id) }
            }
            self.slotFreedSignal.yield()
        }
        self.state.withLock { state in
            if state.inFlight[job.id]?.run == entry.run { state.inFlight[job.id]?.task = task }
        }
    }

    func execute(_ job: ClaimedJob, run: UUID) async {
        // Set as one dictionary: swift-log's stream handler re-renders all its metadata on every single change.
        var logger = self.logger
        var metadata = logger.handler.metadata
        metadata["job.id"] = "\(job.id)"
        metadata["job.kind"] = "\(job.header.kind)"
        metadata["queue"] = "\(job.queue)"
        if let business = job.header.businessId { metadata["business.id"] = "\(business)" }
        if let shop = job.header.shop { metadata["shop"] = "\(shop)" }
        logger.handler.metadata = metadata
        let started = ContinuousClock.now
        let outcome: JobOutcome
        if let handler = self.registry.handler(for: job.header.kind) {
            do {
                try await self.traced(job) {
                    try await handler(job.envelope, JobContext(logger: logger, header: job.header, queue: job.queue))
                }
                outcome = .succeeded
            } catch let later as JobRetryLater {
                outcome = .retryLater(later)
            } catch let permanent as PermanentJobError {
                outcome = .failed(permanent.description, permanent: true)
            } catch {
                outcome = .failed(String(describing: error), permanent: false)
            }
        } else {
            outcome = .failed("no handler for job kind \(job.header.kind)", permanent: true)
        }
        let handedBack = self.state.withLock { state in
            // Gone or replaced: this run was abandoned after its timeout, and its outcome already recorded.
            guard state.inFlight[job.id]?.run == run else { return true }
            state.inFlight[job.id]?.settling = true
            return state.inFlight[job.id]?.handedBack ?? false
        }
        if handedBack {
            self.slotFreedSignal.yield()
            logger.info("job handed back before it finished; its outcome is dropped")
            return
        }
        let ran = ContinuousClock.now - started
        self.metrics.duration[job.queue]?.record(duration: ran)
        await self.settle(job, outcome: outcome, ran: ran, logger: logger)
    }

    /// Runs `body` in the job's span, continuing the trace its envelope carries (the gateway's delivery, say), with
    /// what an operator filters on. A handler's spans (PostgreSQL, Shopify) are its children. Without a tracer, just
    /// `body`.
    func traced(_ job: ClaimedJob, _ body: () async throws -> Void) async throws {
        guard JobTracing.isActive else { return try await body() }
        let header = job.header
        try await withSpan("job \(header.kind)", context: JobTracing.context(of: header), ofKind: .consumer) { span in
            span.attributes["job.id"] = header.id
            span.attributes["job.kind"] = header.kind
            span.attributes["job.queue"] = job.queue
            span.attributes["job.attempt"] = header.attempt
            if let business = header.businessId { span.attributes["flowpos.business_id"] = business.lowercasedString }
            if let shop = header.shop { span.attributes["shopify.shop"] = shop }
            try await body()
        }
    }

    enum JobOutcome {
        case succeeded
        case retryLater(JobRetryLater)
        case failed(String, permanent: Bool)
    }

    /// Records the outcome in the queue. A failure to do so is retried briefly; if the queue stays away the lease
    /// expires and the job runs again, which at-least-once allows.
    ///
    /// The slot is free from here on: an ack wakes the claim loop as it rides on its next claim, any other outcome
    /// wakes it at once.
    func settle(_ job: ClaimedJob, outcome: JobOutcome, ran: Duration, logger: Logger) async {
        if case .succeeded = outcome {} else { self.slotFreedSignal.yield() }
        var settlement = JobSettlement(header: job.header, queue: job.queue, outcome: .succeeded, error: nil, ran: ran)
        for attempt in 1...3 {
            do {
                switch outcome {
                case .succeeded:
                    var kept = attempt == 1 ? await self.ackWithNextClaim(job) : nil
                    if kept == nil { kept = try await self.queue.ack(job, workerId: self.id) }
                    if kept == false { logger.warning("job finished after its lease was lost; another worker may run it again") }
                    logger.debug("job succeeded")
                case .retryLater(let later):
                    try await self.queue.retry(job, workerId: self.id, envelope: job.envelope, after: later.delay)
                    settlement.outcome = .deferred
                    settlement.error = later.reason
                    logger.info("job deferred without spending an attempt", metadata: ["reason": "\(later.reason)", "delay": "\(later.delay)"])
                case .failed(let error, let permanent):
                    let failures = job.header.attempt + 1
                    let envelope = Self.bumpAttempt(job.envelope, to: failures)
                    if permanent || failures >= job.header.maxAttempts {
                        try await self.queue.bury(job, workerId: self.id, envelope: envelope, attempt: failures, error: error)
                        settlement.outcome = .dead
                        logger.error("job moved to dead letters", metadata: ["error": "\(error)", "attempt": "\(failures)"])
                    } else {
                        let delay = self.configuration.backoff.delay(afterFailures: failures)
                        try await self.queue.retry(job, workerId: self.id, envelope: envelope, after: delay)
                        settlement.outcome = .retrying
                        logger.warning("job failed; retrying", metadata: ["error": "\(error)", "attempt": "\(failures)", "delay": "\(delay)"])
                    }
                }
                if case .failed(let error, _) = outcome { settlement.error = error }
                self.configuration.onSettled?(settlement)
                break
            } catch {
                logger.error("recording the job's outcome failed", metadata: ["error": "\(error)", "try": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
        let counter: Counter? =
            switch outcome {
            case .succeeded: self.metrics.succeeded[job.queue]
            case .retryLater: self.metrics.deferred[job.queue]
            case .failed: self.metrics.failed[job.queue]
            }
        counter?.increment()
    }

    /// The envelope with `attempt` set, leaving the payload as it was.
    static func bumpAttempt(_ envelope: [UInt8], to attempt: Int) -> [UInt8] {
        guard var decoded = try? JobCoding.decoder().decode(JobEnvelope<JSONValue>.self, from: Data(envelope)),
            let encoded = try? { () throws -> Data in
                decoded.attempt = attempt
                return try JobCoding.encoder().encode(decoded)
            }()
        else { return envelope }
        return Array(encoded)
    }

}
