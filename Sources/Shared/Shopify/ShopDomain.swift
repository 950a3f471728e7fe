/// A shop's `*.myshopify.com` domain, lower-cased and checked against `^[a-z0-9][a-z0-9-]*\.myshopify\.com$`.
public struct ShopDomain: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    /// Returns nil for anything that is not a plain myshopify.com domain.
    public init?(_ raw: String) {
        let lowered = raw.lowercased()
        let suffix = ".myshopify.com"
        guard lowered.hasSuffix(suffix), lowered.utf8.count <= 255 else { return nil }
        let name = lowered.utf8.dropLast(suffix.utf8.count)
        guard let first = name.first, Self.isAlphanumeric(first),
            name.allSatisfy({ Self.isAlphanumeric($0) || $0 == UInt8(ascii: "-") })
        else { return nil }
        self.value = lowered
    }

    public var description: String { self.value }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
