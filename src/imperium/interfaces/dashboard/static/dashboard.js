// Imperium dashboard: live updates and the chart. Loaded as a file (the CSP allows no
// inline script). Committed events arrive over Server-Sent Events (/ui/events); each
// burst tells htmx to refresh the page's live fragments (hx-trigger="imperium-changed").
(function () {
  "use strict";
  var MAX_EVENTS = 50;
  var changedTimer = null;
  var chart = null;

  function announceChange() {
    if (changedTimer !== null) return;
    changedTimer = setTimeout(function () {
      changedTimer = null;
      document.body.dispatchEvent(new CustomEvent("imperium-changed"));
      refreshChart();
    }, 150);
  }

  function setLive(text, ok) {
    var live = document.getElementById("live");
    if (!live) return;
    live.textContent = text;
    live.className = ok ? "live on" : "live off";
  }

  function showEvent(event) {
    var list = document.getElementById("live-events");
    if (!list) return;
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    var item = document.createElement("li");
    var time = new Date(event.created_at * 1000).toISOString().substring(11, 19);
    var label = document.createElement("span");
    label.className = "event-type";
    label.textContent = event.event_type;
    item.appendChild(document.createTextNode(time + " "));
    item.appendChild(label);
    if (event.task_id) {
      var link = document.createElement("a");
      link.href = "/tasks/" + encodeURIComponent(event.task_id);
      link.textContent = event.task_id;
      item.appendChild(document.createTextNode(" "));
      item.appendChild(link);
    }
    if (event.agent_id) item.appendChild(document.createTextNode(" on " + event.agent_id));
    list.insertBefore(item, list.firstChild);
    var max = parseInt(list.dataset.max || "", 10) || MAX_EVENTS;
    while (list.children.length > max) list.removeChild(list.lastChild);
  }

  function connect() {
    if (!window.EventSource) {
      setLive("polling", false);
      return;
    }
    var source = new EventSource("/ui/events");
    source.onopen = function () { setLive("live", true); };
    source.onerror = function () { setLive("reconnecting…", false); };
    source.onmessage = function (message) {
      try { showEvent(JSON.parse(message.data)); } catch (e) { return; }
      announceChange();
    };
    source.addEventListener("gap", announceChange);
  }

  // ---------------------------------------------------------------- chart
  var chartBusy = false;
  var chartDue = 0;

  function refreshChart() {
    var box = document.getElementById("throughput");
    if (!box || !window.uPlot) return;
    var now = Date.now();
    if (chartBusy || now < chartDue) return;
    chartBusy = true;
    chartDue = now + 5000; // at most every 5 s: a bucket is a minute or more
    var hours = document.getElementById("chart-hours");
    var url = box.dataset.series + "?hours=" + encodeURIComponent(hours ? hours.value : "1");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("signed out"); }
        return response.json();
      })
      .then(function (data) { draw(box, data); })
      .catch(function () { return null; })
      .then(function () { chartBusy = false; });
  }

  function draw(box, data) {
    var rate = data.success_rate.map(function (r) { return r === null ? null : r * 100; });
    var columns = [data.t, data.succeeded, data.failed, rate];
    if (chart) { chart.setData(columns); return; }
    var options = {
      width: Math.max(box.clientWidth, 300),
      height: 240,
      scales: { x: { time: true }, rate: { range: [0, 100] } },
      series: [
        {},
        { label: "succeeded", stroke: "#2e7d32", fill: "rgba(46,125,50,0.15)", width: 1.5 },
        { label: "failed", stroke: "#c62828", fill: "rgba(198,40,40,0.12)", width: 1.5 },
        { label: "success %", stroke: "#1565c0", scale: "rate", width: 1.5, spanGaps: true },
      ],
      axes: [{}, { label: "attempts" }, { side: 1, scale: "rate", label: "success %", grid: { show: false } }],
    };
    chart = new window.uPlot(options, columns, box);
  }

  // ------------------------------------------------- model accuracy (learning page)
  function modelChart() {
    var box = document.getElementById("model-chart");
    if (!box || !window.uPlot) return;
    fetch(box.dataset.series, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var options = {
          width: Math.max(box.clientWidth, 300),
          height: 200,
          scales: { x: { time: true }, mae: {} },
          series: [
            {},
            { label: "AUC", stroke: "#2e7d32", width: 1.5, spanGaps: true, points: { show: true } },
            { label: "Brier", stroke: "#c62828", width: 1.5, spanGaps: true, points: { show: true } },
            { label: "MAE log-duration", stroke: "#1565c0", scale: "mae", width: 1.5, spanGaps: true, points: { show: true } },
          ],
          axes: [{}, { label: "AUC, Brier" }, { side: 1, scale: "mae", label: "MAE", grid: { show: false } }],
        };
        new window.uPlot(options, [data.t, data.auc, data.brier, data.mae_log_duration], box);
      })
      .catch(function () { return null; });
  }

  // ------------------------------------- the router's decisions (learning page)
  var PALETTE = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f",
                 "#ad1457", "#4e342e", "#558b2f", "#283593"];
  var decisions = null;

  function decisionsChart() {
    var box = document.getElementById("decisions-chart");
    var type = document.getElementById("decisions-type");
    if (!box || !type || !window.uPlot) return;
    var hours = document.getElementById("decisions-hours");
    var url = box.dataset.series + "?task_type=" + encodeURIComponent(type.value) +
      "&hours=" + encodeURIComponent(hours ? hours.value : "24");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("signed out"); }
        return response.json();
      })
      .then(function (data) { drawDecisions(box, data); })
      .catch(function () { return null; });
  }

  function drawDecisions(box, data) {
    var measure = document.getElementById("decisions-measure");
    var rate = measure && measure.value === "success_rate";
    var empty = document.getElementById("decisions-empty");
    if (decisions) { decisions.destroy(); decisions = null; }
    if (empty) {
      empty.hidden = data.agents.length > 0;
      empty.textContent = "No attempt of " + data.task_type + " finished in this range.";
    }
    if (!data.agents.length) return;
    var columns = [data.t];
    var series = [{}];
    data.agents.forEach(function (agent, i) {
      columns.push(rate ? agent.success_rate.map(function (r) { return r === null ? null : r * 100; })
                        : agent.attempts);
      series.push({ label: agent.agent_id, stroke: PALETTE[i % PALETTE.length], width: 1.5,
                    spanGaps: false, points: { show: rate } });
    });
    var options = {
      width: Math.max(box.clientWidth, 300),
      height: 220,
      scales: { x: { time: true }, y: rate ? { range: [0, 100] } : {} },
      series: series,
      axes: [{}, rate ? { label: "success %" }
                      : { label: "attempts", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] }],
    };
    decisions = new window.uPlot(options, columns, box);
  }

  document.addEventListener("DOMContentLoaded", function () {
    connect();
    refreshChart();
    modelChart();
    decisionsChart();
    ["decisions-type", "decisions-hours", "decisions-measure"].forEach(function (id) {
      var select = document.getElementById(id);
      if (select) select.addEventListener("change", decisionsChart);
    });
    var hours = document.getElementById("chart-hours");
    if (hours) hours.addEventListener("change", function () { chartDue = 0; refreshChart(); });
    document.body.addEventListener("htmx:responseError", function (event) {
      if (event.detail.xhr && event.detail.xhr.status === 401) window.location.reload();
    });
  });
})();
