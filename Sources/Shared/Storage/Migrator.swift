import Logging
import PostgresNIO

/// One versioned schema change: statements applied in one transaction (with the other pending ones), recorded in
/// `ecommerce_schema_migrations`.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    /// One SQL statement each (the extended query protocol takes one at a time).
    public var statements: [String]
}

/// Applies ``Migrations/all`` under a PostgreSQL advisory lock, so that many replicas starting together apply
/// each migration once: the first takes the lock and migrates, the others wait and then find nothing to do.
///
/// The lock is a transaction's (`pg_advisory_xact_lock`) and every pending migration is applied in that one
/// transaction: a session lock taken and released by two statements would not hold behind a pooler in transaction
/// mode, where the two may run on different server connections. All or none of the pending migrations commit.
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
        try await self.client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
            return try await self.applyPending(on: connection, logger: logger)
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
            for statement in migration.statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query(
                "INSERT INTO ecommerce_schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                logger: logger
            )
            logger.info("applied migration", metadata: ["migration.version": "\(migration.version)", "migration.name": "\(migration.name)"])
            applied.append(migration.version)
        }
        return applied
    }
}
