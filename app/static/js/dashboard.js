// 电子监察: draws each chart spec embedded in a `data-chart` attribute with the vendored ECharts.
// Clicking a bar opens the cases behind it (the same links as the data tables under each chart).
(function () {
  'use strict';

  var COLORS = ['#2b6cb0', '#2f855a', '#b7791f', '#c53030', '#6b46c1', '#319795', '#718096'];

  function sameSite(url) {
    return typeof url === 'string' && url.charAt(0) === '/' && url.charAt(1) !== '/';
  }

  function option(spec) {
    var drawn = spec.series.filter(function (s) { return s.chart !== false; });
    var percent = drawn.some(function (s) { return s.percent; });
    var many = spec.categories.length > 5;
    var series = drawn.map(function (s, i) {
      var item = {
        name: s.name, type: 'bar', data: s.data, barMaxWidth: 40,
        stack: spec.stacked ? 'total' : undefined,
        label: { show: !spec.stacked, position: 'top', formatter: percent ? '{c}%' : '{c}' },
        emphasis: { focus: 'series' }
      };
      if (i === 0 && spec.limit_line) {
        item.markLine = { symbol: 'none', silent: true, lineStyle: { color: '#c53030', type: 'dashed' },
                          label: { formatter: '时限' }, data: [{ yAxis: spec.limit_line }] };
      }
      return item;
    });
    return {
      color: COLORS,
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' },
                 valueFormatter: function (v) { return v === null || v === undefined ? '—' : (percent ? v + '%' : v); } },
      legend: { top: 0, show: drawn.length > 1 },
      grid: { left: 48, right: 40, top: drawn.length > 1 ? 32 : 16, bottom: many ? 72 : 32 },
      xAxis: { type: 'category', data: spec.categories,
               axisLabel: { interval: 0, rotate: many ? 30 : 0, width: 90, overflow: 'truncate' } },
      yAxis: { type: 'value', minInterval: percent ? 0 : 1,
               axisLabel: { formatter: percent ? '{value}%' : '{value}' } },
      series: series
    };
  }

  function draw(el) {
    var spec;
    try {
      spec = JSON.parse(el.getAttribute('data-chart'));
    } catch (e) {
      return;
    }
    var drawn = spec.series.filter(function (s) { return s.chart !== false; });
    var chart = window.echarts.init(el, null, { renderer: 'canvas' });
    chart.setOption(option(spec));
    chart.on('click', function (params) {
      var series = drawn[params.seriesIndex];
      var url = series && series.links ? series.links[params.dataIndex] : null;
      if (sameSite(url)) {
        window.location.assign(url);
      }
    });
    el.style.cursor = 'pointer';
    return chart;
  }

  function start() {
    if (!window.echarts) {
      return;
    }
    var charts = [];
    document.querySelectorAll('[data-chart]').forEach(function (el) {
      var chart = draw(el);
      if (chart) {
        charts.push(chart);
      }
    });
    window.addEventListener('resize', function () {
      charts.forEach(function (c) { c.resize(); });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
