/* Trace replay: a cursor over the cell's spans and model calls, driven by the keyboard.
   space play/pause, ←/→ step span, ,/. step 100 ms. Data comes from the page's
   <script type="application/json" id="trace-data">; all text goes in via textContent. */
(function () {
  "use strict";
  var dataEl = document.getElementById("trace-data");
  if (!dataEl) return;
  var trace = JSON.parse(dataEl.textContent);
  var items = trace.items || [];
  var total = trace.total_ms || 0;
  var cursor = document.getElementById("replay-cursor");
  var label = document.getElementById("replay-cursor-text");
  var panel = document.getElementById("replay-current");
  var lanes = document.querySelectorAll("#replay-timeline .lane");
  var PLAY_MS = 8000; /* a whole trace plays in about eight seconds */
  var t = 0, idx = 0, playing = false, last = null;

  function fmt(ms) { return ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(2) + " s"; }

  function under(at) {
    /* the latest-starting item that contains `at`, else the last one started before it */
    var best = -1;
    for (var i = 0; i < items.length; i++) {
      if (items[i].start <= at && at <= items[i].end) best = i;
    }
    if (best < 0) for (var j = 0; j < items.length; j++) if (items[j].start <= at) best = j;
    return best;
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function show(i) {
    lanes.forEach(function (l) { l.classList.remove("active"); });
    panel.textContent = "";
    if (i < 0 || !items[i]) return;
    var it = items[i];
    if (lanes[i]) lanes[i].classList.add("active");
    panel.dataset.spanId = it.id;
    panel.dataset.index = String(i);
    var head = el("p", "", "current-head");
    head.appendChild(el("span", "span ", "muted"));
    head.appendChild(el("code", it.id));
    head.appendChild(el("span", it.kind, "kind k-" + it.kind));
    head.appendChild(el("strong", it.name, "current-name"));
    head.appendChild(el("span", fmt(it.start) + " → " + fmt(it.end) + " (" + fmt(it.end - it.start) + ")", "muted"));
    panel.appendChild(head);
    var dl = el("dl", undefined, "kv attrs");
    Object.keys(it.attrs || {}).forEach(function (k) {
      var v = it.attrs[k];
      dl.appendChild(el("dt", k));
      var dd = el("dd");
      dd.appendChild(el("code", typeof v === "string" ? v : JSON.stringify(v)));
      dl.appendChild(dd);
    });
    if (it.error) { dl.appendChild(el("dt", "error")); dl.appendChild(el("dd", it.error, "error")); }
    panel.appendChild(dl);
    var seq = it.kind === "model_call" && it.attrs ? it.attrs.seq : null;
    if (seq !== null && seq !== undefined && document.getElementById("conv-" + seq)) {
      var link = el("a", "what call " + seq + " sent and got →", "to-conversation");
      link.href = "#conv-" + seq;
      link.addEventListener("click", function () { document.getElementById("conv-" + seq).open = true; });
      panel.appendChild(link);
    }
  }

  /* the conversation's "show in trace" buttons move the cursor to that call */
  document.querySelectorAll("button.to-trace").forEach(function (button) {
    button.addEventListener("click", function (e) {
      e.preventDefault();
      var seq = Number(button.dataset.seq);
      for (var i = 0; i < items.length; i++) {
        if (items[i].kind === "model_call" && items[i].attrs && Number(items[i].attrs.seq) === seq) {
          idx = i; playing = false; seek(items[i].start, true); show(i);
          document.getElementById("replay").scrollIntoView();
          return;
        }
      }
    });
  });

  function render() {
    var frac = total > 0 ? t / total : 0;
    cursor.style.left = (100 * frac) + "%";
    label.textContent = "t = " + Math.round(t) + " ms / " + (total / 1000).toFixed(2) + " s";
    label.dataset.t = String(t);
    show(under(t));
  }

  function seek(ms, keepIdx) {
    t = Math.max(0, Math.min(total, ms));
    if (!keepIdx) idx = Math.max(0, under(t));
    render();
  }

  function frame(now) {
    if (!playing) return;
    if (last !== null) seek(t + (now - last) * total / PLAY_MS);
    last = now;
    if (t >= total) { playing = false; return; }
    requestAnimationFrame(frame);
  }

  function toggle() {
    playing = !playing;
    if (playing) { if (t >= total) seek(0); last = null; requestAnimationFrame(frame); }
  }

  function step(d) {
    if (!items.length) return;
    idx = Math.max(0, Math.min(items.length - 1, idx + d));
    playing = false;
    seek(items[idx].start, true);
    show(idx);
  }

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    if (e.key === " ") { e.preventDefault(); toggle(); }
    else if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
    else if (e.key === ".") { playing = false; seek(t + 100); }
    else if (e.key === ",") { playing = false; seek(t - 100); }
  });

  document.querySelectorAll("#replay-timeline .track").forEach(function (track) {
    track.addEventListener("click", function (e) {
      var box = track.getBoundingClientRect();
      playing = false;
      seek(total * (e.clientX - box.left) / box.width);
    });
  });

  render();
})();
