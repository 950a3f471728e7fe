import Foundation
import NIOCore
import NIOPosix
import RedisClient
import Testing

/// The Redis client's event-loop connections, against real Redis.
@Suite("Redis on event loops", .serialized)
struct EventLoopRedisTests {
    /// Sends from `loop` itself, as the gateway's webhook path does (the completion-based API, no task).
    static func send(_ redis: RedisClient, _ commands: [[RedisArgument]], on loop: any EventLoop) async -> Result<[RedisValue], RedisError> {
        await withCheckedContinuation { continuation in
            loop.execute {
                redis.send(commands: commands) { result in
                    #expect(loop.inEventLoop, "the completion runs on the caller's loop")
                    continuation.resume(returning: result)
                }
            }
        }
    }

    @Test("replies come back in order to each caller, on its loop, in its database; scripts load when missing")
    func repliesInOrder() async throws {
        var configuration = RedisConfiguration(
            host: TestServices.redisHost,
            port: TestServices.redisPort,
            database: TestServices.RedisDatabase.redisClient.rawValue
        )
        configuration.commandTimeout = .seconds(2)
        let redis = RedisClient(configuration: configuration)
        let loops = Array(NIOSingletons.posixEventLoopGroup.makeIterator())
        let key = "event-loop-redis-\(UUID().uuidString)"
        // 200 concurrent callers over every loop: each gets exactly its own replies.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let loop = loops[index % loops.count]
                    let replies = try await Self.send(
                        redis,
                        [["RPUSH", RedisArgument(key), RedisArgument(index)], ["ECHO", RedisArgument("caller-\(index)")]],
                        on: loop
                    ).get()
                    #expect(replies.count == 2 && replies[1].text == "caller-\(index)")
                }
            }
            try await group.waitForAll()
        }
        let checker = TestServices.redis(.redisClient)
        defer { checker.shutdown() }
        #expect(try await checker.send(["LLEN", RedisArgument(key)]).int == 200, "written to the configured database")
        _ = try await checker.send(["DEL", RedisArgument(key)])

        // A script Redis does not know is loaded and run.
        let script = RedisScript("return 'fresh-\(UUID().uuidString)' .. ARGV[1]")
        #expect(try await redis.run(script, keys: [], arguments: ["!"]).text?.hasSuffix("!") == true)

        // Shut down, the client refuses at once rather than reconnecting.
        redis.shutdown()
        await #expect(throws: RedisError.clientClosed) { try await redis.send(["PING"]) }
    }

    @Test("Redis down fails requests at once; Redis hanging fails them after the command timeout; both recover")
    func failuresAndRecovery() async throws {
        let server = try ScratchRedis()
        defer { Task { await server.stop() } }
        let probe = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        #expect(await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(50)) { (try? await probe.ping()) != nil })
        probe.shutdown()
        var configuration = RedisConfiguration(host: "127.0.0.1", port: server.port)
        configuration.commandTimeout = .milliseconds(500)
        let redis = RedisClient(configuration: configuration)
        defer { redis.shutdown() }
        let loop = NIOSingletons.posixEventLoopGroup.next()
        #expect(try await Self.send(redis, [["PING"]], on: loop).get() == [.string(Array("PONG".utf8))])

        server.signal(SIGSTOP)
        let started = ContinuousClock.now
        let hung = await Self.send(redis, [["PING"]], on: loop)
        let waited = ContinuousClock.now - started
        #expect(throws: RedisError.self) { try hung.get() }
        // After the timeout, not before; the upper bound only tells a timeout from a hang (beside a release build
        // a 500 ms timeout was seen to answer after 4.5 s).
        #expect(waited >= .milliseconds(400) && waited < .seconds(20), "\(waited)")
        server.signal(SIGCONT)
        #expect(try await Self.send(redis, [["PING"]], on: loop).get().count == 1, "a new connection after the timeout")

        await server.stop()
        let down = await Self.send(redis, [["PING"]], on: loop)
        #expect(throws: RedisError.self) { try down.get() }
        try server.start()
        let recovered = await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
            (try? await Self.send(redis, [["PING"]], on: loop).get()) != nil
        }
        #expect(recovered)
    }
}
