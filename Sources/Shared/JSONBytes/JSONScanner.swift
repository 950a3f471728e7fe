import Foundation

/// A pull parser over UTF-8 JSON: reads the values the caller asks for, skips the rest, and checks the syntax of
/// the whole document (RFC 8259) on the way.
///
/// Why it exists: the gateway turns every webhook body into a job, and Foundation's `JSONDecoder` plus
/// `JSONEncoder` cost about 60 µs per order on this machine, half of the gateway's budget. Reading the few fields an
/// order's stock effect needs straight from the bytes costs a few microseconds. `Codable` stays the definition
/// everywhere else; tests check that both read webhook bodies alike.
///
/// Usage: `try scanner.readObject { scanner, key in switch key { case "id": … = try scanner.readInt64()
/// default: try scanner.skipValue() } }`. Every callback must consume exactly one value.
public struct JSONScanner {
    @usableFromInline let bytes: [UInt8]
    @usableFromInline var index = 0
    @usableFromInline var depth = 0
    /// Nesting deeper than this is refused, so that a hostile body cannot exhaust the stack.
    public static let maxDepth = 64

    @inlinable
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads one complete document with `read`, then requires that only whitespace follows.
    @inlinable
    public static func parse<T>(_ bytes: [UInt8], _ read: (inout JSONScanner) throws(JSONScanError) -> T) throws(JSONScanError) -> T {
        var scanner = JSONScanner(bytes)
        let value = try read(&scanner)
        scanner.skipWhitespace()
        guard scanner.index == scanner.bytes.count else { throw scanner.error("trailing characters") }
        return value
    }

    // MARK: Containers

    /// Reads an object, calling `field` with each key; `field` must consume the key's value.
    @inlinable
    public mutating func readObject(_ field: (inout JSONScanner, JSONKey) throws(JSONScanError) -> Void) throws(JSONScanError) {
        try self.expect(UInt8(ascii: "{"), "an object")
        try self.enter()
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "}") {
            self.index += 1
            self.depth -= 1
            return
        }
        while true {
            self.skipWhitespace()
            guard self.peek() == UInt8(ascii: "\"") else { throw self.error("expected a key") }
            let key = JSONKey(utf8: try self.scanString())
            self.skipWhitespace()
            try self.expect(UInt8(ascii: ":"), "':'")
            try field(&self, key)
            self.skipWhitespace()
            switch self.next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "}"):
                self.depth -= 1
                return
            default: throw self.error("expected ',' or '}'")
            }
        }
    }

    /// Reads an array, calling `element` once per element; `element` must consume it.
    @inlinable
    public mutating func readArray(_ element: (inout JSONScanner) throws(JSONScanError) -> Void) throws(JSONScanError) {
        try self.expect(UInt8(ascii: "["), "an array")
        try self.enter()
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "]") {
            self.index += 1
            self.depth -= 1
            return
        }
        while true {
            try element(&self)
            self.skipWhitespace()
            switch self.next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "]"):
                self.depth -= 1
                return
            default: throw self.error("expected ',' or ']'")
            }
        }
    }

    /// True (and consumed) when the next value is `null`, as `decodeIfPresent` treats it.
    @inlinable
    public mutating func readNull() throws(JSONScanError) -> Bool {
        self.skipWhitespace()
        guard self.peek() == UInt8(ascii: "n") else { return false }
        try self.literal("null")
        return true
    }

    // MARK: Scalars

    @inlinable
    public mutating func readString() throws(JSONScanError) -> String {
        String(decoding: try self.scanString(), as: UTF8.self)
    }

    /// The UTF-8 bytes of the string that comes next, unescaped and checked: control characters, escapes and
    /// UTF-8 are refused where `JSONDecoder` refuses them. Without escapes the bytes are a slice of the document.
    @usableFromInline
    mutating func scanString() throws(JSONScanError) -> ArraySlice<UInt8> {
        self.skipWhitespace()
        try self.expect(UInt8(ascii: "\""), "a string")
        let start = self.index
        var ascii = true
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                let utf8 = self.bytes[start..<self.index]
                self.index += 1
                return ascii ? utf8 : try self.validUTF8(utf8)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw self.error("control character in a string") }
            ascii = ascii && byte < 0x80
            self.index += 1
        }
        var unescaped = Array(self.bytes[start..<self.index])
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try self.validUTF8(unescaped[...])
            case UInt8(ascii: "\\"):
                try self.readEscape(into: &unescaped)
            case ..<0x20:
                throw self.error("control character in a string")
            default:
                unescaped.append(byte)
            }
        }
        throw self.error("unterminated string")
    }

    /// `utf8` when it is valid UTF-8.
    ///
    /// Not `String(validating:)`: being generic over the collection, it looked up type metadata at run time on
    /// every call, a third of the scanner's time. Decoding repairs invalid sequences with U+FFFD, which changes
    /// the bytes: that is the check.
    @usableFromInline
    func validUTF8(_ utf8: ArraySlice<UInt8>) throws(JSONScanError) -> ArraySlice<UInt8> {
        guard String(decoding: utf8, as: UTF8.self).utf8.elementsEqual(utf8) else { throw self.error("invalid UTF-8") }
        return utf8
    }

    /// An integer in JSON's number syntax with no fraction or exponent (Shopify's ids and quantities).
    @inlinable
    public mutating func readInt64() throws(JSONScanError) -> Int64 {
        self.skipWhitespace()
        let start = self.index
        let negative = self.peek() == UInt8(ascii: "-")
        if negative { self.index += 1 }
        let digitsStart = self.index
        var value: Int64 = 0
        while let byte = self.peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let digit = Int64(byte - UInt8(ascii: "0"))
            // Accumulate negatively so that Int64.min fits.
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(digit)
            guard !overflow1 && !overflow2 else { throw self.error("integer out of range") }
            value = next
            self.index += 1
        }
        let digits = self.index - digitsStart
        guard digits > 0 else {
            self.index = start
            throw self.error("expected an integer")
        }
        guard digits == 1 || self.bytes[digitsStart] != UInt8(ascii: "0") else { throw self.error("leading zero") }
        if let byte = self.peek(), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            throw self.error("expected an integer")
        }
        if negative { return value }
        guard value != Int64.min else { throw self.error("integer out of range") }
        return -value
    }

    @inlinable
    public mutating func readInt() throws(JSONScanError) -> Int {
        let value = try self.readInt64()
        guard let int = Int(exactly: value) else { throw self.error("integer out of range") }
        return int
    }

    @inlinable
    public mutating func readBool() throws(JSONScanError) -> Bool {
        self.skipWhitespace()
        switch self.peek() {
        case UInt8(ascii: "t"):
            try self.literal("true")
            return true
        case UInt8(ascii: "f"):
            try self.literal("false")
            return false
        default: throw self.error("expected a boolean")
        }
    }

    /// Consumes any value, checking its syntax.
    @inlinable
    public mutating func skipValue() throws(JSONScanError) {
        self.skipWhitespace()
        guard let byte = self.peek() else { throw self.error("unexpected end") }
        switch byte {
        case UInt8(ascii: "{"): try self.readObject { scanner, _ throws(JSONScanError) in try scanner.skipValue() }
        case UInt8(ascii: "["): try self.readArray { scanner throws(JSONScanError) in try scanner.skipValue() }
        case UInt8(ascii: "\""): _ = try self.scanString()
        case UInt8(ascii: "t"): try self.literal("true")
        case UInt8(ascii: "f"): try self.literal("false")
        case UInt8(ascii: "n"): try self.literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try self.skipNumber()
        default: throw self.error("unexpected character")
        }
    }

    // MARK: Internals

    @usableFromInline
    mutating func skipNumber() throws(JSONScanError) {
        if self.peek() == UInt8(ascii: "-") { self.index += 1 }
        guard let first = self.peek(), Self.isDigit(first) else { throw self.error("invalid number") }
        self.index += 1
        if first != UInt8(ascii: "0") { self.skipDigits() }
        if self.peek() == UInt8(ascii: ".") {
            self.index += 1
            guard self.skipDigits() > 0 else { throw self.error("invalid number") }
        }
        if let byte = self.peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            self.index += 1
            if let sign = self.peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { self.index += 1 }
            guard self.skipDigits() > 0 else { throw self.error("invalid number") }
        }
    }

    @discardableResult
    @usableFromInline
    mutating func skipDigits() -> Int {
        let start = self.index
        while let byte = self.peek(), Self.isDigit(byte) { self.index += 1 }
        return self.index - start
    }

    @usableFromInline
    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    @usableFromInline
    mutating func readEscape(into output: inout [UInt8]) throws(JSONScanError) {
        guard let byte = self.next() else { throw self.error("unterminated escape") }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try self.readHex4())
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard self.next() == UInt8(ascii: "\\"), self.next() == UInt8(ascii: "u") else { throw self.error("lone surrogate") }
                let low = UInt32(try self.readHex4())
                guard (0xDC00..<0xE000).contains(low) else { throw self.error("lone surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw self.error("lone surrogate") }
            output.append(contentsOf: UTF8.encode(unicode)!)
        default: throw self.error("invalid escape")
        }
    }

    @usableFromInline
    mutating func readHex4() throws(JSONScanError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = self.next() else { throw self.error("unterminated escape") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw self.error("invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    @usableFromInline
    mutating func literal(_ word: StaticString) throws(JSONScanError) {
        let count = word.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw self.error("unexpected end") }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for offset in 0..<count where self.bytes[self.index + offset] != expected[offset] {
            throw self.error("invalid literal")
        }
        self.index += count
    }

    @usableFromInline
    mutating func enter() throws(JSONScanError) {
        self.depth += 1
        guard self.depth <= Self.maxDepth else { throw self.error("nested too deeply") }
    }

    @usableFromInline
    mutating func expect(_ byte: UInt8, _ what: String) throws(JSONScanError) {
        self.skipWhitespace()
        guard self.next() == byte else { throw self.error("expected \(what)") }
    }

    @usableFromInline
    func peek() -> UInt8? {
        self.index < self.bytes.count ? self.bytes[self.index] : nil
    }

    @usableFromInline
    mutating func next() -> UInt8? {
        guard self.index < self.bytes.count else { return nil }
        defer { self.index += 1 }
        return self.bytes[self.index]
    }

    @usableFromInline
    mutating func skipWhitespace() {
        while let byte = self.peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { self.index += 1 }
    }

    @usableFromInline
    func error(_ reason: String) -> JSONScanError {
        JSONScanError(reason: reason, offset: self.index)
    }

    /// A field the document must have but did not.
    @inlinable
    public func missing(_ key: String) -> JSONScanError {
        JSONScanError(reason: "missing \"\(key)\"", offset: self.index)
    }
}

/// An object's key, compared with literals without making a `String`: `switch key { case "id": … }`.
public struct JSONKey: CustomStringConvertible {
    @usableFromInline let utf8: ArraySlice<UInt8>

    @inlinable
    init(utf8: ArraySlice<UInt8>) {
        self.utf8 = utf8
    }

    @inlinable
    public static func ~= (pattern: StaticString, key: JSONKey) -> Bool {
        let count = pattern.utf8CodeUnitCount
        guard count == key.utf8.count else { return false }
        guard count > 0 else { return true }
        return key.utf8.withUnsafeBufferPointer { bytes in memcmp(bytes.baseAddress!, pattern.utf8Start, count) == 0 }
    }

    public var description: String { String(decoding: self.utf8, as: UTF8.self) }
}

/// Why a document could not be read, and about where.
public struct JSONScanError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public var offset: Int

    @inlinable
    public init(reason: String, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "invalid JSON at byte \(self.offset): \(self.reason)" }
}

/// A value that reads itself with a ``JSONScanner``, in the same shape its `Decodable` conformance reads.
public protocol JSONScannable {
    init(scanning scanner: inout JSONScanner) throws(JSONScanError)
}

extension JSONScanner {
    /// An RFC 3339 date, as `JSONDecoder`'s `.iso8601` strategy reads it.
    @inlinable
    public mutating func readDate() throws(JSONScanError) -> Date {
        let text = try self.readString()
        guard let date = RFC3339.parse(text) else { throw JSONScanError(reason: "not an RFC 3339 date", offset: self.index) }
        return date
    }
}
