import Logging
import ServiceLifecycle

/// The loop of a worker's housekeeping services: `body`, then a pause of `interval`, until graceful shutdown. A
/// failing round is logged as `failure` and the next round tries again (a round cancelled by the shutdown is not
/// logged).
func repeatUntilShutdown(every interval: Duration, logger: Logger, failure: String, _ body: @escaping @Sendable () async throws -> Void) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                try await body()
            } catch {
                if Task.isCancelled { return }
                logger.error("\(failure)", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
