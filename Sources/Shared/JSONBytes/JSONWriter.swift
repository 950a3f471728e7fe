import Foundation

/// Writes JSON straight into bytes: the hot-path counterpart of `JSONEncoder` (see ``JSONScanner`` for why).
///
/// Objects are written field by field (`writer.object { w in w.field("id", 1) }`); `nil` optionals are left out, as
/// synthesized `Encodable` conformances do. The output decodes with the project's `JSONDecoder` set-up.
public struct JSONWriter {
    /// The document written so far.
    public var bytes: [UInt8] { self.storage }
    @usableFromInline var storage: [UInt8] = []
    /// Whether the container being written already has a member (so the next one needs a comma).
    @usableFromInline var hasMember = false

    @inlinable
    public init(capacity: Int = 512) {
        self.storage.reserveCapacity(capacity)
    }

    /// Writes one value of a type that knows how.
    @inlinable
    public mutating func value(_ value: some JSONWritable) {
        value.write(to: &self)
    }

    /// An object whose members `members` writes with `field` calls.
    @inlinable
    public mutating func object(_ members: (inout JSONWriter) -> Void) {
        self.storage.append(UInt8(ascii: "{"))
        let outer = self.hasMember
        self.hasMember = false
        members(&self)
        self.hasMember = outer
        self.storage.append(UInt8(ascii: "}"))
    }

    /// An array of values that write themselves.
    @inlinable
    public mutating func array<Element: JSONWritable>(_ elements: [Element]) {
        self.storage.append(UInt8(ascii: "["))
        for (offset, element) in elements.enumerated() {
            if offset > 0 { self.storage.append(UInt8(ascii: ",")) }
            let outer = self.hasMember
            element.write(to: &self)
            self.hasMember = outer
        }
        self.storage.append(UInt8(ascii: "]"))
    }

    /// A member of the object being written; nothing at all when `value` is nil.
    @inlinable
    public mutating func field(_ key: StaticString, _ value: (some JSONWritable)?) {
        guard let value else { return }
        self.key(key)
        value.write(to: &self)
    }

    // Concrete overloads for the scalars: a generic call that is not specialized looks up type metadata at run
    // time, which showed in the gateway's profile.

    /// A string member; nil leaves the member out.
    @inlinable
    public mutating func field(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        self.key(key)
        self.string(value)
    }

    /// An integer member; nil leaves the member out.
    @inlinable
    public mutating func field(_ key: StaticString, _ value: Int?) {
        guard let value else { return }
        self.key(key)
        self.integer(Int64(value))
    }

    /// A 64-bit integer member (Shopify ids), written exactly; nil leaves the member out.
    @inlinable
    public mutating func field(_ key: StaticString, _ value: Int64?) {
        guard let value else { return }
        self.key(key)
        self.integer(value)
    }

    /// A boolean member; nil leaves the member out.
    @inlinable
    public mutating func field(_ key: StaticString, _ value: Bool?) {
        guard let value else { return }
        self.key(key)
        self.bool(value)
    }

    /// A member holding an array; nothing at all when `elements` is nil.
    @inlinable
    public mutating func field<Element: JSONWritable>(_ key: StaticString, array elements: [Element]?) {
        guard let elements else { return }
        self.key(key)
        self.array(elements)
    }

    /// A member holding an object written by `members`.
    @inlinable
    public mutating func field(_ key: StaticString, object members: (inout JSONWriter) -> Void) {
        self.key(key)
        self.object(members)
    }

    /// A member holding an object of strings, its keys sorted (so that a document reads the same each time); nothing
    /// when nil.
    @inlinable
    public mutating func field(_ key: StaticString, strings members: [String: String]?) {
        guard let members else { return }
        self.key(key)
        self.storage.append(UInt8(ascii: "{"))
        for (index, name) in members.keys.sorted().enumerated() {
            if index > 0 { self.storage.append(UInt8(ascii: ",")) }
            self.string(name)
            self.storage.append(UInt8(ascii: ":"))
            self.string(members[name]!)
        }
        self.storage.append(UInt8(ascii: "}"))
    }

    /// A member holding a date as RFC 3339 in UTC with whole seconds: what `JSONEncoder`'s `.iso8601` writes.
    @inlinable
    public mutating func field(_ key: StaticString, date: Date) {
        self.key(key)
        self.string(Self.iso8601(date))
    }

    /// A string value, escaped as JSONEncoder escapes it.
    @inlinable
    public mutating func string(_ string: String) {
        self.storage.append(UInt8(ascii: "\""))
        // Most strings (ids, SKUs, timestamps) need no escaping: copied as they are.
        let copied = string.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            self.storage.append(contentsOf: utf8)
            return true
        }
        if copied == true {
            self.storage.append(UInt8(ascii: "\""))
            return
        }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): self.storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): self.storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: self.storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: self.storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: self.storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case ..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                self.storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                self.storage.append(hex[Int(byte >> 4)])
                self.storage.append(hex[Int(byte & 0xF)])
            default: self.storage.append(byte)
            }
        }
        self.storage.append(UInt8(ascii: "\""))
    }

    /// An integer value.
    @inlinable
    public mutating func integer(_ value: Int64) {
        // By hand: `String(value)` costs an allocation and a generic conversion per number.
        var magnitude = value.magnitude
        if value < 0 { self.storage.append(UInt8(ascii: "-")) }
        let start = self.storage.count
        repeat {
            self.storage.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        self.storage[start...].reverse()
    }

    /// `true` or `false`.
    @inlinable
    public mutating func bool(_ value: Bool) {
        self.storage.append(contentsOf: (value ? "true" : "false").utf8)
    }

    @usableFromInline
    mutating func key(_ key: StaticString) {
        if self.hasMember { self.storage.append(UInt8(ascii: ",")) }
        self.hasMember = true
        self.storage.append(UInt8(ascii: "\""))
        self.storage.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        self.storage.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    /// `yyyy-MM-ddTHH:mm:ssZ` for the whole second at or before `date`.
    @usableFromInline
    static func iso8601(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}

/// A value that writes itself with a ``JSONWriter``, in the same shape its `Encodable` conformance has.
public protocol JSONWritable {
    func write(to writer: inout JSONWriter)
}

extension String: JSONWritable {
    @inlinable
    public func write(to writer: inout JSONWriter) { writer.string(self) }
}

extension Int: JSONWritable {
    @inlinable
    public func write(to writer: inout JSONWriter) { writer.integer(Int64(self)) }
}

extension Int64: JSONWritable {
    @inlinable
    public func write(to writer: inout JSONWriter) { writer.integer(self) }
}

extension Bool: JSONWritable {
    @inlinable
    public func write(to writer: inout JSONWriter) { writer.bool(self) }
}
