// The international comparison chart (ECharts, vendored), drawn from JSON embedded in the page with json_script:
// a horizontal bar chart, largest first, with this platform's figure highlighted. Elements carry
// data-ww-comparison="<id of the json_script>" (wastewater.js draws the output pages' data-ww-chart elements).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-ww-comparison]").forEach(function (element) {
    var data = JSON.parse(document.getElementById(element.dataset.wwComparison).textContent);
    var chart = echarts.init(element);
    chart.setOption({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 48, top: 8, bottom: 24, containLabel: true },
      xAxis: { type: "value", name: data.unit, nameLocation: "middle", nameGap: 24 },
      yAxis: { type: "category", inverse: true, data: data.labels, axisLabel: { interval: 0 } },
      series: [{
        type: "bar",
        data: data.values.map(function (value, index) {
          return data.highlight[index] ? { value: value, itemStyle: { color: "#f76707" } } : value;
        }),
        itemStyle: { color: "#206bc4" },
        label: { show: true, position: "right", formatter: function (p) { return data.highlight[p.dataIndex] ? data.platform : ""; } },
      }],
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
});
