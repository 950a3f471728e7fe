import Foundation
import JSONBytes
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Graceful shutdown: held jobs back at once, running ones after the grace period.
extension JobWorker {
    /// Waits for in-flight jobs up to the grace period, then hands the rest back to their queues.
    func drain() async {
        // Held jobs never started: back to their queues first, for other workers to take now.
        let held = self.state.withLock { state in
            defer { state.held = [] }
            return state.held
        }
        for job in held { await self.handBack(job) }
        let deadline = ContinuousClock.now + self.configuration.shutdownGrace
        while self.inFlightCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let unfinished = self.state.withLock { state in
            for id in state.inFlight.keys { state.inFlight[id]?.handedBack = true }
            return Array(state.inFlight.values)
        }
        for entry in unfinished {
            await self.handBack(entry.job)
            entry.task?.cancel()
        }
    }

    func handBack(_ job: ClaimedJob) async {
        do {
            try await self.queue.release(job, workerId: self.id)
            self.logger.info("job handed back on shutdown", metadata: ["job.id": "\(job.id)", "queue": "\(job.queue)"])
        } catch {
            self.logger.error(
                "handing a job back failed; its lease will expire and another worker will recover it",
                metadata: ["job.id": "\(job.id)", "error": "\(error)"]
            )
        }
    }
}
