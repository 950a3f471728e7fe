import Foundation

/// What every fuzz target shares. Built by `scripts/fuzz.sh` with `-sanitize=fuzzer,address -DFUZZING`, a target is
/// a libFuzzer binary; built normally it replays the files (or folders of files) it is given through the same
/// check, which the tests do with the committed seed corpus.
public enum FuzzTarget {
    /// A target's `main`: libFuzzer's driver over `check` when fuzzing, else a replay of the arguments.
    ///
    /// Why not libFuzzer's own `main`: SwiftPM links a debug executable with `main` aliased to the module's entry
    /// point (so that tests can import executables), so the target keeps an `@main` and starts libFuzzer's
    /// driver (`LLVMFuzzerRunDriver`) itself.
    public static func run(_ check: @escaping ([UInt8]) -> Void) -> Never {
        #if FUZZING
        Self.check = check
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(
            LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                FuzzTarget.check?(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
                return 0
            }
        )
        #else
        Self.replay(arguments: Array(CommandLine.arguments.dropFirst()), check)
        exit(0)
        #endif
    }

    #if FUZZING
    /// The check libFuzzer's callback runs (a C function pointer cannot carry it).
    nonisolated(unsafe) static var check: (([UInt8]) -> Void)?
    #endif

    /// Runs `check` on every file named by the arguments (folders: every file in them); exits 1 at the first
    /// property that does not hold (the check calls ``fail(_:)``).
    public static func replay(arguments: [String], _ check: ([UInt8]) -> Void) {
        var inputs = 0
        for path in arguments {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                FileHandle.standardError.write(Data("no such file: \(path)\n".utf8))
                exit(2)
            }
            let files =
                isFolder.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                check(Array(data))
                inputs += 1
            }
        }
        print("replayed \(inputs) inputs: every property held")
    }

    /// A property that does not hold: the input is a finding. libFuzzer saves it when the process aborts.
    public static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("property violated: \(message)\n".utf8))
        abort()
    }
}

#if FUZZING
/// libFuzzer's driver (in the runtime `-sanitize=fuzzer` links): runs the callback on generated inputs.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

extension FuzzTarget {
    /// The deepest nesting of arrays and objects in `bytes` read as JSON (brackets inside strings not counted): an
    /// upper bound of the depth any parser reaches in it.
    public static func nestingDepth(_ bytes: [UInt8]) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
        return deepest
    }

    /// Whether `JSONDecoder` may be given `bytes` as an oracle: not when they nest deeper than its limit (512, the
    /// scanner's too), where Foundation traps in its error path instead of throwing (found 2026-12-07; the gateway no
    /// longer gives it unauthenticated bytes). Deeper documents are checked against the scanner's refusal alone.
    public static func jsonDecoderCanRead(_ bytes: [UInt8]) -> Bool { Self.nestingDepth(bytes) <= 512 }
}
