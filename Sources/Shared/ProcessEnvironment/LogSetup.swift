import Foundation
import Logging

/// `LOG_FORMAT`.
public enum LogFormat: String, Sendable {
    case text
    case json
}

/// Bootstraps swift-log once per process, in `main`.
public enum LogSetup {
    /// Sends every logger's lines to standard error at `level` and above, as JSON or as text.
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in
            var handler = StandardErrorLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
    }
}

/// One line per event on standard error, as text (`2026-11-27T10:00:00Z info label: key=value … message`) or as one
/// JSON object (`{"ts", "level", "label", "msg", ...metadata}`).
///
/// Not swift-log's `StreamLogHandler`: it re-renders all its metadata each time one key changes, and the worker sets
/// a job's metadata (and PostgresNIO its connection's) on every job, which showed in the worker's profile. Here
/// metadata is rendered only when something is logged.
public struct StandardErrorLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: LogFormat

    public init(label: String, format: LogFormat) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let metadata = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let timestamp = Date().formatted(.iso8601)
        var line: Data
        switch self.format {
        case .text:
            let fields = metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
            line = Data("\(timestamp) \(event.level) \(self.label):\(fields.isEmpty ? "" : " " + fields) \(event.message)".utf8)
        case .json:
            var fields = metadata.mapValues { "\($0)" }
            fields["ts"] = timestamp
            fields["level"] = event.level.rawValue
            fields["label"] = self.label
            fields["msg"] = "\(event.message)"
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            guard let encoded = try? encoder.encode(fields) else { return }
            line = encoded
        }
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardError.write(line)
    }
}
