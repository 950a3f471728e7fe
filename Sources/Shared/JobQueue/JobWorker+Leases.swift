import Foundation
import JSONBytes
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Leases and timeouts: the heartbeat that renews leases and reports the worker, overdue jobs abandoned, and the
/// queue maintenance every worker runs (due retries, recovery of lost workers' jobs, dead-letter retention).
extension JobWorker {
    func heartbeatLoop() async {
        let started = Int64(Date().timeIntervalSince1970 * 1000)
        while !Task.isCancelled {
            let inFlight = self.state.withLock { $0.inFlight.count }
            // Visible to `ecommerce-worker workers`; a report failing is not worth stopping for.
            try? await self.queue.report(
                worker: WorkerReport(
                    id: self.id,
                    host: ProcessInfo.processInfo.hostName,
                    pid: getpid(),
                    queues: self.configuration.queues,
                    concurrency: self.configuration.concurrency,
                    inFlight: inFlight,
                    startedAtMs: started,
                    heartbeatAtMs: Int64(Date().timeIntervalSince1970 * 1000)
                )
            )
            try? await Task.sleep(for: self.configuration.heartbeatInterval)
            self.sendWaitingAcksAlone()
            await self.abandonOverdueJobs()
            await self.renewLeases()
        }
    }

    /// Renews the leases of the jobs running (not yet settling) and held.
    func renewLeases() async {
        let byQueue = self.state.withLock { state in
            state.leasesRenewedAt = .now
            let leased = state.inFlight.values.filter { !$0.settling }.map(\.job) + state.held
            return Dictionary(grouping: leased, by: \.queue).mapValues { $0.map(\.id) }
        }
        for (queue, ids) in byQueue {
            do {
                let kept = try await self.queue.extendLeases(queue: queue, jobIds: ids, workerId: self.id, lease: self.configuration.lease)
                // A job acked while the renewal was on its way is not lost: count only jobs still running or held.
                let running = self.state.withLock { state in
                    ids.count { id in state.inFlight[id].map { !$0.settling } ?? state.held.contains { $0.id == id } }
                }
                if kept < running {
                    self.logger.warning(
                        "leases lost: those jobs were recovered by another worker",
                        metadata: ["queue": "\(queue)", "lost": "\(running - kept)"]
                    )
                }
            } catch {
                self.logger.error("extending leases failed", metadata: ["queue": "\(queue)", "error": "\(error)"])
            }
        }
    }

    /// Jobs whose handler ran past the job timeout: cancelled, their slot freed, the run counted as a failure.
    func abandonOverdueJobs() async {
        let timeout = self.configuration.jobTimeout
        let overdue = self.state.withLock { state -> [InFlight] in
            let now = ContinuousClock.now
            let overdue = state.inFlight.values.filter { !$0.settling && !$0.handedBack && now - $0.startedAt > timeout }
            for entry in overdue {
                state.inFlight.removeValue(forKey: entry.job.id)
                state.recordingAbandoned.insert(entry.job.id)
            }
            return overdue
        }
        for entry in overdue {
            entry.task?.cancel()
            self.slotFreedSignal.yield()
            var logger = self.logger
            logger[metadataKey: "job.id"] = "\(entry.job.id)"
            logger[metadataKey: "job.kind"] = "\(entry.job.header.kind)"
            logger[metadataKey: "queue"] = "\(entry.job.queue)"
            logger.error("job timed out; abandoned", metadata: ["timeout": "\(timeout)"])
            await self.settle(entry.job, outcome: .failed("timed out after \(timeout)", permanent: false), ran: timeout, logger: logger)
            _ = self.state.withLock { $0.recordingAbandoned.remove(entry.job.id) }
        }
    }

    func maintenanceLoop() async {
        var lastPrune: ContinuousClock.Instant?
        while !Task.isCancelled {
            if let retention = self.configuration.deadLetterRetention,
                lastPrune.map({ .now - $0 >= self.configuration.deadLetterPruneInterval }) ?? true
            {
                lastPrune = .now
                await self.pruneDeadLetters(olderThan: retention)
            }
            // After the process stood still (a stalled machine, a debugger), this loop may wake before the
            // heartbeat: renew this worker's own leases first, so that it does not recover its own live jobs.
            let renewalsLate = self.state.withLock { .now - $0.leasesRenewedAt > self.configuration.heartbeatInterval * 2 }
            if renewalsLate { await self.renewLeases() }
            for queue in self.configuration.queues {
                do {
                    let result = try await self.queue.maintain(queue: queue, maxRecoveries: self.configuration.maxRecoveries)
                    if result.recovered > 0 || result.quarantined > 0 {
                        self.logger.warning(
                            "recovered jobs of a lost worker",
                            metadata: ["queue": "\(queue)", "recovered": "\(result.recovered)", "quarantined": "\(result.quarantined)"]
                        )
                        self.metrics.recovered[queue]?.increment(by: Int64(result.recovered))
                        self.metrics.quarantined[queue]?.increment(by: Int64(result.quarantined))
                    }
                } catch {
                    self.logger.error("queue maintenance failed", metadata: ["queue": "\(queue)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: self.configuration.maintenanceInterval)
        }
    }

    /// One batch of the dead-letter retention per queue.
    func pruneDeadLetters(olderThan retention: Duration) async {
        for queue in self.configuration.queues {
            do {
                let (deleted, _) = try await self.queue.pruneDeadLetters(queue: queue, olderThan: retention)
                if deleted > 0 { self.logger.info("old dead letters deleted", metadata: ["queue": "\(queue)", "count": "\(deleted)"]) }
            } catch {
                self.logger.error("dead-letter retention failed", metadata: ["queue": "\(queue)", "error": "\(error)"])
            }
        }
    }

}
