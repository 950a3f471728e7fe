import Metrics

/// This process's job metrics, made once per served queue (bounded labels).
struct JobMetrics: Sendable {
    var succeeded: [String: Counter] = [:]
    var deferred: [String: Counter] = [:]
    var failed: [String: Counter] = [:]
    var recovered: [String: Counter] = [:]
    var quarantined: [String: Counter] = [:]
    var duration: [String: Timer] = [:]

    init(queues: [String]) {
        for queue in queues {
            self.succeeded[queue] = Counter(label: "jobs_total", dimensions: [("queue", queue), ("outcome", "succeeded")])
            self.deferred[queue] = Counter(label: "jobs_total", dimensions: [("queue", queue), ("outcome", "deferred")])
            self.failed[queue] = Counter(label: "jobs_total", dimensions: [("queue", queue), ("outcome", "failed")])
            self.recovered[queue] = Counter(label: "job_recoveries_total", dimensions: [("queue", queue)])
            self.quarantined[queue] = Counter(label: "job_quarantines_total", dimensions: [("queue", queue)])
            self.duration[queue] = Timer(label: "job_duration_seconds", dimensions: [("queue", queue)])
        }
    }
}
