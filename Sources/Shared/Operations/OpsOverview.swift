import Foundation
import JobQueue
import Storage

/// A connection as an operator sees it: its status and how far behind its polls are.
public struct ConnectionLag: Codable, Sendable, Equatable {
    public var businessId: UUID
    public var shop: String
    public var status: String
    public var lastSyncedAt: Date?
    /// now − `lastSyncedAt`; nil for a connection never polled.
    public var lagSeconds: Double?
}

/// The poll schedule against the active connections: every active connection should have exactly one entry.
public struct ScheduleReport: Codable, Sendable, Equatable {
    public var activeConnections: Int
    public var scheduled: Int
    /// How many active businesses have no schedule entry (their polls stopped), and the first of them.
    public var missingCount: Int
    public var missing: [String]
    /// How many scheduled businesses are no longer active (removed at their next tick), and the first of them.
    public var extraCount: Int
    public var extra: [String]
    public var nextDue: Date?
}

/// One dead letter with its queue, shortened for a listing.
public struct DeadLetterSummary: Codable, Sendable, Equatable {
    public var queue: String
    public var id: String
    /// The job's kind from its envelope ("unknown" when the envelope is unreadable).
    public var kind: String
    public var error: String
    public var attempt: Int
    public var failedAt: Date
}

/// One page of a queue's dead letters as operators read them; `next` is the following page's cursor (absent after
/// the last).
public struct DeadLetterSummaryPage: Codable, Sendable {
    public var letters: [DeadLetterSummary]
    public var next: String?
}

/// Everything the ops dashboard shows, read at one moment.
public struct OpsOverview: Codable, Sendable {
    public var generatedAt: Date
    public var workers: [WorkerReport]
    public var queues: [QueueStats]
    public var schedule: ScheduleReport
    /// The active connections most behind first (at most `connectionLimit`; `schedule` has the count).
    public var connections: [ConnectionLag]
    public var syncRuns: [SyncRun]
    /// A page of every queue's dead letters (at most `deadLetterLimit` per queue; `queues` has the totals).
    public var deadLetters: [DeadLetterSummary]
}
