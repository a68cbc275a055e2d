// Charts of the wastewater output pages (trend with its interval band, weekday profile, ranking interval bars,
// catchment map). Each chart's data is embedded in the page with json_script (charts.py builds it); this file only
// turns it into an ECharts option. Elements carry data-ww-chart="<id of the json_script>"; the ECharts instance
// stays findable with echarts.getInstanceByDom(element), and data-rendered="1" is set once the option is applied.
(function () {
  "use strict";

  var BLUE = "#206bc4";
  var BAND = "rgba(32, 107, 196, 0.22)";
  var ORANGE = "#f76707";
  var GREEN = "#2fb344";

  function number(value, digits) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(digits === undefined ? 2 : digits);
  }

  function difference(high, low) {
    return high.map(function (value, index) {
      return value === null || low[index] === null ? null : value - low[index];
    });
  }

  // Trend: the band is a stacked area between the 2.5th and 97.5th percentiles (an invisible base series at p2.5
  // plus the band's height on top of it), the point line over it, and below-LOQ days as hollow triangles at their
  // LOQ (an upper bound, never a value).
  function trendOption(data) {
    var series = [
      {
        id: "band-base",
        name: data.names.low,
        type: "line",
        data: data.low,
        stack: "band",
        symbol: "none",
        silent: true,
        lineStyle: { opacity: 0 },
        tooltip: { show: false },
      },
      {
        id: "band",
        name: data.names.band,
        type: "line",
        data: difference(data.high, data.low),
        stack: "band",
        symbol: "none",
        silent: true,
        lineStyle: { opacity: 0 },
        areaStyle: { color: BAND },
        tooltip: { show: false },
      },
      {
        id: "value",
        name: data.names.value,
        type: "line",
        data: data.value,
        symbolSize: 5,
        itemStyle: { color: BLUE },
        lineStyle: { color: BLUE, width: 2 },
      },
    ];
    if ((data.loq || []).some(function (value) { return value !== null; })) {
      series.push({
        id: "below-loq",
        name: data.names.loq,
        type: "scatter",
        data: data.loq,
        symbol: "emptyTriangle",
        symbolSize: 8,
        itemStyle: { color: ORANGE },
      });
    }
    return {
      animation: false,
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var index = items[0].dataIndex;
          var lines = [data.labels[index]];
          if (data.value[index] !== null) {
            lines.push(data.names.value + ": " + number(data.value[index]) + " " + data.unit);
            if (data.low[index] !== null) {
              lines.push(data.names.band + ": " + number(data.low[index]) + " – " + number(data.high[index]));
            }
          }
          if (data.loq && data.loq[index] !== null) lines.push(data.names.loq + ": ≤ " + number(data.loq[index]));
          return lines.join("<br>");
        },
      },
      legend: { top: 0, data: [data.names.value, data.names.band].concat(series.length > 3 ? [data.names.loq] : []) },
      grid: { left: 56, right: 20, top: 48, bottom: 56 },
      xAxis: { type: "category", data: data.labels, boundaryGap: false },
      yAxis: { type: "value", name: data.unit, min: 0 },
      dataZoom: data.labels.length > 60 ? [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }] : [],
      series: series,
    };
  }

  // Weekday profile: mean by day of the week, and the EUDA weekday and weekend means drawn over their own days.
  function weekdayOption(data) {
    function over(days, mean) {
      return data.labels.map(function (_label, index) { return days.indexOf(index) >= 0 ? mean : null; });
    }
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [data.names.means, data.names.weekday, data.names.weekend] },
      grid: { left: 48, right: 16, top: 72, bottom: 28 },
      xAxis: { type: "category", data: data.labels },
      yAxis: { type: "value", name: data.unit, min: 0 },
      series: [
        { id: "means", name: data.names.means, type: "bar", data: data.means, itemStyle: { color: BLUE } },
        {
          id: "weekday-mean",
          name: data.names.weekday,
          type: "line",
          data: over(data.weekday_days, data.weekday_mean),
          connectNulls: false,
          itemStyle: { color: GREEN },
          lineStyle: { color: GREEN, width: 3 },
        },
        {
          id: "weekend-mean",
          name: data.names.weekend,
          type: "line",
          data: over(data.weekend_days, data.weekend_mean),
          connectNulls: false,
          itemStyle: { color: ORANGE },
          lineStyle: { color: ORANGE, width: 3 },
        },
      ],
    };
  }

  // Ranking: horizontal interval bars (p2.5 to p97.5, an invisible bar up to p2.5 under the visible interval) with
  // the point value on them; the first rank on top.
  function rankingOption(data) {
    return {
      animation: false,
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: function (items) {
          var index = items[0].dataIndex;
          return data.labels[index] + "<br>" + data.names.value + ": " + number(data.value[index]) + " " + data.unit +
            "<br>" + data.names.band + ": " + number(data.low[index]) + " – " + number(data.high[index]);
        },
      },
      grid: { left: 110, right: 24, top: 16, bottom: 32 },
      xAxis: { type: "value", name: data.unit, min: 0 },
      yAxis: { type: "category", data: data.labels, inverse: true },
      series: [
        { id: "base", type: "bar", stack: "interval", data: data.low, itemStyle: { color: "transparent" }, silent: true },
        {
          id: "interval",
          name: data.names.band,
          type: "bar",
          stack: "interval",
          data: difference(data.high, data.low),
          itemStyle: { color: BAND, borderColor: BLUE, borderWidth: 1 },
          barWidth: 14,
        },
        { id: "value", name: data.names.value, type: "scatter", data: data.value, symbolSize: 10, itemStyle: { color: BLUE } },
      ],
    };
  }

  // Map: the catchments (a FeatureCollection registered as a map, no tiles: works offline) coloured by load per
  // 1000, and the sites without a catchment as points at their coordinates.
  function mapOption(data) {
    echarts.registerMap(data.map_name, data.geojson);
    function tooltip(item) {
      var source = item.data || {};
      var value = item.seriesType === "scatter" ? (source.value || [])[2] : source.value;
      return (source.label || item.name) + "<br>" + data.names.value + ": " +
        (value === null || value === undefined ? data.names.none : number(value) + " " + data.unit);
    }
    return {
      animation: false,
      title: { text: data.title, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "item", formatter: tooltip },
      visualMap: {
        min: data.min,
        max: data.max === data.min ? data.min + 1 : data.max,
        calculable: true,
        left: 8,
        bottom: 8,
        text: [data.unit, ""],
        inRange: { color: ["#9cc3ee", "#4a8fd9", "#f59f00", "#d63939"] },
        seriesIndex: [0, 1],
      },
      geo: {
        map: data.map_name,
        roam: true,
        itemStyle: { areaColor: "#f1f3f5", borderColor: "#868e96" },
        label: { show: true, fontSize: 10, color: "#343a40" },
        emphasis: { label: { show: true } },
        regions: [
          { name: data.extent, itemStyle: { opacity: 0 }, label: { show: false }, silent: true, tooltip: { show: false } },
        ],
      },
      series: [
        { id: "catchments", type: "map", geoIndex: 0, data: data.regions },
        {
          id: "points",
          type: "scatter",
          coordinateSystem: "geo",
          data: data.points,
          symbolSize: 14,
          label: { show: true, position: "right", fontSize: 10, formatter: "{b}" },
        },
      ],
    };
  }

  var BUILDERS = { trend: trendOption, weekday: weekdayOption, ranking: rankingOption, map: mapOption };

  function render(element) {
    var source = document.getElementById(element.dataset.wwChart);
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var build = BUILDERS[data.type];
    if (!build) return;
    var chart = echarts.getInstanceByDom(element) || echarts.init(element);
    chart.setOption(build(data), true);
    element.dataset.rendered = "1";
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function renderAll() {
    document.querySelectorAll("[data-ww-chart]").forEach(render);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderAll);
  } else {
    renderAll();
  }
})();
