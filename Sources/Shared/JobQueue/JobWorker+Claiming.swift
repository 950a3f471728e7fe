import Foundation
import JSONBytes
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Claiming: the claim loop, prefetch, acks that ride on the next claim, and claims whose answer was lost.
extension JobWorker {
    /// What one turn of the claim loop does, decided under the state lock.
    struct ClaimTurn {
        /// Held jobs that now have a slot.
        var start: [ClaimedJob] = []
        /// Acks to send with this turn's claim (empty when the turn does not call the queue).
        var acks: [PendingAck] = []
        var queues: [String] = []
        var max = 0
        var callsQueue: Bool { self.max > 0 || !self.acks.isEmpty }
    }

    /// Starts held jobs in free slots and decides whether to call the queue: when no job is held to fill the next free
    /// slot, or when enough acks wait. Group queues never have jobs held beyond the group's room. Nil once the
    /// worker is shutting down.
    func planTurn(_ state: inout State, rotation: Int) -> ClaimTurn? {
        if state.shuttingDown { return nil }
        var turn = ClaimTurn()
        state.claimLoopTakesAcks = true
        let group = self.configuration.groupLimit
        func inGroup(_ queue: String) -> Bool { group?.queues.contains(queue) == true }
        // Jobs whose handler returned do not hold a slot while their outcome is recorded.
        let running = state.inFlight.values.filter { !$0.settling }
        var free = self.configuration.concurrency - running.count
        var room = group.map { $0.maxInFlight - running.count { inGroup($0.job.queue) } } ?? Int.max
        var stillHeld: [ClaimedJob] = []
        for job in state.held {
            if free > 0 && (!inGroup(job.queue) || room > 0) {
                turn.start.append(job)
                free -= 1
                if inGroup(job.queue) { room -= 1 }
            } else {
                stillHeld.append(job)
            }
        }
        state.held = stillHeld
        room -= stillHeld.count { inGroup($0.queue) }

        let queues = self.configuration.queues
        let first = rotation % queues.count
        var order = Array(queues[first...]) + Array(queues[..<first])
        var want = free + self.configuration.prefetch - stillHeld.count
        if group != nil {
            // A claim takes at most what the group has room for whenever a group queue is among those asked.
            if room <= 0 { order.removeAll(where: inGroup) }
            if order.contains(where: inGroup) { want = min(want, room) }
        }
        let max = order.isEmpty ? 0 : Swift.max(0, want)
        // Without prefetch every ack goes at once (with the claim of the slot it freed); with it, acks gather until
        // the held jobs run out or `prefetch` of them wait (and the heartbeat sends any that wait longer).
        let needsJobs = max > 0 && stillHeld.isEmpty
        if needsJobs || state.pendingAcks.count >= Swift.max(1, self.configuration.prefetch) {
            turn.acks = state.pendingAcks
            state.pendingAcks = []
            turn.queues = order
            turn.max = max
        }
        return turn
    }

    /// Claims jobs whenever a slot is free, sending the acks of jobs that succeeded meanwhile with the claim.
    ///
    /// With `prefetch`, a claim also takes that many jobs beyond the free slots and holds them (leased like running
    /// ones): a slot that frees is refilled at once, and the queue is asked again only when the held jobs run out, so
    /// that one round trip claims and acks several jobs.
    func claimLoop() async {
        var slotFreed = self.slotFreed.makeAsyncIterator()
        var idleWait = Duration.milliseconds(1)
        var rotation = 0
        /// When to look for claims whose reply was lost, after a claim failed.
        var unreceivedChecks: [ContinuousClock.Instant] = []
        defer { self.sendWaitingAcksAlone(stopTaking: true) }
        while !Task.isCancelled {
            if let due = unreceivedChecks.first, due <= .now {
                // Here, between claims, so that no claim's reply is on its way while it looks.
                if await self.releaseUnreceivedClaims() { unreceivedChecks.removeFirst() }
            }
            // Held jobs left when shutting down are handed back by `drain`.
            guard let turn = self.state.withLock({ self.planTurn(&$0, rotation: rotation) }) else { return }
            for job in turn.start { self.start(job) }
            guard turn.callsQueue else {
                if turn.start.isEmpty { _ = await slotFreed.next() }
                continue
            }
            rotation &+= 1
            let jobs: [ClaimedJob]
            do {
                let claimed = try await self.queue.claim(
                    from: turn.queues,
                    workerId: self.id,
                    max: turn.max,
                    lease: self.configuration.lease,
                    shopCaps: self.configuration.shopCaps,
                    acking: turn.acks.map(\.job)
                )
                jobs = claimed.jobs
                for (ack, kept) in zip(turn.acks, claimed.acked) { ack.done.resume(returning: kept) }
            } catch {
                for ack in turn.acks { ack.done.resume(returning: nil) }
                self.logger.error("claiming jobs failed", metadata: ["error": "\(error)"])
                // The queue may have run the claim and lost only its answer: those jobs are leased to this worker, which
                // does not know them. Look once the connection is back, and again before their lease could expire
                // (a claim still queued when the connection broke may run after the first look).
                if turn.max > 0 {
                    unreceivedChecks = [.now + .seconds(1), .now + self.configuration.lease / 2].sorted()
                }
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if turn.max == 0 { continue }
            let holdsNone = self.state.withLock { state in
                state.held.append(contentsOf: jobs)  // started by the next turn, in claim order
                return state.held.isEmpty
            }
            if holdsNone {
                // Nothing to do: acks arriving while this loop sleeps are sent by their jobs, not held up by the nap.
                self.sendWaitingAcksAlone(stopTaking: true)
                try? await Task.sleep(for: idleWait)
                idleWait = min(idleWait * 2, self.configuration.maxIdleWait)
                continue
            }
            idleWait = .milliseconds(1)
        }
    }

    /// Hands back the jobs leased to this worker that it neither runs nor holds: claims the queue ran whose answer never
    /// arrived. Without this their lease would expire and count a recovery, and a job that never ran would be
    /// quarantined after a few broken connections. Returns false if the queue could not be asked (try again later).
    func releaseUnreceivedClaims() async -> Bool {
        let holding = self.state.withLock { state in
            Set(state.inFlight.keys).union(state.held.map(\.id)).union(state.recordingAbandoned)
        }
        var released = 0
        for queue in self.configuration.queues {
            do {
                released += try await self.queue.releaseUnreceived(queue: queue, workerId: self.id, holding: holding)
            } catch {
                self.logger.warning("could not look for claims whose reply was lost", metadata: ["error": "\(error)"])
                return false
            }
        }
        if released > 0 {
            self.state.withLock { $0.unreceivedReleased += released }
            self.logger.warning("jobs whose claim reply was lost handed back, not counted as recoveries", metadata: ["jobs": "\(released)"])
        }
        return true
    }

    /// Sends the acks still waiting for a claim on their own: from the heartbeat, which bounds how long an ack
    /// waits (a job that finished no longer has its lease renewed), and with `stopTaking` from the claim loop when
    /// it naps or ends, after which acks go alone until its next turn.
    func sendWaitingAcksAlone(stopTaking: Bool = false) {
        let waiting = self.state.withLock { state in
            if stopTaking { state.claimLoopTakesAcks = false }
            defer { state.pendingAcks = [] }
            return state.pendingAcks
        }
        for ack in waiting { ack.done.resume(returning: nil) }
    }

    /// Hands a succeeded job's ack to the claim loop, so that it travels with the next claim. Nil when the loop
    /// cannot take it (idle, stopping, or its claim failed): the caller acks by itself.
    func ackWithNextClaim(_ job: ClaimedJob) async -> Bool? {
        await withCheckedContinuation { continuation in
            let taken = self.state.withLock { state in
                guard state.claimLoopTakesAcks else { return false }
                state.pendingAcks.append(PendingAck(job: job, done: continuation))
                return true
            }
            if taken {
                self.slotFreedSignal.yield()
            } else {
                continuation.resume(returning: nil)
            }
        }
    }
}
