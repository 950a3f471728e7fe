import Foundation

/// A pull parser over UTF-8 JSON: reads the values the caller asks for, skips the rest, and checks the syntax of
/// the whole document (RFC 8259) on the way.
///
/// Why it exists: the gateway turns every webhook body into a job, and Foundation's `JSONDecoder` plus
/// `JSONEncoder` cost about as much as everything else the gateway does per delivery. Reading the few fields an
/// order's stock effect needs straight from the bytes costs a small part of that (`docs/performance.md`). `Codable` stays the definition
/// everywhere else; tests check that both read webhook bodies alike.
///
/// Usage: `try scanner.readObject { scanner, key in switch key { case "id": … = try scanner.readInt64()
/// default: try scanner.skipValue() } }`. Every callback must consume exactly one value.
public struct JSONScanner {
    @usableFromInline let bytes: [UInt8]
    @usableFromInline var index = 0
    @usableFromInline var depth = 0
    /// Nesting deeper than this is refused, so that a hostile body cannot exhaust the stack: `JSONDecoder`'s own
    /// limit, so that the two refuse the same documents (the fuzz target `FuzzOrderScanner` holds them to it).
    public static let maxDepth = 512

    @inlinable
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads one complete document with `read`, then requires that only whitespace follows.
    @inlinable
    public static func parse<T>(_ bytes: [UInt8], _ read: (inout JSONScanner) throws(JSONScanError) -> T) throws(JSONScanError) -> T {
        var scanner = JSONScanner(bytes)
        // A UTF-8 byte order mark is skipped, as JSONDecoder skips it.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { scanner.index = 3 }
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
            case UInt8(ascii: ","):
                // A comma before the closing brace is allowed, as JSONDecoder allows it.
                self.skipWhitespace()
                guard self.peek() == UInt8(ascii: "}") else { continue }
                self.index += 1
                self.depth -= 1
                return
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
            case UInt8(ascii: ","):
                // A comma before the closing bracket is allowed, as JSONDecoder allows it.
                self.skipWhitespace()
                guard self.peek() == UInt8(ascii: "]") else { continue }
                self.index += 1
                self.depth -= 1
                return
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

    /// A string value, its escapes decoded.
    ///
    /// - Throws: `JSONScanError` when the next value is not a string.
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
            guard !overflow1 && !overflow2 else {
                // Out of range, unless an exponent or a fraction follows (`18446744073709551615e-2`).
                self.index = start
                return try self.readIntegralNumber()
            }
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
            // `2.0`, `4.5e8`: JSONDecoder takes a number with a fraction or an exponent as an integer when its value
            // is one, exactly; so does this (rare, so not on the fast path above).
            self.index = start
            return try self.readIntegralNumber()
        }
        if negative { return value }
        guard value != Int64.min else { throw self.error("integer out of range") }
        return -value
    }

    /// A number with a fraction or an exponent read as JSONDecoder reads it into an integer (the rule FuzzOrderScanner
    /// and the damaged-bodies test hold it to): its `Double` must be whole and in
    /// range (`1.5`, `1e19` and `9223372036854775807.0` are refused); below 2^53 the value is that `Double`
    /// (`4097997947843424.9` is 4097997947843425), above it the text's exact value truncated toward zero
    /// (`63054418464716251.9` is 63054418464716251, `4459623783439565e01` is 44596237834395650), provided its
    /// significant digits fit in 64 bits (`86655031176643920.4689539` is refused).
    @usableFromInline
    mutating func readIntegralNumber() throws(JSONScanError) -> Int64 {
        let start = self.index
        try self.skipNumber()
        var text = self.bytes[start..<self.index]
        guard let double = Double(String(decoding: text, as: UTF8.self)), double.rounded(.towardZero) == double else {
            throw self.error("not an integer")
        }
        guard let exact = Int64(exactly: double) else { throw self.error("integer out of range") }
        if double.magnitude < 9_007_199_254_740_992 { return exact }
        let negative = text.first == UInt8(ascii: "-")
        if negative { text = text.dropFirst() }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            var exponentText = text[(e + 1)...]
            let negativeExponent = exponentText.first == UInt8(ascii: "-")
            if negativeExponent || exponentText.first == UInt8(ascii: "+") { exponentText = exponentText.dropFirst() }
            let significant = exponentText.drop { $0 == UInt8(ascii: "0") }
            // A whole Double with more than 4 exponent digits is far out of range (or zero, caught below).
            guard significant.count <= 4 else { throw self.error(double == 0 ? "not an integer" : "integer out of range") }
            exponent = significant.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } * (negativeExponent ? -1 : 1)
            text = text[..<e]
        }
        // The digits without the point; the value is digits × 10^exponent.
        var digits = Array(text.filter { $0 != UInt8(ascii: ".") })
        if let point = text.firstIndex(of: UInt8(ascii: ".")) { exponent -= text.endIndex - point - 1 }
        // JSONDecoder reads these through Decimal, whose significant digits (trailing zeros dropped) must fit in 64
        // unsigned bits before the exponent applies: `86655031176643920.4689539` is refused, `…920.000000` is not.
        while digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            exponent += 1
        }
        digits = Array(digits.drop { $0 == UInt8(ascii: "0") })
        guard digits.isEmpty || UInt64(String(decoding: digits, as: UTF8.self)) != nil else { throw self.error("integer out of range") }
        if exponent < 0 { digits.removeLast(min(digits.count, -exponent)) }  // truncated toward zero
        if digits.isEmpty { return 0 }
        let zeros = max(0, exponent)
        guard digits.count + zeros <= 19 else { throw self.error("integer out of range") }
        // Plain integer syntax now: readInt64's range checks (Int64.min included) apply.
        var integer = JSONScanner((negative ? [UInt8(ascii: "-")] : []) + digits + [UInt8](repeating: UInt8(ascii: "0"), count: zeros))
        return try integer.readInt64()
    }

    /// Reads a key's value only the first time the key comes (`seen` holds a bit per key of the caller's, `bit`
    /// this one's); a repeated key's value is skipped: the first occurrence wins, as in JSONDecoder.
    @inlinable
    public mutating func once(_ bit: Int, _ seen: inout UInt32, _ read: (inout JSONScanner) throws(JSONScanError) -> Void) throws(JSONScanError) {
        let mask: UInt32 = 1 << bit
        guard seen & mask == 0 else { return try self.skipValue() }
        seen |= mask
        try read(&self)
    }

    /// An integer value that fits `Int` (see ``readInt64()`` for the shapes it accepts).
    ///
    /// - Throws: `JSONScanError` when the next value is not such an integer.
    @inlinable
    public mutating func readInt() throws(JSONScanError) -> Int {
        let value = try self.readInt64()
        guard let int = Int(exactly: value) else { throw self.error("integer out of range") }
        return int
    }

    /// `true` or `false`.
    ///
    /// - Throws: `JSONScanError` for anything else.
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

    /// Consumes a value the caller does not read, checking its structure as JSONDecoder checks a value it does not
    /// decode: containers, literals and escapes as the grammar says, but a number's characters (`01`, `1.`) and a
    /// string's raw bytes (control characters, lone surrogate escapes) unchecked. A value nobody reads cannot
    /// change what is read; refusing what JSONDecoder accepts would refuse a delivery it would have taken.
    @inlinable
    public mutating func skipValue() throws(JSONScanError) {
        self.skipWhitespace()
        guard let byte = self.peek() else { throw self.error("unexpected end") }
        switch byte {
        case UInt8(ascii: "{"):
            try self.skipContainer(close: UInt8(ascii: "}")) { scanner throws(JSONScanError) in
                scanner.skipWhitespace()
                guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.error("expected a key") }
                try scanner.skipString()
                try scanner.expect(UInt8(ascii: ":"), "':'")
                try scanner.skipValue()
            }
        case UInt8(ascii: "["): try self.skipContainer(close: UInt8(ascii: "]")) { scanner throws(JSONScanError) in try scanner.skipValue() }
        case UInt8(ascii: "\""): try self.skipString()
        case UInt8(ascii: "t"): try self.literal("true")
        case UInt8(ascii: "f"): try self.literal("false")
        case UInt8(ascii: "n"): try self.literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            self.index += 1
            while let next = self.peek(),
                Self.isDigit(next) || next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E")
                    || next == UInt8(ascii: "+") || next == UInt8(ascii: "-")
            {
                self.index += 1
            }
        default: throw self.error("unexpected character")
        }
    }

    /// An object's or array's members up to `close`, each consumed by `member` (a comma before `close` allowed).
    @usableFromInline
    mutating func skipContainer(close: UInt8, _ member: (inout JSONScanner) throws(JSONScanError) -> Void) throws(JSONScanError) {
        self.index += 1
        try self.enter()
        self.skipWhitespace()
        if self.peek() == close {
            self.index += 1
            self.depth -= 1
            return
        }
        while true {
            try member(&self)
            self.skipWhitespace()
            guard let next = self.next() else { throw self.error("unexpected end") }
            if next == close { break }
            guard next == UInt8(ascii: ",") else { throw self.error("expected ',' or a close") }
            self.skipWhitespace()
            if self.peek() == close {
                self.index += 1
                break
            }
        }
        self.depth -= 1
    }

    /// A string nobody reads: to its closing quote, stepping over escapes (`\\` and one byte, `\\u` and four);
    /// nothing else is checked, as JSONDecoder checks nothing else in a string it does not decode.
    @usableFromInline
    mutating func skipString() throws(JSONScanError) {
        self.index += 1
        while let byte = self.next() {
            if byte == UInt8(ascii: "\"") { return }
            guard byte == UInt8(ascii: "\\") else { continue }
            // Whatever byte is escaped (`\'` too), and a `\u` takes the next four bytes whatever they are (`\uZZZZ`),
            // as JSONDecoder skips them (both found by FuzzOrderScanner).
            guard let escaped = self.next() else { break }
            if escaped == UInt8(ascii: "u") {
                // Four bytes, none of them the closing quote (JSONDecoder finds the string's end first).
                for _ in 0..<4 {
                    guard let byte = self.next(), byte != UInt8(ascii: "\"") else { throw self.error("invalid \\u escape") }
                }
            }
        }
        throw self.error("unterminated string")
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

    /// An error at the scanner's position: a value that is there but not what the reader accepts.
    @inlinable
    public func error(_ reason: String) -> JSONScanError {
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

    /// Whether `key` is `pattern`, byte for byte: what lets `switch key { case "id": … }` compare without a `String`.
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
        // The rare shapes the fast reading does not take are read as JobCoding's `.iso8601` strategy reads them.
        guard let date = RFC3339.parse(text, lowercaseT: false) ?? RFC3339.foundation(text) else {
            throw JSONScanError(reason: "not an RFC 3339 date", offset: self.index)
        }
        return date
    }
}
