import Foundation

/// A configuration value that is missing or wrong. Start-up stops with this message, which names the variable
/// (never its value: it may be a secret).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var variable: String
    public var reason: String

    public init(variable: String, reason: String) {
        (self.variable, self.reason) = (variable, reason)
    }

    public var description: String { "configuration error: \(self.variable) \(self.reason)" }
}

/// Environment variables, read once at start-up.
public struct Environment: Sendable {
    public var values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// The value, or nil when unset or empty.
    public func optional(_ name: String) -> String? {
        guard let value = self.values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    /// The value of a required variable, made into a `Value` by `parse`; a failure names the variable, what was
    /// `expected`, and the parser's error.
    public func required<Value>(_ name: String, expected: String, _ parse: (String) throws -> Value) throws(ConfigurationError) -> Value {
        let text = try self.required(name)
        do {
            return try parse(text)
        } catch {
            throw ConfigurationError(variable: name, reason: "is not \(expected) (\(error))")
        }
    }

    /// The value of a variable that must be set.
    public func required(_ name: String) throws(ConfigurationError) -> String {
        guard let value = self.optional(name) else { throw ConfigurationError(variable: name, reason: "is required") }
        return value
    }

    /// An integer variable, `fallback` when unset.
    ///
    /// - Throws: ``ConfigurationError`` when it is set to anything but an integer in `range`.
    public func int(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        try self.int(name, range: range) ?? fallback
    }

    /// The whole number, or nil when unset (for settings whose default depends on others).
    public func int(_ name: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let raw = self.optional(name) else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigurationError(variable: name, reason: "must be a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A duration given in (possibly fractional) seconds, `fallback` when unset.
    ///
    /// - Throws: ``ConfigurationError`` when it is set to anything but a number of seconds in `range`.
    public func seconds(_ name: String, default fallback: Double, range: ClosedRange<Double>) throws(ConfigurationError) -> Duration {
        guard let raw = self.optional(name) else { return .milliseconds(Int(fallback * 1000)) }
        guard let value = Double(raw), range.contains(value) else {
            throw ConfigurationError(variable: name, reason: "must be a number of seconds in \(range.lowerBound)...\(range.upperBound)")
        }
        return .milliseconds(Int(value * 1000))
    }

    /// `on`/`off` (also `true`/`false`, `1`/`0`).
    public func `switch`(_ name: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        switch self.optional(name)?.lowercased() {
        case nil: return fallback
        case "on", "true", "1": return true
        case "off", "false", "0": return false
        default: throw ConfigurationError(variable: name, reason: "must be on or off")
        }
    }
}
