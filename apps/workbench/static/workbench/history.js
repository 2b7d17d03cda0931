/* My history: export of the filtered set through the supervisor centre's export jobs (Celery
 * writes CSV/XLSX in chunks; this polls the job for its progress, then offers the download). */
(function () {
  "use strict";
  var _ = window.gettext || function (s) { return s; };
  var box = document.getElementById("export-box");
  if (!box || box.dataset.available !== "1") return;
  var progress = document.getElementById("export-progress");
  var status = document.getElementById("export-status");
  var link = document.getElementById("export-link");

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function call(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf() },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (!r.ok) throw new Error((d.error && d.error.message) || _("Export failed."));
        return d;
      });
    });
  }
  function filters() {
    // The page's filters, in the export API's vocabulary (apps.reports.history).
    var q = new URLSearchParams(box.dataset.query || "");
    // "Today" is the tenant's date, decided by the server (the browser's zone may differ).
    var sat = { good: "satisfied", bad: "dissatisfied", none: "unrated" }[q.get("satisfaction")] || q.get("satisfaction") || "";
    var f = { status: "closed", date_from: q.get("from") || box.dataset.defaultFrom, date_to: q.get("to") || box.dataset.defaultTo };
    if (q.get("channel")) f.channel = Number(q.get("channel"));
    if (q.get("tag")) f.tag = Number(q.get("tag"));
    if (q.get("nickname")) f.customer = q.get("nickname");
    if (sat) f.satisfaction = sat;
    return f;
  }
  function poll(job) {
    progress.hidden = false;
    progress.value = job.progress || 0;
    status.textContent = job.status === "done" ? _("Ready") : job.status === "failed" ? (job.error || _("Export failed.")) : _("Exporting…") + " " + (job.progress || 0) + "%";
    if (job.status === "done" && job.download_url) {
      link.href = job.download_url;
      link.hidden = false;
      return;
    }
    if (job.status === "failed") return;
    setTimeout(function () { call("GET", "/api/v1/exports/" + job.id + "/").then(poll).catch(function (e) { status.textContent = e.message; }); }, 1000);
  }
  Array.prototype.forEach.call(box.querySelectorAll("button[data-format]"), function (btn) {
    btn.addEventListener("click", function () {
      link.hidden = true;
      status.textContent = _("Exporting…");
      call("POST", "/api/v1/exports/", { format: btn.dataset.format, filters: filters() }).then(poll)
        .catch(function (e) { status.textContent = e.message; });
    });
  });
})();
