/// Thrown by a handler when retrying cannot help (a malformed payload, a refusal that will not change):
/// the job goes straight to dead letters.
public struct PermanentJobError: Error, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        (self.code, self.message) = (code, message)
    }

    public var description: String { "\(self.code): \(self.message)" }
}
