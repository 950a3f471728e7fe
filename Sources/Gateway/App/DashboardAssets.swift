/// The ops dashboard's page, script and style sheet, served as they are. The page holds no data: the script reads
/// `/ops/api/overview` and `/ops/api/activity` (the charts, drawn as inline SVG) with the operator's token and renders every value with `textContent`, never as markup.
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
          <section id="activity">
            <h2>The last hour <span class="muted">per minute</span></h2>
            <div class="charts">
              <figure id="chart-webhooks"><figcaption>Webhooks received, by answer</figcaption><div class="plot"></div><div class="legend"></div></figure>
              <figure id="chart-jobs"><figcaption>Jobs completed (solid) and failed (dashed), by queue</figcaption><div class="plot"></div><div class="legend"></div></figure>
              <figure id="chart-lag"><figcaption>Ingestion lag, webhook to stock commit (s)</figcaption><div class="plot"></div><div class="legend"></div></figure>
            </div>
          </section>
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
        .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 1rem; }
        figure { margin: 0; }
        figcaption { font-size: 0.9rem; color: #59636e; margin-bottom: 0.25rem; }
        .plot svg { width: 100%; height: auto; display: block; background: #fbfcfd; border: 1px solid #eceff2; border-radius: 4px; }
        .plot .axis { stroke: #c9d1d9; stroke-width: 1; }
        .plot .tick { fill: #6b7580; font-size: 10px; }
        .plot .series { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
        .plot .series.dashed { stroke-dasharray: 4 3; }
        .legend { font-size: 0.8rem; color: #59636e; display: flex; flex-wrap: wrap; gap: 0.25rem 0.75rem; margin-top: 0.25rem; }
        .legend svg { vertical-align: middle; margin-right: 0.2rem; }
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
          body.replaceChildren(table(["Queue", "Ready", "In flight", "Delayed", "Dead", "Oldest ready", "Shops waiting", "Largest backlogs"],
            queues.map((q) => {
              const age = element("span", q.ready > 0 ? duration(q.oldestReadyAgeSeconds) : "–", q.oldestReadyAgeSeconds > 60 ? "warn" : "");
              const dead = element("span", q.dead, q.dead > 0 ? "bad" : "");
              const largest = (q.largestBacklogs || []).map((b) => `${b.group || "(no shop)"}: ${b.ready}`).join(", ") || "–";
              return [q.queue, q.ready, q.inflight, q.delayed, dead, age, q.shops ?? 0, largest];
            }), [1, 2, 3, 4, 5, 6]));
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

        // Charts: inline SVG built with the DOM (no markup from data), colours as SVG attributes (no inline style).
        const svgNS = "http://www.w3.org/2000/svg";
        const palette = ["#0969da", "#1a7f37", "#b3261e", "#9a6700", "#8250df", "#bf3989", "#1b7c83", "#57606a", "#fb8500", "#6e7781"];
        const answerColour = { accepted: "#1a7f37", duplicate: "#0969da", unauthorized: "#b3261e", queue_unavailable: "#9a6700", database_unavailable: "#bf3989" };

        function svg(tag, attributes) {
          const node = document.createElementNS(svgNS, tag);
          Object.entries(attributes || {}).forEach(([name, value]) => node.setAttribute(name, String(value)));
          return node;
        }

        function niceMax(value) {
          if (!(value > 0)) return 1;
          const step = Math.pow(10, Math.floor(Math.log10(value)));
          return [1, 2, 5, 10].map((m) => m * step).find((m) => m >= value);
        }

        // One line per series over the minutes; a null value breaks its line. `data-points` counts the values drawn.
        function lineChart(figure, minutes, series, format) {
          const width = 360, height = 150, left = 36, right = 8, top = 8, bottom = 18;
          const values = series.flatMap((s) => s.values.filter((v) => v !== null));
          const max = niceMax(Math.max(0, ...values));
          const x = (index) => left + (minutes.length <= 1 ? 0 : index * (width - left - right) / (minutes.length - 1));
          const y = (value) => top + (height - top - bottom) * (1 - value / max);
          const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
          chart.append(svg("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), class: "axis" }),
            svg("line", { x1: left, y1: top, x2: left, y2: y(0), class: "axis" }));
          [[max, top + 4], [0, y(0)]].forEach(([value, at]) => {
            const label = svg("text", { x: left - 4, y: at, "text-anchor": "end", class: "tick" });
            label.textContent = format(value);
            chart.appendChild(label);
          });
          [[0, "start", `−${minutes.length} min`], [minutes.length - 1, "end", "now"]].forEach(([index, anchor, text]) => {
            const label = svg("text", { x: x(index), y: height - 4, "text-anchor": anchor, class: "tick" });
            label.textContent = text;
            chart.appendChild(label);
          });
          let points = 0;
          series.forEach((s) => {
            const segments = [];
            let broken = true;
            s.values.forEach((value, index) => {
              if (value === null) { broken = true; return; }
              points += 1;
              segments.push(`${broken ? "M" : "L"}${x(index).toFixed(1)},${y(value).toFixed(1)}`);
              broken = false;
            });
            if (segments.length === 0) return;
            const line = svg("path", { d: segments.join(" "), class: `series${s.dashed ? " dashed" : ""}`, stroke: s.colour });
            line.dataset.series = s.name;
            const tip = svg("title");
            tip.textContent = s.name;
            line.appendChild(tip);
            chart.appendChild(line);
            // A dot per value, so that a minute alone between gaps shows too.
            s.values.forEach((value, index) => {
              if (value !== null && value > 0) chart.appendChild(svg("circle", { cx: x(index).toFixed(1), cy: y(value).toFixed(1), r: 1.6, fill: s.colour }));
            });
          });
          chart.dataset.points = String(points);
          chart.dataset.max = String(Math.max(0, ...values));
          figure.querySelector(".plot").replaceChildren(chart);
          const legend = figure.querySelector(".legend");
          legend.replaceChildren(...series.filter((s) => !s.hideInLegend).map((s) => {
            const item = element("span");
            const swatch = svg("svg", { width: 14, height: 8 });
            swatch.appendChild(svg("line", { x1: 0, y1: 4, x2: 14, y2: 4, stroke: s.colour, "stroke-width": 2, "stroke-dasharray": s.dashed ? "4 3" : "none" }));
            item.append(swatch, element("span", s.legend || s.name));
            return item;
          }));
          if (series.length === 0) legend.replaceChildren(element("span", "nothing in the last hour"));
        }

        function renderActivity(activity) {
          const minutes = activity.minutes;
          lineChart($("#chart-webhooks"), minutes, activity.webhooks.map((w, index) => ({
            name: w.name, values: w.counts, colour: answerColour[w.name] || palette[(index + 4) % palette.length],
            legend: `${w.name.replace(/_/g, " ")} (${w.counts.reduce((a, b) => a + b, 0)})`,
          })), (v) => String(v));
          lineChart($("#chart-jobs"), minutes, activity.jobs.flatMap((q, index) => {
            const colour = palette[index % palette.length];
            const total = (values) => values.reduce((a, b) => a + b, 0);
            return [
              { name: `${q.queue} completed`, values: q.completed, colour, legend: `${q.queue.replace("ecommerce-", "")} ${total(q.completed)} / ${total(q.failed)} failed` },
              { name: `${q.queue} failed`, values: q.failed, colour, dashed: true, hideInLegend: true },
            ];
          }), (v) => String(v));
          const lag = activity.ingestLag;
          const ingested = lag.count.reduce((a, b) => a + b, 0);
          lineChart($("#chart-lag"), minutes, ingested === 0 ? [] : [
            { name: "p50", values: lag.p50, colour: "#0969da", legend: "p50" },
            { name: "p99", values: lag.p99, colour: "#b3261e", legend: `p99 · ${ingested} webhook orders` },
          ], (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(v >= 1 ? 1 : 2)));
        }

        async function refresh() {
          clearTimeout(timer);
          try {
            const [overview, activity] = await Promise.all([api("/ops/api/overview"), api("/ops/api/activity?minutes=60")]);
            renderActivity(activity);
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
