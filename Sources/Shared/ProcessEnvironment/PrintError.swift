import Foundation

/// Writes one line to standard error (start-up failures, before logging is set up).
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
