import EcommerceJobs
import Foundation
import FuzzSupport
import JobQueue

/// The worker's envelope readers (`JobHeader(json:)` and `JobEnvelope(json:)` with an order job's payload, both
/// `JSONScanner`) against `JobCoding`'s `JSONDecoder`, with two properties besides "no crash":
/// - the scanner accepts exactly what `JSONDecoder` accepts, and reads the same envelope (compared as the same
///   document, written with sorted keys);
/// - where the claim script reads the id without decoding (`^{"id":"([%w%-]+)","`, see `QueueScripts.claim`), a
///   decodable envelope has that very id.
enum JobEnvelopeFuzz {
    typealias OrderEnvelope = JobEnvelope<OrderIngestJob.Payload>

    static func check(_ bytes: [UInt8]) {
        guard FuzzTarget.jsonDecoderCanRead(bytes) else {
            if (try? JobHeader(json: bytes)) != nil || (try? OrderEnvelope(json: bytes)) != nil {
                FuzzTarget.fail("the scanner read a document nested deeper than 512")
            }
            return
        }
        let scannedHeader = try? JobHeader(json: bytes)
        let decodedHeader = try? JobCoding.decoder().decode(JobHeader.self, from: Data(bytes))
        Self.agree(scannedHeader, decodedHeader, "header")
        if let header = decodedHeader, let fastId = Self.claimScriptId(bytes), fastId != header.id {
            FuzzTarget.fail("the claim script reads id \(fastId), the decoder \(header.id)")
        }
        let scanned = try? OrderEnvelope(json: bytes)
        let decoded = try? JobCoding.decoder().decode(OrderEnvelope.self, from: Data(bytes))
        Self.agree(scanned, decoded, "envelope")
    }

    /// Both refused, or both read as the same document.
    static func agree<Value: Encodable>(_ scanned: Value?, _ decoded: Value?, _ what: String) {
        let encoder = JobCoding.encoder()
        encoder.outputFormatting = [.sortedKeys]
        let scannedText = scanned.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        let decodedText = decoded.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        guard scannedText != decodedText else { return }
        FuzzTarget.fail("\(what): the scanner read \(scannedText ?? "nothing (refused)"), JSONDecoder \(decodedText ?? "nothing (refused)")")
    }

    /// Lua's `^{"id":"([%w%-]+)","`: `%w` is an ASCII letter or digit in the C locale Redis runs its scripts in.
    static func claimScriptId(_ bytes: [UInt8]) -> String? {
        let prefix = Array(#"{"id":""#.utf8)
        guard bytes.count > prefix.count, Array(bytes.prefix(prefix.count)) == prefix else { return nil }
        var index = prefix.count
        while index < bytes.count, Self.isWordOrDash(bytes[index]) { index += 1 }
        guard index > prefix.count, index + 2 < bytes.count, bytes[index] == UInt8(ascii: "\""), bytes[index + 1] == UInt8(ascii: ","),
            bytes[index + 2] == UInt8(ascii: "\"")
        else { return nil }
        return String(decoding: bytes[prefix.count..<index], as: UTF8.self)
    }

    /// `[%w%-]`: an ASCII letter or digit, or `-`.
    static func isWordOrDash(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "-")
    }
}

#if FUZZING
/// libFuzzer's entry point, for when its own `main` is the one linked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    JobEnvelopeFuzz.check(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#endif

@main
struct Main {
    static func main() { FuzzTarget.run(JobEnvelopeFuzz.check) }
}
