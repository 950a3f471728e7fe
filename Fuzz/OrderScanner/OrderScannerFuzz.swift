import Foundation
import FuzzSupport
import JSONBytes
import Shopify

/// The gateway's webhook-body reader (`JSONScanner` with `ShopifyOrder(webhookBody:)`) against `JSONDecoder`
/// with `ShopifyOrder`'s `Codable` conformance, the reader it replaces: for the order fields it reads, the scanner
/// must accept exactly what `JSONDecoder` accepts, and read the same order.
enum OrderScannerFuzz {
    static func check(_ bytes: [UInt8]) {
        let scanning = Result { () throws(JSONScanError) in try ShopifyOrder(webhookBody: bytes) }
        guard FuzzTarget.jsonDecoderCanRead(bytes) else {
            if case .success = scanning { FuzzTarget.fail("the scanner read a document nested deeper than 512") }
            return
        }
        let scanned = try? scanning.get()
        let decoded = try? JSONDecoder().decode(ShopifyOrder.self, from: Data(bytes))
        switch (scanned, decoded) {
        case (nil, nil): return
        case (let scanned?, let decoded?):
            if scanned != decoded { FuzzTarget.fail("the scanner read \(scanned), JSONDecoder \(decoded)") }
        case (nil, let decoded?):
            let reason = if case .failure(let error) = scanning { "\(error)" } else { "" }
            FuzzTarget.fail("the scanner refused (\(reason)) what JSONDecoder read as \(decoded)")
        case (let scanned?, nil):
            FuzzTarget.fail("the scanner read \(scanned) from what JSONDecoder refuses")
        }
    }
}

#if FUZZING
/// libFuzzer's entry point, for when its own `main` is the one linked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    OrderScannerFuzz.check(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#endif

@main
struct Main {
    static func main() { FuzzTarget.run(OrderScannerFuzz.check) }
}
