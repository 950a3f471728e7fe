import Storage
import Synchronization
import Testing

@Suite("withTimeout")
struct TimeoutTests {
    struct Refused: Error {}

    @Test("the result, the error, or a timeout that does not wait for an operation deaf to its cancellation")
    func answersWhicheverComesFirst() async throws {
        #expect(try await withTimeout(.seconds(30)) { 42 } == 42)
        await #expect(throws: Refused.self) { try await withTimeout(.seconds(30)) { () async throws -> Int in throw Refused() } }

        // An operation that goes on for 10 s whatever: the answer comes at the timeout, and the operation was told.
        let cancelled = Atomic<Bool>(false)
        let started = ContinuousClock.now
        await #expect(throws: TimeoutError.self) {
            try await withTimeout(.milliseconds(300)) {
                let deadline = ContinuousClock.now + .seconds(10)
                while ContinuousClock.now < deadline {
                    if Task.isCancelled { cancelled.store(true, ordering: .relaxed) }
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return 0
            }
        }
        #expect(started.duration(to: .now) < .seconds(5), "answered at the timeout, not when the operation ended")
        #expect(await TestServices.eventually(timeout: .seconds(30)) { cancelled.load(ordering: .relaxed) }, "the operation was cancelled")
    }
}
