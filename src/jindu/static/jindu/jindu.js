// Small UI helpers; charts are drawn from JSON embedded in the page with ECharts (vendored).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var data = JSON.parse(document.getElementById(element.dataset.chart).textContent);
    var chart = echarts.init(element);
    chart.setOption({
      tooltip: {},
      grid: { left: 40, right: 16, top: 16, bottom: 32 },
      xAxis: { type: "category", data: data.labels },
      yAxis: { type: "value" },
      series: [{ type: "bar", data: data.values, itemStyle: { color: "#206bc4" } }],
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
});
document.body && document.body.addEventListener("htmx:configRequest", function (event) {
  var token = document.querySelector("meta[name=csrf-token]");
  if (token) event.detail.headers["X-CSRFToken"] = token.content;
});
