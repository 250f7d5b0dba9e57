// The run dashboard: fitness per generation, each candidate's status, program, feedback and video.
// Data from /api/run (read from the run folder on every load); text is set with textContent.
"use strict";

(function () {
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const withToken = (path) => path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
  const $ = (sel) => document.querySelector(sel);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const c of children) node.append(c);
    return node;
  }

  const fmt = (x) => (x === null || x === undefined ? "–" : Number(x).toPrecision(4));

  function candidate(c) {
    const ok = c.status === "ok";
    const fresh = c.origin && c.origin !== "initial" ? " (" + c.origin + ")" : "";  // a fresh sample (--min-valid)
    const head = c.name + fresh + " — " + c.status + (ok ? ", fitness " + fmt(c.fitness) : "");
    const box = el("details", { className: "cand" }, el("summary", { className: ok ? "status-ok" : "status-bad", textContent: head }));
    box.dataset.testid = "cand-" + c.generation + "-" + c.name;
    if (c.message) box.append(el("p", { className: "muted", textContent: c.message }));
    box.addEventListener("toggle", () => {
      // Load the video only when opened: a run can have many.
      if (box.open && c.video && !box.querySelector("video")) {
        const v = el("video", { muted: true, autoplay: true, loop: true, controls: true, playsInline: true });
        v.src = withToken(c.video);
        box.insertBefore(v, box.children[1] || null);
      }
    });
    if (c.program !== null) box.append(el("h3", { textContent: "reward.py" }), el("pre", { textContent: c.program }));
    if (c.feedback !== null) box.append(el("h3", { textContent: "feedback.md" }), el("pre", { textContent: c.feedback }));
    return box;
  }

  function generation(g) {
    const sec = el("section", {}, el("h2", { textContent: "Generation " + g.generation }));
    if (g.ranking) {
      const r = g.ranking;
      sec.append(el("p", { textContent: "Ranked by " + r.who + ": " + r.order.join(" > ") + (r.note ? " (" + r.note + ")" : "") }));
      if (r.generation_comment) sec.append(el("p", { className: "muted", textContent: "“" + r.generation_comment + "”" }));
      for (const [name, text] of Object.entries(r.comments)) {
        sec.append(el("p", { className: "muted", textContent: name + ": “" + text + "”" }));
      }
    } else if (g.ranking_error) {
      sec.append(el("p", { className: "note", textContent: g.ranking_error }));
    }
    for (const c of g.candidates) sec.append(candidate(c));
    return sec;
  }

  async function load() {
    let data;
    try {
      const res = await fetch(withToken("/api/run"));
      data = await res.json();
      if (!res.ok) throw new Error(data.error || res.status);
    } catch (err) {
      $("#notes").replaceChildren(el("p", { className: "note", textContent: "Could not load the run: " + err.message }));
      return;
    }
    $("#run-id").textContent = data.run_id;
    $("#task").textContent = data.task || "?";
    const s = data.summary;
    const parts = [];
    if (s.best) parts.push("Best: " + s.best.candidate + ", fitness " + fmt(s.best.fitness) + ".");
    if (s.llm) parts.push("LLM: " + s.llm.calls + " calls, " + (s.llm.prompt_tokens + s.llm.completion_tokens) + " tokens, $" + Number(s.llm.cost_usd).toFixed(4) + ".");
    if (s.wall_time_s !== undefined) parts.push("Wall time " + Math.round(s.wall_time_s) + " s.");
    $("#totals").textContent = parts.join(" ");
    $("#notes").replaceChildren(...data.notes.map((n) => el("p", { className: "note", textContent: n })));
    // The plot is SVG made by eureka_kit.report from numbers only (all text escaped there).
    const svg = new DOMParser().parseFromString(data.fitness_svg, "image/svg+xml").documentElement;
    $("#plot").replaceChildren(document.importNode(svg, true));
    $("#generations").replaceChildren(...data.generations.map(generation));
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#reload").addEventListener("click", load);
    load();
  });
})();
