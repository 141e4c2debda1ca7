// Draws every <canvas data-chart="..."> with the vendored Chart.js. The data attribute holds
// {"type", "labels", "series": [{"label", "values"}], "unit"}; no inline script is needed.
(function () {
  var palette = ["#0b6b3a", "#0b5c8f", "#b35c00", "#6a3d9a", "#a4161a", "#3c6e71"];
  function draw(canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var stacked = spec.stacked === true;
    new Chart(canvas, {
      type: spec.type || "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (series, index) {
          return { label: series.label, data: series.values, backgroundColor: palette[index % palette.length],
                   borderColor: palette[index % palette.length] };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { stacked: stacked }, y: { stacked: stacked, beginAtZero: true,
                  title: { display: !!spec.unit, text: spec.unit || "" } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }
  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
