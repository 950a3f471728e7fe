import Foundation

/// A thread with one Redis connection that sends whatever requests have queued up as one pipeline.
///
/// hiredis calls block, so they run here and never on a NIO event loop or Swift's cooperative pool (which has
/// only as many threads as cores). Requests that arrive while a pipeline is in flight are sent together in
/// the next one: under load one round trip serves many callers ("auto-pipelining").
final class PipelineLane: @unchecked Sendable {
    // `@unchecked Sendable`: `pending` and `stopped` are only touched with `condition` locked, and
    // `connection` only from the lane's own thread.
    /// Called on the lane's thread with the replies of one submission, in order.
    typealias Completion = @Sendable (Result<[RedisValue], RedisError>) -> Void

    private struct Request {
        var commands: [[[UInt8]]]
        var completion: Completion
    }

    private let condition = NSCondition()
    private var pending: [Request] = []
    private var stopped = false
    private let connection: RedisConnection

    init(configuration: RedisConfiguration, name: String) {
        self.connection = RedisConnection(configuration: configuration)
        let thread = Thread { [self] in self.runLoop() }
        thread.name = name
        thread.start()
    }

    /// Queues the commands; they are sent contiguously in one pipeline and their replies returned in order.
    func submit(_ commands: [[[UInt8]]], completion: @escaping Completion) {
        self.condition.lock()
        if self.stopped {
            self.condition.unlock()
            completion(.failure(.clientClosed))
            return
        }
        self.pending.append(Request(commands: commands, completion: completion))
        self.condition.signal()
        self.condition.unlock()
    }

    func stop() {
        self.condition.lock()
        self.stopped = true
        self.condition.signal()
        self.condition.unlock()
    }

    private func runLoop() {
        while true {
            self.condition.lock()
            while self.pending.isEmpty && !self.stopped { self.condition.wait() }
            let batch = self.pending
            self.pending.removeAll(keepingCapacity: true)
            let stopped = self.stopped
            self.condition.unlock()
            if !batch.isEmpty { self.execute(batch) }
            if stopped && batch.isEmpty {
                self.connection.disconnect()
                return
            }
        }
    }

    private func execute(_ batch: [Request]) {
        let commands = batch.flatMap(\.commands)
        do {
            let replies = try self.connection.pipeline(commands)
            var offset = 0
            for request in batch {
                let count = request.commands.count
                request.completion(.success(Array(replies[offset..<offset + count])))
                offset += count
            }
        } catch {
            for request in batch { request.completion(.failure(error)) }
        }
    }
}
