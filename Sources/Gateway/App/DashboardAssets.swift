/// The ops dashboard's page, script and style sheet, served as they are. The page holds no data: the script reads
/// `/ops/api/overview` with the operator's token and renders every value with `textContent`, never as markup.
enum DashboardAssets {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>FlowPOS ecommerce · operations</title>
        <link rel="stylesheet" href="/ops/dashboard.css">
        <script src="/ops/dashboard.js" defer></script>
        </head>
        <body>
        <header>
          <h1>FlowPOS ecommerce · operations</h1>
          <span id="updated" class="muted"></span>
          <button id="sign-out" type="button" hidden>Sign out</button>
        </header>
        <div id="banner" role="alert" hidden></div>
        <form id="sign-in" hidden>
          <label for="token">Ops token</label>
          <input id="token" name="token" type="password" autocomplete="off" placeholder="JWT with role ops" required>
          <button type="submit">Sign in</button>
          <p class="muted">The token stays in this tab (session storage) and is sent only to this gateway.</p>
        </form>
        <main id="overview" hidden>
          <section id="workers"><h2>Workers <span class="count"></span></h2><div class="body"></div></section>
          <section id="queues"><h2>Queues</h2><div class="body"></div></section>
          <section id="connections"><h2>Connections and poll lag</h2><p class="schedule"></p><div class="body"></div></section>
          <section id="sync-runs"><h2>Sync runs</h2><div class="body"></div></section>
          <section id="dead-letters"><h2>Dead letters <span class="count"></span></h2><div class="body"></div></section>
          <section id="doctor">
            <h2>Doctor</h2>
            <form id="doctor-form">
              <label for="doctor-business">Business</label>
              <input id="doctor-business" name="business" placeholder="business id (or Doctor on a connection above)" required>
              <button type="submit">Run the checklist</button>
            </form>
            <form id="trace-form">
              <label for="trace-order">Order</label>
              <input id="trace-order" name="order" inputmode="numeric" placeholder="Shopify order id, e.g. 5801234567890" required>
              <button type="submit">Find it</button>
            </form>
            <div id="trace" class="trace"></div>
            <div class="body"></div>
          </section>
        </main>
        </body>
        </html>
        """

    static let style = """
        :root { font-family: system-ui, sans-serif; color: #1d2329; background: #f6f7f9; }
        body { margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem; }
        header { display: flex; align-items: baseline; gap: 1rem; }
        h1 { font-size: 1.3rem; margin: 0.5rem 0; flex: 1; }
        h2 { font-size: 1.05rem; margin: 1.5rem 0 0.5rem; }
        section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 0.25rem 1rem 1rem; margin-bottom: 1rem; }
        table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
        th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #eceff2; vertical-align: top; }
        th { color: #59636e; font-weight: 600; }
        td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
        .muted { color: #6b7580; font-size: 0.85rem; }
        .warn { color: #9a6700; font-weight: 600; }
        .bad { color: #b3261e; font-weight: 600; }
        .good { color: #1a7f37; }
        .count { color: #59636e; font-weight: normal; }
        .error-text { max-width: 28rem; overflow-wrap: anywhere; }
        progress { width: 9rem; vertical-align: middle; }
        #banner { background: #ffebe9; border: 1px solid #ff8182; padding: 0.5rem 1rem; border-radius: 6px; margin: 0.5rem 0; }
        #banner.info { background: #ddf4ff; border-color: #54aeff; }
        form#sign-in { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 1rem; max-width: 32rem; }
        form#sign-in input { width: 100%; box-sizing: border-box; margin: 0.5rem 0; padding: 0.4rem; }
        button { cursor: pointer; }
        #doctor-form input, #trace-form input { width: 22rem; padding: 0.3rem; }
        #trace-form { margin-top: 0.5rem; }
        .trace ol { font-size: 0.9rem; padding-left: 1.2rem; }
        .trace .kind { display: inline-block; min-width: 8rem; color: #59636e; }
        .finding { border-left: 4px solid #dde1e6; padding: 0.25rem 0.75rem; margin: 0.5rem 0; }
        .finding.ok { border-color: #1a7f37; }
        .finding.warning { border-color: #9a6700; }
        .finding.failing { border-color: #b3261e; }
        .finding h3 { font-size: 0.95rem; margin: 0.2rem 0; }
        .finding ul { margin: 0.2rem 0; padding-left: 1.2rem; font-size: 0.9rem; }
        .finding .action { font-size: 0.9rem; }
        """

    static let script = """
        "use strict";
        const tokenKey = "flowpos-ops-token";
        const refreshMs = 5000;
        let timer = null;

        const $ = (selector) => document.querySelector(selector);

        function element(tag, text, className) {
          const node = document.createElement(tag);
          if (text !== undefined && text !== null) node.textContent = String(text);
          if (className) node.className = className;
          return node;
        }

        function table(headers, rows, numeric = []) {
          const result = element("table");
          const head = result.createTHead().insertRow();
          headers.forEach((title, index) => head.appendChild(element("th", title, numeric.includes(index) ? "number" : "")));
          const body = result.createTBody();
          rows.forEach((cells) => {
            const row = body.insertRow();
            cells.forEach((cell, index) => {
              const td = row.insertCell();
              if (numeric.includes(index)) td.className = "number";
              if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell === null || cell === undefined ? "–" : String(cell);
            });
          });
          return result;
        }

        function duration(seconds) {
          if (seconds === null || seconds === undefined) return "never";
          if (seconds < 90) return `${Math.round(seconds)} s`;
          if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
          if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
          return `${(seconds / 86400).toFixed(1)} d`;
        }

        function time(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }

        function banner(text, kind) {
          const node = $("#banner");
          node.textContent = text || "";
          node.className = kind || "";
          node.hidden = !text;
        }

        function token() { return sessionStorage.getItem(tokenKey); }

        async function api(path, options = {}) {
          const response = await fetch(path, { ...options, headers: { Authorization: `Bearer ${token()}`, Accept: "application/json" } });
          let body = null;
          try { body = await response.json(); } catch (_) { }
          if (response.status === 401 || response.status === 403) {
            signOut(`The token was refused (${body && body.message ? body.message : response.status}). Sign in with an ops token.`);
            throw new Error("unauthorized");
          }
          if (!response.ok) throw new Error(body && body.message ? body.message : `HTTP ${response.status}`);
          return body;
        }

        function renderWorkers(workers, now) {
          const section = $("#workers");
          section.querySelector(".count").textContent = `(${workers.length} live)`;
          const body = section.querySelector(".body");
          body.replaceChildren();
          if (workers.length === 0) { body.appendChild(element("p", "No live worker: nothing is consuming the queues.", "bad")); return; }
          body.appendChild(table(["Host", "PID", "Queues", "Concurrency", "In flight", "Heartbeat"],
            workers.map((w) => [w.host, w.pid, w.queues.join(", "), w.concurrency, w.inFlight, `${Math.max(0, (now - w.heartbeatAtMs) / 1000).toFixed(1)} s ago`]),
            [1, 3, 4]));
        }

        function renderQueues(queues) {
          const body = $("#queues .body");
          body.replaceChildren(table(["Queue", "Ready", "In flight", "Delayed", "Dead", "Oldest ready"],
            queues.map((q) => {
              const age = element("span", q.ready > 0 ? duration(q.oldestReadyAgeSeconds) : "–", q.oldestReadyAgeSeconds > 60 ? "warn" : "");
              const dead = element("span", q.dead, q.dead > 0 ? "bad" : "");
              return [q.queue, q.ready, q.inflight, q.delayed, dead, age];
            }), [1, 2, 3, 4, 5]));
        }

        function renderConnections(connections, schedule) {
          const section = $("#connections");
          const summary = section.querySelector(".schedule");
          summary.replaceChildren();
          summary.appendChild(element("span", `${schedule.activeConnections} active connections, ${schedule.scheduled} scheduled polls`));
          if (schedule.missingCount > 0) summary.appendChild(element("span", ` · ${schedule.missingCount} without a poll: ${schedule.missing.slice(0, 5).join(", ")}`, "bad"));
          if (schedule.nextDue) summary.appendChild(element("span", ` · next poll due ${time(schedule.nextDue)}`, "muted"));
          const body = section.querySelector(".body");
          if (connections.length === 0) { body.replaceChildren(element("p", "No connection yet.", "muted")); return; }
          body.replaceChildren(table(["Shop", "Business", "Status", "Last synced", "Poll lag", ""],
            connections.map((c) => {
              const button = element("button", "Doctor");
              button.type = "button";
              button.dataset.business = c.businessId.toLowerCase();
              button.addEventListener("click", () => doctor(c.businessId, false));
              return [c.shop, c.businessId, element("span", c.status, c.status === "active" ? "good" : "muted"), time(c.lastSyncedAt),
                element("span", duration(c.lagSeconds), c.status === "active" && (c.lagSeconds === null || c.lagSeconds > 1800) ? "warn" : ""), button];
            }),
            [4]));
        }

        function progress(run) {
          const wrapper = element("span");
          const bar = element("progress");
          let label;
          if (run.pagesTotal) {
            bar.max = run.pagesTotal; bar.value = run.pagesDone;
            label = `${run.pagesDone}/${run.pagesTotal} pages`;
          } else if (run.total) {
            bar.max = run.total; bar.value = run.processed + run.failed;
            label = `${run.processed + run.failed}/${run.total}`;
          } else {
            if (run.status !== "running") { bar.max = 1; bar.value = 1; }
            label = run.status === "running" ? "working…" : `${run.processed} done`;
          }
          bar.setAttribute("aria-label", label);
          wrapper.append(bar, " ", element("span", label, "muted"));
          return wrapper;
        }

        function renderRuns(runs, shops) {
          const body = $("#sync-runs .body");
          if (runs.length === 0) { body.replaceChildren(element("p", "No push or poll in the last day.", "muted")); return; }
          body.replaceChildren(table(["Kind", "Shop", "Status", "Progress", "Processed", "Failed", "Started", "Failure reasons"],
            runs.map((r) => {
              const status = element("span", r.status, { completed: "good", running: "", partial: "warn", failed: "bad" }[r.status] || "");
              const reasons = r.errors.length === 0 ? "" : r.errors.slice(0, 3).map((e) => `${e.code}: ${e.message}${e.subject ? ` (${e.subject})` : ""}`).join("; ");
              return [r.kind.replace("_", " "), shops.get(r.businessId) || r.businessId, status, progress(r), r.processed, r.failed, time(r.startedAt),
                element("span", reasons, "error-text")];
            }), [4, 5]));
        }

        function renderDeadLetters(letters, queues) {
          const section = $("#dead-letters");
          const total = queues.reduce((sum, q) => sum + q.dead, 0);
          section.querySelector(".count").textContent = `(${total})`;
          const body = section.querySelector(".body");
          if (letters.length === 0) { body.replaceChildren(element("p", "No dead letter.", "good")); return; }
          body.replaceChildren(table(["Queue", "Kind", "Job", "Attempts", "Failed at", "Error", ""],
            letters.map((d) => {
              const button = element("button", "Retry");
              button.type = "button";
              button.dataset.queue = d.queue;
              button.dataset.id = d.id;
              button.addEventListener("click", () => retry(button, d.queue, d.id));
              return [d.queue, d.kind, d.id, d.attempt, time(d.failedAt), element("span", d.error, "error-text"), button];
            }), [3]));
        }

        async function retry(button, queue, id) {
          button.disabled = true;
          try {
            await api(`/ops/api/dead-letters/${encodeURIComponent(queue)}/${encodeURIComponent(id)}/retry`, { method: "POST" });
            banner(`Job ${id} is back on ${queue}.`, "info");
          } catch (error) {
            if (error.message !== "unauthorized") banner(`Retry of ${id} failed: ${error.message}`);
          }
          await refresh();
        }

        const verdictClass = { ok: "good", warning: "warn", failing: "bad" };

        // The checklist for one business: each step with its verdict, evidence and what to do; a fix button when a
        // webhook subscription is missing. Not refreshed with the overview: it asks Shopify, so it runs on request.
        async function doctor(businessId, fix) {
          const body = $("#doctor .body");
          $("#doctor-business").value = businessId;
          body.replaceChildren(element("p", fix ? "Fixing…" : "Running the checklist…", "muted"));
          try {
            const path = `/ops/api/businesses/${encodeURIComponent(businessId)}/doctor`;
            const report = await api(fix ? `${path}/fix` : path, fix ? { method: "POST" } : {});
            const heading = element("p");
            heading.append(element("span", `${report.shop || businessId}: `), element("span", report.verdict, verdictClass[report.verdict]),
              element("span", ` · ${time(report.generatedAt)}`, "muted"));
            const nodes = [heading];
            report.fixed.forEach((line) => nodes.push(element("p", `Fixed: ${line}`, "good")));
            report.findings.forEach((finding) => {
              const block = element("div", null, `finding ${finding.verdict}`);
              block.dataset.check = finding.check;
              const title = element("h3");
              title.append(element("span", `${finding.verdict.toUpperCase()} `, verdictClass[finding.verdict]), element("span", finding.title));
              const evidence = element("ul");
              finding.evidence.forEach((line) => evidence.appendChild(element("li", line)));
              block.append(title, evidence);
              if (finding.action) block.appendChild(element("p", `→ ${finding.action}`, "action"));
              if (finding.check === "webhook_subscriptions" && finding.verdict === "failing") {
                const button = element("button", "Re-create the missing subscriptions");
                button.type = "button";
                button.addEventListener("click", () => doctor(businessId, true));
                block.appendChild(button);
              }
              nodes.push(block);
            });
            body.replaceChildren(...nodes);
            $("#doctor").dataset.state = "done";
          } catch (error) {
            if (error.message !== "unauthorized") body.replaceChildren(element("p", `The doctor could not run: ${error.message}`, "bad"));
          }
        }

        // Every step of one order of the business named in the doctor's field.
        async function trace(businessId, orderId) {
          const node = $("#trace");
          node.replaceChildren(element("p", "Looking…", "muted"));
          try {
            const found = await api(`/ops/api/businesses/${encodeURIComponent(businessId)}/orders/${encodeURIComponent(orderId)}/trace`);
            const nodes = [];
            const record = found.record;
            nodes.push(element("p", record
              ? `Order ${found.orderId}${record.name ? ` (${record.name})` : ""}: ingested ${time(record.firstIngestedAt)} from ${record.source}, version ${record.version}${record.cancelled ? ", cancelled" : ""}`
              : `Order ${found.orderId}: not ingested`, record ? "good" : "warn"));
            found.lines.forEach((line) => nodes.push(element("p", `Line ${line.lineItemId} (${line.sku || "no SKU"}): ${line.appliedQuantity} applied`, "muted")));
            const steps = element("ol");
            found.steps.forEach((step) => {
              const item = element("li");
              item.dataset.kind = step.kind;
              item.append(element("span", time(step.at), "muted"), " ", element("span", step.kind.replace("_", " "), "kind"), " ", element("span", step.summary));
              steps.appendChild(item);
            });
            if (found.steps.length === 0) nodes.push(element("p", "Nothing recorded for this order.", "warn"));
            nodes.push(steps);
            found.jobs.filter((job) => job.state !== "not_held").forEach((job) => nodes.push(element("p", `Now: job ${job.jobId} ${job.state}${job.worker ? ` by ${job.worker}` : ""}${job.error ? `: ${job.error}` : ""}`, job.state === "dead" ? "bad" : "")));
            found.notes.forEach((note) => nodes.push(element("p", note, "muted")));
            node.replaceChildren(...nodes);
            node.dataset.state = "done";
          } catch (error) {
            if (error.message !== "unauthorized") node.replaceChildren(element("p", `The trace could not be read: ${error.message}`, "bad"));
          }
        }

        async function refresh() {
          clearTimeout(timer);
          try {
            const overview = await api("/ops/api/overview");
            const now = Date.parse(overview.generatedAt);
            const shops = new Map(overview.connections.map((c) => [c.businessId, c.shop]));
            renderWorkers(overview.workers, now);
            renderQueues(overview.queues);
            renderConnections(overview.connections, overview.schedule);
            renderRuns(overview.syncRuns, shops);
            renderDeadLetters(overview.deadLetters, overview.queues);
            $("#updated").textContent = `Updated ${new Date(now).toLocaleTimeString()} · every ${refreshMs / 1000} s`;
            $("#overview").hidden = false;
            document.body.dataset.state = "ready";
            if ($("#banner").className !== "info") banner("");
          } catch (error) {
            if (error.message === "unauthorized") return;
            banner(`Could not load the overview: ${error.message}. Retrying…`);
          }
          timer = setTimeout(refresh, refreshMs);
        }

        function signOut(message) {
          clearTimeout(timer);
          sessionStorage.removeItem(tokenKey);
          $("#overview").hidden = true;
          $("#sign-out").hidden = true;
          $("#sign-in").hidden = false;
          document.body.dataset.state = "signed-out";
          banner(message || "");
        }

        function signIn(value) {
          sessionStorage.setItem(tokenKey, value.trim());
          $("#sign-in").hidden = true;
          $("#sign-out").hidden = false;
          refresh();
        }

        // A link may carry the token in its fragment (never sent to a server); keep it in the tab and drop it from the URL.
        function tokenFromFragment() {
          const value = new URLSearchParams(location.hash.slice(1)).get("token");
          if (!value) return false;
          history.replaceState(null, "", location.pathname);
          signIn(value);
          return true;
        }

        window.addEventListener("hashchange", tokenFromFragment);
        document.addEventListener("DOMContentLoaded", () => {
          $("#sign-in").addEventListener("submit", (event) => { event.preventDefault(); signIn($("#token").value); });
          $("#sign-out").addEventListener("click", () => signOut("Signed out."));
          $("#doctor-form").addEventListener("submit", (event) => { event.preventDefault(); doctor($("#doctor-business").value.trim(), false); });
          $("#trace-form").addEventListener("submit", (event) => {
            event.preventDefault();
            const business = $("#doctor-business").value.trim();
            if (!business) { $("#trace").replaceChildren(element("p", "Name the business first (the Business field above).", "warn")); return; }
            trace(business, $("#trace-order").value.trim());
          });
          if (!tokenFromFragment()) { if (token()) signIn(token()); else signOut(); }
        });
        """
}
