// The chart of an anomaly's detail page: the site's series around the flagged day (ECharts, vendored).
// Quantified values as a line, days under the LOQ as hollow markers at the LOQ (an upper bound, not a value),
// the flagged day marked. Data come from the JSON the page embeds (json_script), labels from data-* attributes.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-anomaly-chart]").forEach(function (element) {
    var source = document.getElementById(element.dataset.anomalyChart);
    if (!source || typeof echarts === "undefined") return;
    var data = JSON.parse(source.textContent);
    var isFlow = data.unit === "m³/d";
    var values = data.points.map(function (point) { return [point[0], point[1]]; });
    var flagged = data.points.filter(function (point) { return point[0] === data.flagged; });
    var rainy = isFlow ? data.points.filter(function (point) { return point[2]; }) : [];
    var chart = echarts.init(element);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 56, right: 16, top: 24, bottom: 72 },
      xAxis: { type: "time", axisLabel: { hideOverlap: true } },
      yAxis: { type: isFlow ? "value" : "log", name: data.unit, scale: true },
      series: [
        {
          name: element.dataset.labelValues,
          type: "line",
          data: values,
          showSymbol: true,
          symbolSize: 4,
          itemStyle: { color: "#206bc4" },
          markLine: {
            symbol: "none",
            label: { formatter: element.dataset.labelFlagged },
            lineStyle: { color: "#d63939", type: "dashed" },
            data: [{ xAxis: data.flagged }],
          },
        },
        {
          name: element.dataset.labelFlagged,
          type: "scatter",
          data: flagged.map(function (point) { return [point[0], point[1]]; }),
          symbolSize: 14,
          itemStyle: { color: "#d63939" },
        },
      ].concat(data.bounds.length ? [{
        name: element.dataset.labelBounds,
        type: "scatter",
        data: data.bounds,
        symbol: "emptyTriangle",
        symbolRotate: 180,
        symbolSize: 8,
        itemStyle: { color: "#868e96" },
      }] : []).concat(isFlow ? [{
        name: element.dataset.labelRain,
        type: "scatter",
        data: rainy.map(function (point) { return [point[0], point[1]]; }),
        symbol: "diamond",
        symbolSize: 9,
        itemStyle: { color: "#4299e1" },
      }] : []),
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
});
