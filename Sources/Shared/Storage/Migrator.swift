import Logging
import PostgresNIO

/// One versioned schema change: statements applied in one transaction, recorded in `ecommerce_schema_migrations`.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    /// One SQL statement each (the extended query protocol takes one at a time).
    public var statements: [String]
}

/// Applies ``Migrations/all`` under a PostgreSQL advisory lock, so that many replicas starting together apply
/// each migration once: the first takes the lock and migrates, the others wait and then find nothing to do.
public struct Migrator: Sendable {
    /// The advisory lock key ("ecommerce migrations").
    static let lockKey: Int64 = 0x6563_6F6D_6D69_67

    let client: PostgresClient
    let migrations: [Migration]

    public init(client: PostgresClient, migrations: [Migration] = Migrations.all) {
        self.client = client
        self.migrations = migrations
    }

    /// Applies the migrations not applied yet; returns their versions.
    @discardableResult
    public func migrate(logger: Logger) async throws -> [Int] {
        try await self.client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await self.applyPending(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    private func applyPending(on connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS ecommerce_schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """,
            logger: logger
        )
        var done = Set<Int>()
        for try await version in try await connection.query("SELECT version FROM ecommerce_schema_migrations", logger: logger).decode(Int.self) {
            done.insert(version)
        }
        var applied: [Int] = []
        for migration in self.migrations.sorted(by: { $0.version < $1.version }) where !done.contains(migration.version) {
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO ecommerce_schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger
                )
            }
            logger.info("applied migration", metadata: ["migration.version": "\(migration.version)", "migration.name": "\(migration.name)"])
            applied.append(migration.version)
        }
        return applied
    }
}
