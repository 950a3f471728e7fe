import Foundation
import JSONBytes
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// A worker process's job processor: claims jobs, runs their handlers with bounded concurrency, keeps their leases
/// alive, acks, retries or buries them, recovers the jobs of dead workers, and hands unfinished jobs back on
/// graceful shutdown.
///
/// Its parts, each in its own file: claiming (`JobWorker+Claiming`: the claim loop, prefetch, acks riding on
/// claims, claims whose answer was lost), running (`JobWorker+Running`: a job's handler and its outcome),
/// leases and timeouts (`JobWorker+Leases`: heartbeat, overdue jobs, queue maintenance), shutdown
/// (`JobWorker+Shutdown`) and metrics (`JobMetrics`). It talks to its queue through ``JobQueueDriver`` only.
public final class JobWorker: Service, Sendable {
    /// This process's identity in claims (`host-pid-random`).
    public let id: String
    let queue: any JobQueueDriver
    let registry: JobRegistry
    let configuration: JobWorkerConfiguration
    let logger: Logger
    let state = Mutex(State())
    let metrics: JobMetrics
    let slotFreed: AsyncStream<Void>
    let slotFreedSignal: AsyncStream<Void>.Continuation

    struct InFlight {
        var job: ClaimedJob
        /// This run of the job (the same job id may run again here after a timeout while the old run hangs).
        var run = UUID.random()
        var startedAt = ContinuousClock.now
        var task: Task<Void, Never>?
        var handedBack = false
        /// The handler has returned and the outcome is being recorded: the lease no longer needs renewing.
        var settling = false
    }

    /// A succeeded job whose ack waits for the claim loop's next claim.
    struct PendingAck {
        var job: ClaimedJob
        /// Resumed with the ack's result, or nil when the claim loop did not send it (the job then acks alone).
        var done: CheckedContinuation<Bool?, Never>
    }

    struct State {
        var inFlight: [String: InFlight] = [:]
        var shuttingDown = false
        var pendingAcks: [PendingAck] = []
        /// Claimed ahead of a free slot (`prefetch`), in claim order; leased, not started.
        var held: [ClaimedJob] = []
        /// Whether the claim loop is about to claim again, and so can carry acks: false while it sleeps on empty
        /// queues and once it has stopped.
        var claimLoopTakesAcks = false
        /// Jobs handed back because their claim's reply was lost (see ``JobWorker/releaseUnreceivedClaims()``).
        var unreceivedReleased = 0
        /// Jobs abandoned after their timeout whose failure is being recorded: no longer in flight, still leased to
        /// this worker, so never taken for a claim whose reply was lost.
        var recordingAbandoned: Set<String> = []
        /// When this worker's leases were last renewed (or it started).
        var leasesRenewedAt = ContinuousClock.now
    }

    /// A worker of `configuration.queues` on `queue`, running the handlers of `registry`.
    public init(queue: any JobQueueDriver, registry: JobRegistry, configuration: JobWorkerConfiguration, logger: Logger) {
        self.id = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        self.queue = queue
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.metrics = JobMetrics(queues: configuration.queues)
        (self.slotFreed, self.slotFreedSignal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Jobs running right now in this process.
    public var inFlightCount: Int { self.state.withLock { $0.inFlight.count } }

    /// Jobs this worker handed back because the reply to their claim was lost, since it started.
    public var unreceivedClaimsReleased: Int { self.state.withLock { $0.unreceivedReleased } }

    /// Runs until cancelled or gracefully shut down; then drains (see `drain`) and removes its report.
    public func run() async throws {
        self.logger.info(
            "worker started",
            metadata: ["worker.id": "\(self.id)", "queues": "\(self.configuration.queues)", "concurrency": "\(self.configuration.concurrency)"]
        )
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeatLoop() }
            group.addTask { await self.maintenanceLoop() }
            await withGracefulShutdownHandler {
                await self.claimLoop()
            } onGracefulShutdown: {
                self.state.withLock { $0.shuttingDown = true }
                self.slotFreedSignal.yield()
            }
            await self.drain()
            group.cancelAll()
        }
        try? await self.queue.removeWorker(id: self.id)
        self.logger.info("worker stopped", metadata: ["worker.id": "\(self.id)"])
    }
}
