"""Writes the gateway's OpenAPI document (docs/openapi.json, the one definition, edited as JSON) into the Swift source
that serves it (Sources/Gateway/App/OpenAPIDocument.swift, between BEGIN DOCUMENT and END DOCUMENT), or with --check
exits 1 when the two differ. The test suite holds the served document equal to docs/openapi.json too.

  python3 scripts/openapi/write_document.py [--check]
"""

import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DOCUMENT = os.path.join(ROOT, "docs", "openapi.json")
SWIFT = os.path.join(ROOT, "Sources", "Gateway", "App", "OpenAPIDocument.swift")
OPENING = '    static let json = ##"""'
CLOSING = '        """##'


def embedded(swift: str, document: str) -> str:
    """The Swift source with `document` as its string literal, indented as swift-format wants it."""
    lines = swift.splitlines()
    start = lines.index(OPENING) + 1
    end = lines.index(CLOSING)
    body = [("        " + line) if line else "" for line in document.rstrip("\n").splitlines()]
    return "\n".join(lines[:start] + body + lines[end:]) + "\n"


def main() -> int:
    document = open(DOCUMENT, encoding="utf-8").read()
    json.loads(document)  # a document that is not JSON fails here, not in a client
    swift = open(SWIFT, encoding="utf-8").read()
    wanted = embedded(swift, document)
    if "--check" in sys.argv:
        if wanted != swift:
            print("OpenAPIDocument.swift differs from docs/openapi.json: run scripts/openapi/write_document.py", file=sys.stderr)
            return 1
        return 0
    with open(SWIFT, "w", encoding="utf-8") as file:
        file.write(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
