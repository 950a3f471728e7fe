import Foundation
import Testing

/// The fuzz targets' committed seeds (and whatever was added there after a finding), replayed through the targets'
/// properties by the normal build of each (`scripts/fuzz.sh` runs them under libFuzzer).
@Suite("Fuzz corpus")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz/Corpus").standardized

    @Test(
        "every seed holds its target's properties: the fast path and NIOHTTP1 end requests alike, the scanner reads what JSONDecoder reads",
        arguments: ["WebhookHead", "OrderScanner", "JobEnvelope"]
    )
    func seedsHoldTheirProperties(target: String) async throws {
        let folder = Self.corpus.appendingPathComponent(target).path
        let seeds = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(seeds.count >= 10, "the seeds of \(target)")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-replay-\(target)-\(UUID().uuidString).log").path
        let replay = try ChildProcess.spawn(WorkerProcessTests.binDirectory + "/Fuzz\(target)", [folder], environment: [:], logPath: log)
        let exit = await replay.waitForExit(timeout: .seconds(120))
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(exit == .exited(0), "\(output.prefix(2000))")
        #expect(output.contains("replayed \(seeds.count) inputs: every property held"), "\(output.prefix(2000))")
    }
}
