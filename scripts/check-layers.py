#!/usr/bin/env python3
"""The layer check of docs/architecture.md: fails when a target imports a module its layer may not, or a module it
does not declare in Package.swift.

Reads the manifest through `swift package dump-package` and every target's Swift sources; `--manifest FILE` reads a
dump saved before (for its own test). Prints one line per violation and exits 1 when there is any.
"""
import json
import pathlib
import re
import subprocess
import sys

# Project modules by layer, bottom first: a module imports only modules of lower layers. Same-layer modules are
# independent of each other on purpose (Storage does not know Shopify; the job queue does not know Shopify's API).
LAYERS = [
    ["CHiredis", "JSONBytes", "ProcessEnvironment"],
    ["RedisClient", "Shopify", "Storage"],
    ["JobQueue", "ShopifyAdmin"],
    ["EcommerceJobs"],
    ["Operations", "Diagnostics"],
    ["GatewayApp", "WorkerApp"],
    ["Gateway", "Worker"],
]
# Development and test code: never imported by the modules above.
TOOLS = {
    "ShopifySimulatorCore": set(),
    "ShopifySimulator": {"ShopifySimulatorCore"},
    "JobQueueTesting": {"JobQueue"},
    "FuzzSupport": set(),
}
# Fuzz targets and tests may import any project module.
UNRESTRICTED_TYPES = {"test"}
UNRESTRICTED_PREFIXES = ("Fuzz",)
# Modules of the toolchain: no declaration needed.
SYSTEM = {"Foundation", "FoundationEssentials", "Dispatch", "Glibc", "Musl", "SwiftOverlayShims", "Synchronization", "Testing", "XCTest", "_Concurrency", "os"}

IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def layer_of(module):
    for index, names in enumerate(LAYERS):
        if module in names:
            return index
    return None


def allowed(target, module):
    """Whether project module `module` may be imported by `target` (a dump-package target)."""
    name = target["name"]
    if target["type"] in UNRESTRICTED_TYPES or name.startswith(UNRESTRICTED_PREFIXES):
        return True
    if name in TOOLS:
        return module in TOOLS[name]
    if module in TOOLS or module.startswith(UNRESTRICTED_PREFIXES):
        return False  # production code never imports development or test code
    mine, theirs = layer_of(name), layer_of(module)
    if mine is None or theirs is None:
        return False
    return theirs < mine


def declared(target):
    names = set()
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                names.add(dependency[kind][0])
    return names


def main(argv):
    root = pathlib.Path(__file__).resolve().parent.parent
    if len(argv) > 2 and argv[1] == "--manifest":
        manifest = json.loads(pathlib.Path(argv[2]).read_text())
    else:
        dump = subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True, capture_output=True, text=True)
        manifest = json.loads(dump.stdout)
    targets = manifest["targets"]
    project = {t["name"] for t in targets}
    problems = []
    for target in targets:
        name = target["name"]
        if layer_of(name) is None and name not in TOOLS and target["type"] not in UNRESTRICTED_TYPES \
                and not name.startswith(UNRESTRICTED_PREFIXES):
            problems.append(f"{name}: not in any layer of scripts/check-layers.py (add it, and to docs/architecture.md)")
            continue
        path = root / (target.get("path") or f"Sources/{name}")
        dependencies = declared(target)
        for source in sorted(path.rglob("*.swift")):
            text = source.read_text()
            for module in sorted(set(IMPORT.findall(text))):
                where = f"{source.relative_to(root)}: import {module}"
                if module in SYSTEM or module == name:
                    continue
                if module not in dependencies:
                    problems.append(f"{where}: {name} does not declare {module} in Package.swift")
                if module in project and not allowed(target, module):
                    problems.append(f"{where}: {name} (layer {layer_of(name)}) may not import {module} (layer {layer_of(module)})")
    for problem in problems:
        print(problem)
    if problems:
        print(f"layer check: {len(problems)} violation(s); the layers are in docs/architecture.md")
        return 1
    print(f"layer check: {len(targets)} targets, every import declared and allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
