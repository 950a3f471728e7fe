import Foundation

/// RFC 3339 timestamps with an offset, optionally with fractional seconds (`2026-11-27T10:00:00-05:00`,
/// `2026-11-27T15:00:00.250Z`); the offset is also read without its colon, as ISO 8601's basic format writes it.
///
/// Read by hand: Foundation's ISO 8601 parser is slow for the hot paths (every webhook in the gateway, every job in
/// the worker). Tests compare the two on generated timestamps.
public enum RFC3339 {
    /// The instant, or nil when the text is not such a timestamp (or is one before 1583: Foundation counts those
    /// days by the Julian calendar, this by the Gregorian one; ``foundation(_:)`` reads them as JSONDecoder does).
    ///
    /// - Parameter lowercaseT: whether `t` may separate the date and the time, as RFC 3339 allows; JSONDecoder's
    ///   `.iso8601` strategy refuses it, so readers held to JSONDecoder pass false.
    public static func parse(_ text: String, lowercaseT: Bool = true) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard digit >= 0 && digit <= 9 else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), bytes[4] == UInt8(ascii: "-"), let month = number(5..<7), bytes[7] == UInt8(ascii: "-"),
            let day = number(8..<10), bytes[10] == UInt8(ascii: "T") || (lowercaseT && bytes[10] == UInt8(ascii: "t")),
            let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"), let minute = number(14..<16),
            bytes[16] == UInt8(ascii: ":"), let second = number(17..<19)
        else { return nil }
        if year < 1583 { return nil }
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year), hour < 24, minute < 60, second < 60 else {
            return nil
        }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, let digit = number(index..<index + 1) {
                fraction += Double(digit) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            // `+05:00`, or `+0500` as ISO 8601's basic format writes it.
            let colon = index + 3 < bytes.count && bytes[index + 3] == UInt8(ascii: ":") ? 1 : 0
            guard index + 5 + colon == bytes.count, let hours = number(index + 1..<index + 3),
                let minutes = number(index + 3 + colon..<index + 5 + colon), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 5 + colon
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = Self.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// What JSONDecoder's `.iso8601` strategy reads, for the shapes ``parse(_:)`` does not take: a field out of
    /// range (`08:90` is `09:30` there), a year before 1583 (found by FuzzJobEnvelope). Slow; not the hot path.
    public static func foundation(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle().parse(text)) ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the given day of the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
