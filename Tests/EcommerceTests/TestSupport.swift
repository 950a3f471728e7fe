import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Operations
import PostgresNIO
import ProcessEnvironment
import RedisClient
import ServiceLifecycle
import Shopify
import Storage
import Testing

/// The Redis and PostgreSQL that `scripts/test.sh` starts (override with TEST_REDIS_URL / TEST_DATABASE_URL).
enum TestServices {
    static let environment = ProcessInfo.processInfo.environment
    static let redisHost = "127.0.0.1"
    static let redisPort = Int(environment["TEST_REDIS_PORT"] ?? "") ?? 16379
    static let databaseURL = environment["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:15432/ecommerce?sslmode=disable"
    /// The same database through PgBouncer in transaction pooling (`scripts/services.sh` starts it on the next port).
    static let pooledDatabaseURL = environment["TEST_POOLED_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:15433/ecommerce?sslmode=disable"

    /// Redis database indexes: suites that look at the fixed `ecommerce-*` queue names get one of their own.
    enum RedisDatabase: Int {
        case queueTests = 0
        case gateway = 1
        case processes = 2
        case shopify = 3
        case inventory = 4
        case simulator = 5
        case polling = 6
        case oauth = 7
        /// The Redis client's own tests: never flushed by another suite (the gateway's database is).
        case redisClient = 8
        /// The gateway process that hostile clients meet.
        case hostileClients = 9
        /// Only the worker of the lost-claim-reply test: its connections are found by their database and killed.
        case lostReplies = 10
        /// The sync run sweeper reads the products queue's dead letters: only its test's there.
        case sweeper = 11
        /// A gateway whose queue gauges are compared with what its test enqueued: no other gateway test's jobs.
        case metrics = 12
        /// A poll schedule that holds only what the schedule report's test put there.
        case schedule = 13
        /// A worker of the orders queue that meets only its test's jobs.
        case orderHandlers = 14
        /// A whole `WorkerProcess` on every queue (`WorkerWiringTests`).
        case wiring = 15
        /// Bulk pushes (their workers and gateway): no other suite's product jobs. Databases above 15 need the
        /// test Redis's `--databases 32` (scripts/services.sh).
        case bulkPush = 16
        /// The relay through PgBouncer: only its test's inventory jobs.
        case pgbouncer = 17
    }

    /// The Redis Cluster that `scripts/test.sh` starts (`redis-cluster://…`, TEST_REDIS_CLUSTER_URL): when
    /// TEST_REDIS_ON_CLUSTER=1, ``redis(_:)`` and ``redisURL(_:)`` give it instead of the single Redis, so that a
    /// suite runs unchanged on the cluster (the test command runs the queue conformance suite and the worker-process
    /// tests so). A cluster has one database: those suites run on it one at a time.
    static let clusterURL = environment["TEST_REDIS_CLUSTER_URL"]
    static let onCluster = environment["TEST_REDIS_ON_CLUSTER"] == "1" && clusterURL != nil

    static func redisURL(_ database: RedisDatabase) -> String {
        if onCluster, let clusterURL { return clusterURL }
        return "redis://\(redisHost):\(redisPort)/\(database.rawValue)"
    }

    static func redis(_ database: RedisDatabase = .queueTests) -> RedisClient {
        if onCluster, let cluster = clusterRedis() { return cluster }
        return RedisClient(configuration: RedisConfiguration(host: redisHost, port: redisPort, database: database.rawValue))
    }

    /// The test cluster's own client, whatever TEST_REDIS_ON_CLUSTER says (nil when no cluster was started).
    static func clusterRedis() -> RedisClient? {
        guard let clusterURL, let configuration = try? RedisConfiguration(url: clusterURL) else { return nil }
        return RedisClient(configuration: configuration)
    }

    /// Empties the client's database: `FLUSHDB` on the one server, or on every master of a cluster.
    static func flush(_ redis: RedisClient) async throws {
        for master in try await redis.masters() { try await redis.send(["FLUSHDB"], to: master).orThrow() }
    }

    /// Quiet unless TEST_LOG_LEVEL is set.
    static let logger: Logger = {
        var logger = Logger(label: "test") { label in
            if let level = environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) {
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            return SwiftLogNoOpLogHandler()
        }
        logger.logLevel = .trace
        return logger
    }()

    /// Runs `body` with a started PostgreSQL client on a migrated schema (the shared test database unless another
    /// `configuration` is given).
    @discardableResult
    static func withPostgres<Result: Sendable>(
        configuration: PostgresClient.Configuration? = nil,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let configuration = try configuration ?? PostgresClient.Configuration(url: databaseURL)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await Migrator(client: client).migrate(logger: logger)
            return try await body(client)
        }
    }

    /// Creates an empty database beside the shared one; returns the configuration that reaches it.
    static func createScratchDatabase(_ prefix: String) async throws -> PostgresClient.Configuration {
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        try await withPostgres { admin in try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger) }
        var configuration = try PostgresClient.Configuration(url: databaseURL)
        configuration.database = name
        return configuration
    }

    /// Runs `body` with a new empty database beside the shared one (for a child process's or a `WorkerProcess`'s
    /// `DATABASE_URL`: see ``url(of:)``), dropped afterwards whatever happened.
    static func withScratchDatabase<Result: Sendable>(
        _ prefix: String,
        _ body: (PostgresClient.Configuration) async throws -> Result
    ) async throws -> Result {
        let database = try await createScratchDatabase(prefix)
        let result: Swift.Result<Result, any Error>
        do {
            result = .success(try await body(database))
        } catch {
            result = .failure(error)
        }
        try await dropScratchDatabase(database)
        return try result.get()
    }

    /// The URL of a scratch database, for a `DATABASE_URL`.
    static func url(of database: PostgresClient.Configuration) throws -> String {
        guard var components = URLComponents(string: databaseURL), let name = database.database else {
            throw ChildProcessError(reason: "no URL for \(database)")
        }
        components.path = "/" + name
        guard let url = components.string else { throw ChildProcessError(reason: "no URL for \(name)") }
        return url
    }

    static func dropScratchDatabase(_ configuration: PostgresClient.Configuration) async throws {
        guard let name = configuration.database else { return }
        try await withPostgres { admin in try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger) }
    }

    /// Like ``withPostgres(_:)``, on a migrated database of the test's own, dropped afterwards: for tests that must
    /// not share tables with the worker processes other suites start (their outbox relays take every row, say).
    @discardableResult
    static func withPrivatePostgres<Result: Sendable>(_ body: @Sendable (PostgresClient) async throws -> Result) async throws -> Result {
        try await withScratchDatabase("private") { configuration in try await withPostgres(configuration: configuration, body) }
    }

    /// Runs `services` while `body` runs, then cancels them.
    static func whileRunning<Result: Sendable>(_ services: [any Service], _ body: () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Waits until `condition` holds, polling; returns false on timeout.
    static func eventually(
        timeout: Duration,
        every interval: Duration = .milliseconds(50),
        _ condition: () async throws -> Bool
    ) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: interval)
        }
        return try await condition()
    }
}

/// A FlowPOS business with variants in stock, and optionally its Shopify connection and mappings.
struct BusinessFixture: Sendable {
    struct Variant: Sendable {
        var id: UUID
        var sku: String
        var shopifyVariantId: Int64?
    }

    var id = UUID()
    var shop: String
    var variants: [Variant] = []

    /// Creates the business's products: one variant per entry, with that stock; a Shopify variant id maps it.
    static func create(
        on client: PostgresClient,
        stock: [(sku: String, quantity: Int, shopifyVariantId: Int64?)],
        connection: ConnectionStatus? = .active
    ) async throws -> BusinessFixture {
        var fixture = BusinessFixture(shop: "shop-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com")
        let logger = TestServices.logger
        let productId = UUID()
        try await client.query("INSERT INTO products (id, business_id, name) VALUES (\(productId), \(fixture.id), 'Test product')", logger: logger)
        for item in stock {
            let variantId = UUID()
            let sku = "\(item.sku)-\(fixture.id.uuidString.prefix(8))"
            try await client.query(
                "INSERT INTO variants (id, product_id, business_id, sku) VALUES (\(variantId), \(productId), \(fixture.id), \(sku))",
                logger: logger
            )
            try await client.query(
                "INSERT INTO stock_levels (variant_id, business_id, quantity) VALUES (\(variantId), \(fixture.id), \(item.quantity))",
                logger: logger
            )
            if let shopifyVariantId = item.shopifyVariantId {
                try await client.query(
                    """
                    INSERT INTO ecommerce_product_mapping (business_id, variant_id, product_id, shopify_variant_id)
                    VALUES (\(fixture.id), \(variantId), \(productId), \(shopifyVariantId))
                    """,
                    logger: logger
                )
            }
            fixture.variants.append(Variant(id: variantId, sku: sku, shopifyVariantId: item.shopifyVariantId))
        }
        if let connection {
            try await ConnectionStore(client: client).save(businessId: fixture.id, shop: fixture.shop, status: connection, logger: logger)
        }
        return fixture
    }

    static func stock(of variant: UUID, on client: PostgresClient) async throws -> Int {
        for try await quantity in try await client.query("SELECT quantity FROM stock_levels WHERE variant_id = \(variant)").decode(Int.self) {
            return quantity
        }
        return 0
    }

    static func movements(of variant: UUID, on client: PostgresClient) async throws -> [Int] {
        var deltas: [Int] = []
        for try await delta in try await client.query("SELECT delta FROM stock_movements WHERE variant_id = \(variant) ORDER BY id").decode(Int.self)
        {
            deltas.append(delta)
        }
        return deltas
    }
}

/// Shopify-shaped test orders with unique ids.
enum OrderFactory {
    static func nextId() -> Int64 { Int64.random(in: 5_000_000_000_000...9_000_000_000_000) }

    static func order(
        id: Int64 = nextId(),
        updatedAt: String = "2026-11-27T10:00:00-05:00",
        cancelledAt: String? = nil,
        lines: [ShopifyOrder.LineItem],
        refunds: [ShopifyOrder.Refund]? = nil
    ) -> ShopifyOrder {
        ShopifyOrder(id: id, name: "#\(id % 10000)", updatedAt: updatedAt, cancelledAt: cancelledAt, lineItems: lines, refunds: refunds)
    }

    static func line(_ id: Int64, variant: BusinessFixture.Variant, quantity: Int, current: Int? = nil) -> ShopifyOrder.LineItem {
        ShopifyOrder.LineItem(id: id, variantId: variant.shopifyVariantId, sku: variant.sku, quantity: quantity, currentQuantity: current ?? quantity)
    }

    /// A REST webhook body as Shopify sends it, customer data included (which must not survive ingestion).
    static func webhookBody(_ order: ShopifyOrder) -> String {
        let lines = order.lineItems.map { line in
            """
            {"id":\(line.id),"variant_id":\(line.variantId.map(String.init) ?? "null"),"sku":"\(line.sku ?? "")","title":"Widget",\
            "quantity":\(line.quantity),"current_quantity":\(line.currentQuantity ?? line.quantity),"price":"19.99","vendor":"FlowPOS"}
            """
        }.joined(separator: ",")
        return """
            {"id":\(order.id),"admin_graphql_api_id":"gid://shopify/Order/\(order.id)","name":"\(order.name ?? "")",\
            "email":"jane@example.com","created_at":"2026-11-27T09:00:00-05:00","updated_at":"\(order.updatedAt)",\
            "cancelled_at":\(order.cancelledAt.map { "\"\($0)\"" } ?? "null"),"test":false,\
            "customer":{"first_name":"Jane","last_name":"Doe","email":"jane@example.com"},\
            "line_items":[\(lines)],"refunds":[]}
            """
    }
}

/// Child processes for tests, spawned with `posix_spawn`.
///
/// Not Foundation's `Process`: its children inherit the test runner's blocked signal mask (so SIGTERM never
/// arrives), and its exit monitoring does not notice exits reliably here. These children get an empty mask and
/// default handlers, and are reaped with `waitpid`.
struct ChildProcess: Sendable {
    /// How a child ended.
    enum Exit: Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    let pid: pid_t

    /// Starts `executable` with `arguments` and exactly `environment`; output goes to `logPath` (or nowhere).
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String], logPath: String? = nil) throws -> ChildProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let output = logPath ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Nothing else of the test process's is inherited: a PostgreSQL started while another suite holds 1,000
        // sockets open counted them against its max_files_per_process and refused to start.
        // (glibc ≥ 2.34 has the action; Swift's Glibc module does not declare it, so it is looked up.)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let closeFrom = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else {
            throw ChildProcessError(reason: "this C library has no posix_spawn_file_actions_addclosefrom_np")
        }
        _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 3)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw ChildProcessError(reason: "posix_spawn \(executable) failed: \(result)") }
        return ChildProcess(pid: pid)
    }

    func signal(_ signal: Int32) {
        kill(self.pid, signal)
    }

    /// Sends `signal` and waits until the process is gone.
    @discardableResult
    func stop(_ signal: Int32, timeout: Duration = .seconds(30)) async -> Exit? {
        self.signal(signal)
        return await self.waitForExit(timeout: timeout)
    }

    /// Polls `waitpid` until the process has exited; nil on timeout. Looks at least once (`.zero`: has it exited?).
    func waitForExit(timeout: Duration) async -> Exit? {
        let deadline = ContinuousClock.now + timeout
        while true {
            var status: Int32 = 0
            let result = waitpid(self.pid, &status, WNOHANG)
            if result == self.pid {
                return status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
            }
            if result == -1 { return .exited(-1) }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

struct ChildProcessError: Error {
    var reason: String
}

/// Runs `executable` to its end; its output on failure.
func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString).log").path
    defer { try? FileManager.default.removeItem(atPath: log) }
    var inherited = ProcessInfo.processInfo.environment
    inherited.merge(environment) { $1 }
    let child = try ChildProcess.spawn(executable, arguments, environment: inherited, logPath: log)
    let exit = await child.waitForExit(timeout: timeout)
    guard exit == .exited(0) else {
        if exit == nil { child.signal(SIGKILL) }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw ChildProcessError(reason: "\(executable) \(arguments.joined(separator: " ")): \(String(describing: exit)): \(output)")
    }
}

/// A PostgreSQL 15 server of one test's own, for tests that stop it and start it again (the shared one cannot be):
/// a new cluster in a temporary folder, on a port of its own, started and stopped with `pg_ctl` (as the postgres
/// user when the tests run as root, since PostgreSQL refuses root).
struct PrivatePostgresServer: Sendable {
    static let binaries = "/usr/lib/postgresql/15/bin"
    let directory: String
    let port: Int

    /// The URL of its `postgres` database.
    var url: String { "postgres://postgres@127.0.0.1:\(self.port)/postgres?sslmode=disable" }

    func configuration() throws -> PostgresClient.Configuration { try PostgresClient.Configuration(url: self.url) }

    private static func command(_ tool: String, _ arguments: [String]) -> (String, [String]) {
        getuid() == 0
            ? ("/usr/sbin/runuser", ["-u", "postgres", "--", Self.binaries + "/" + tool] + arguments) : (Self.binaries + "/" + tool, arguments)
    }

    private static func run(_ tool: String, _ arguments: [String]) async throws {
        let (executable, arguments) = Self.command(tool, arguments)
        try await runToEnd(executable, arguments)
    }

    /// A new cluster, started, on the first free port from a random one below 32768 (above is the ephemeral range).
    static func start() async throws -> PrivatePostgresServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ecommerce-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try await runToEnd("/bin/chown", ["postgres:postgres", directory]) }
        try await Self.run("initdb", ["-D", directory + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        var lastError: (any Error)?
        for _ in 0..<5 {
            let server = PrivatePostgresServer(directory: directory, port: Int.random(in: 20_000..<30_000))
            do {
                try await server.startAgain()
                return server
            } catch {
                lastError = error
            }
        }
        throw lastError ?? ChildProcessError(reason: "no port for PostgreSQL")
    }

    /// Starts the stopped server again, on the same port.
    func startAgain() async throws {
        try await Self.run(
            "pg_ctl",
            [
                "-D", self.directory + "/data", "-l", self.directory + "/postgres.log", "-w", "-t", "30",
                "-o", "-p \(self.port) -k \(self.directory) -c listen_addresses=127.0.0.1", "start",
            ]
        )
    }

    /// A fast shutdown: connections are cut, as when the database goes away.
    func stop() async throws {
        try await Self.run("pg_ctl", ["-D", self.directory + "/data", "-m", "fast", "-w", "-t", "30", "stop"])
    }

    /// Stops it if it runs and deletes its folder.
    func destroy() async {
        try? await self.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Runs `body` with a started server, destroyed afterwards whatever happened.
    static func with<Result: Sendable>(_ body: (PrivatePostgresServer) async throws -> Result) async throws -> Result {
        let server = try await Self.start()
        do {
            let result = try await body(server)
            await server.destroy()
            return result
        } catch {
            await server.destroy()
            throw error
        }
    }
}

/// Requests to a live test server over a real socket, with a patient deadline.
///
/// Hummingbird's live test client gives up after 20 s without a byte. A gateway in the test process shares its
/// cooperative threads with every suite running beside it, and beside a release build one request of a long flow
/// (an OAuth callback: token exchange, webhook subscriptions, a first poll) was seen to take longer. Redirects are
/// not followed: the callback's 302 is what is tested.
struct SocketClient: Sendable {
    static let http = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow)
    )
    let port: Int

    init(_ client: some TestClientProtocol) {
        self.port = client.port ?? 0
    }

    func execute(
        uri: String,
        method: NIOHTTP1.HTTPMethod = .GET,
        headers: [String: String] = [:]
    ) async throws -> (HTTPResponse.Status, HTTPHeaders, String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(self.port)\(uri)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await Self.http.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 16 << 20)
        OpenAPIContract.check(method: method.rawValue, uri: uri, status: Int(response.status.code), body: String(buffer: body))
        return (HTTPResponse.Status(code: Int(response.status.code)), response.headers, String(buffer: body))
    }
}
