import Foundation
import Logging

/// `LOG_FORMAT`.
public enum LogFormat: String, Sendable {
    case text
    case json
}

/// Bootstraps swift-log once per process, in `main`.
public enum LogSetup {
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                switch format {
                case .text: TextLogHandler(label: label)
                case .json: JSONLogHandler(label: label)
                }
            handler.logLevel = level
            return handler
        }
    }
}

/// One line per event on standard error: `2026-11-27T10:00:00Z info label: key=value … message`.
///
/// Not swift-log's `StreamLogHandler`: it re-renders all its metadata each time one key changes, and the worker sets
/// a job's metadata (and PostgresNIO its connection's) on every job, which showed in the worker's profile. Here
/// metadata is rendered only when something is logged.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let metadata = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
        let line = "\(Date().formatted(.iso8601)) \(event.level) \(self.label):\(fields.isEmpty ? "" : " " + fields) \(event.message)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// One JSON object per line on standard error: `{"ts", "level", "label", "msg", ...metadata}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[key] = "\(value)" }
        fields["ts"] = Date().formatted(.iso8601)
        fields["level"] = event.level.rawValue
        fields["label"] = self.label
        fields["msg"] = "\(event.message)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard var line = try? encoder.encode(fields) else { return }
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardError.write(line)
    }
}
