import Foundation

/// How a step of the troubleshooting checklist came out.
public enum DoctorVerdict: String, Codable, Sendable, Comparable {
    case ok
    case warning
    case failing

    public static func < (lhs: DoctorVerdict, rhs: DoctorVerdict) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .failing: 2
        }
    }
}

/// One step of the checklist: its verdict, what it is based on, and what to do about it.
public struct DoctorFinding: Codable, Sendable, Equatable {
    /// A stable name scripts can match: `connection`, `scopes`, `token`, `oauth_callbacks`,
    /// `webhook_subscriptions`, `webhook_deliveries`, `mappings`, `stock_relay`, `inventory_pushes`, `drift`,
    /// `polling`.
    public var check: String
    public var title: String
    public var verdict: DoctorVerdict
    /// The facts read, one per line.
    public var evidence: [String]
    /// What to do; nil when nothing is to be done.
    public var action: String?

    public init(check: String, title: String, verdict: DoctorVerdict, evidence: [String], action: String? = nil) {
        self.check = check
        self.title = title
        self.verdict = verdict
        self.evidence = evidence
        self.action = action
    }
}

/// The checklist run for one business.
public struct DoctorReport: Codable, Sendable, Equatable {
    public var businessId: UUID
    public var shop: String?
    public var generatedAt: Date
    /// The worst verdict of the findings.
    public var verdict: DoctorVerdict
    public var findings: [DoctorFinding]
    /// What `--fix` repaired (re-created webhook subscriptions), one line each.
    public var fixed: [String]

    public init(businessId: UUID, shop: String?, generatedAt: Date = Date(), findings: [DoctorFinding], fixed: [String]) {
        self.businessId = businessId
        self.shop = shop
        self.generatedAt = generatedAt
        self.verdict = findings.map(\.verdict).max() ?? .ok
        self.findings = findings
        self.fixed = fixed
    }

    /// The finding of a check, by its name.
    public func finding(_ check: String) -> DoctorFinding? { self.findings.first { $0.check == check } }

    /// The report for people: one block per finding.
    public var text: String {
        var lines = ["doctor for business \(self.businessId.uuidString.lowercased())\(self.shop.map { " (\($0))" } ?? ""): \(self.verdict.rawValue)"]
        for finding in self.findings {
            lines.append("")
            lines.append("[\(finding.verdict.rawValue.uppercased())] \(finding.title)")
            lines += finding.evidence.map { "  - \($0)" }
            if let action = finding.action { lines.append("  → \(action)") }
        }
        if !self.fixed.isEmpty {
            lines.append("")
            lines.append("fixed:")
            lines += self.fixed.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
