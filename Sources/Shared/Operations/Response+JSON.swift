import Foundation
import HTTPTypes
import Hummingbird

/// The error body of every non-2xx answer: `{"error": "<code>", "message": "…"}`. Never carries internals.
public struct ErrorBody: Encodable, Sendable {
    public var error: String
    public var message: String

    public init(error: String, message: String) {
        self.error = error
        self.message = message
    }
}

/// `{"ok": true}` or `{"ok": false, "error": "<code>"}`: the webhook's 200 answers.
public struct WebhookAck: Encodable, Sendable {
    public var ok: Bool
    public var error: String?

    public init(ok: Bool, error: String? = nil) {
        self.ok = ok
        self.error = error
    }
}

extension Response {
    /// A JSON response with the given status; dates as RFC 3339 text.
    public static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A JSON error answer.
    public static func error(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) -> Response {
        .json(ErrorBody(error: code, message: message), status: status, headers: headers)
    }
}
