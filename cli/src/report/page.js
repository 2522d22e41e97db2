// The details panel: a task's history from the embedded JSON, on hover, or kept on click/Enter.
// Text goes in with textContent only, so nothing from the data is ever read as markup.
(function () {
  "use strict";
  var source = document.getElementById("task-data");
  var panel = document.getElementById("details");
  if (!source || !panel) { return; }
  var tasks = JSON.parse(source.textContent);
  var zone = document.body.getAttribute("data-zone") || "UTC";
  var pinned = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function table(headers, rows, numeric, className) {
    var t = el("table", className);
    var head = t.createTHead().insertRow();
    headers.forEach(function (text, i) {
      head.appendChild(el("th", numeric.indexOf(i) >= 0 ? "num" : null, text));
    });
    var body = t.createTBody();
    rows.forEach(function (row) {
      var tr = body.insertRow();
      row.forEach(function (cell, i) {
        var td = tr.insertCell();
        td.textContent = cell === null ? "" : String(cell);
        if (numeric.indexOf(i) >= 0) { td.className = "num"; }
      });
    });
    return t;
  }

  function add(title, node) {
    panel.appendChild(el("h3", null, title));
    panel.appendChild(node);
  }

  function show(lane) {
    var task = tasks[Number(lane.getAttribute("data-i"))];
    if (!task) { return; }
    var d = task.diagnosis;
    panel.textContent = "";
    panel.setAttribute("data-task", task.arn);
    panel.appendChild(el("h2", null, lane === pinned ? "Task (kept)" : "Task"));
    panel.appendChild(el("p", "arn", task.arn));
    panel.appendChild(el("p", "facts", task.facts));
    if (task.tags) { panel.appendChild(el("p", "tags", "Tags: " + task.tags)); }
    var verdict = el("p", "verdict o-" + d.category);
    verdict.appendChild(el("strong", "kind", d.title));
    panel.appendChild(verdict);
    if (task.stop) { add("Stopped", el("p", "stop", task.stop)); }
    add("Why", el("p", "why", d.explanation));
    if (d.steps.length) {
      var steps = el("ul", "steps");
      d.steps.forEach(function (step) { steps.appendChild(el("li", null, step)); });
      add("Next steps", steps);
    }
    if (d.evidence.length) { add("Evidence", table(["Field", "Value"], d.evidence, [])); }
    add("Versions", table(["Ver", "Time (" + zone + ")", "Status", "Desired", "For", "Note"], task.versions, [0, 4], "versions"));
    if (task.phases) { add("Phases", el("p", "phases", task.phases)); }
    if (task.containers) {
      add("Containers", table(["Container", "Image", "Status", "Exit", "Reason"], task.containers, [3]));
    }
    if (lane === pinned) {
      var release = el("button", "release", "Let go (Esc)");
      release.type = "button";
      release.addEventListener("click", function () { pin(null); });
      panel.appendChild(release);
    }
  }

  function pin(lane) {
    if (pinned) { pinned.classList.remove("sel"); }
    pinned = lane;
    if (lane) {
      lane.classList.add("sel");
      show(lane);
    }
  }

  function laneOf(target) {
    return target && target.closest ? target.closest("g.lane") : null;
  }

  document.addEventListener("mouseover", function (event) {
    var lane = laneOf(event.target);
    if (lane && !pinned) { show(lane); }
  });
  document.addEventListener("focusin", function (event) {
    var lane = laneOf(event.target);
    if (lane && !pinned) { show(lane); }
  });
  document.addEventListener("click", function (event) {
    var lane = laneOf(event.target);
    if (lane) { pin(lane === pinned ? null : lane); }
  });
  document.addEventListener("keydown", function (event) {
    var lane = laneOf(event.target);
    if (lane && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      pin(lane === pinned ? null : lane);
    } else if (event.key === "Escape") {
      pin(null);
    }
  });
})();
