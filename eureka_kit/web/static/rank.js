// The ranking page: order the candidates best first, mark best and worst, comment, submit.
// Every request carries the token of the page's own URL; all text is set with textContent (no HTML injection).
"use strict";

(function () {
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const withToken = (path) => path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
  const $ = (sel) => document.querySelector(sel);

  const state = { generation: null, order: [], cards: new Map(), maxBytes: 10000, submitted: false };

  function setStatus(text, kind) {
    const el = $("#status");
    el.textContent = text;
    el.className = kind || "";
  }

  function move(name, to) {
    const from = state.order.indexOf(name);
    if (from < 0 || to < 0 || to >= state.order.length || from === to) return;
    state.order.splice(from, 1);
    state.order.splice(to, 0, name);
    render();
  }

  function render() {
    const box = $("#cards");
    const last = state.order.length - 1;
    state.order.forEach((name, i) => {
      const card = state.cards.get(name);
      box.appendChild(card); // moves the existing node: videos keep playing, comments stay
      card.querySelector(".rank").textContent = "#" + (i + 1);
      card.classList.toggle("is-best", i === 0);
      card.classList.toggle("is-worst", i === last && last > 0);
      card.dataset.rank = String(i + 1);
      card.querySelector(".up").disabled = state.submitted || i === 0;
      card.querySelector(".down").disabled = state.submitted || i === last;
      card.querySelector(".mark-best").disabled = state.submitted || i === 0;
      card.querySelector(".mark-worst").disabled = state.submitted || i === last;
    });
  }

  function makeCard(item) {
    const card = $("#card-template").content.firstElementChild.cloneNode(true);
    card.dataset.name = item.name;
    card.dataset.testid = "card-" + item.name;
    card.querySelector(".name").textContent = item.name;
    const fit = card.querySelector(".fitness");
    fit.textContent = "fitness " + (item.fitness === null ? "n/a" : Number(item.fitness).toPrecision(4));
    const video = card.querySelector("video");
    if (item.video) {
      video.src = withToken(item.video);
      card.querySelector(".no-video").remove();
    } else {
      video.remove();
    }
    card.querySelector(".source").textContent = item.source;
    card.querySelector(".comment").setAttribute("aria-label", "comment on " + item.name);
    card.querySelector(".up").addEventListener("click", () => move(item.name, state.order.indexOf(item.name) - 1));
    card.querySelector(".down").addEventListener("click", () => move(item.name, state.order.indexOf(item.name) + 1));
    card.querySelector(".mark-best").addEventListener("click", () => move(item.name, 0));
    card.querySelector(".mark-worst").addEventListener("click", () => move(item.name, state.order.length - 1));
    // Drag and drop: drop on the left half of a card to go before it, on the right half to go after it.
    card.addEventListener("dragstart", (ev) => {
      if (state.submitted) return ev.preventDefault();
      ev.dataTransfer.setData("text/plain", item.name);
      ev.dataTransfer.effectAllowed = "move";
      card.classList.add("dragging");
    });
    card.addEventListener("dragend", () => card.classList.remove("dragging"));
    card.addEventListener("dragover", (ev) => ev.preventDefault());
    card.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const dragged = ev.dataTransfer.getData("text/plain");
      if (!state.cards.has(dragged) || dragged === item.name) return;
      const rect = card.getBoundingClientRect();
      const after = ev.clientX > rect.left + rect.width / 2;
      const without = state.order.filter((n) => n !== dragged);
      const target = without.indexOf(item.name) + (after ? 1 : 0);
      without.splice(target, 0, dragged);
      state.order = without;
      render();
    });
    return card;
  }

  function byteLength(text) {
    return new TextEncoder().encode(text).length;
  }

  async function submit() {
    const comments = {};
    for (const [name, card] of state.cards) {
      const text = card.querySelector(".comment").value.trim();
      if (byteLength(text) > state.maxBytes) {
        setStatus("The comment on " + name + " is too long (limit " + state.maxBytes + " bytes).", "error");
        return;
      }
      if (text) comments[name] = text;
    }
    const general = $("#generation-comment").value.trim();
    if (byteLength(general) > state.maxBytes) {
      setStatus("The generation comment is too long (limit " + state.maxBytes + " bytes).", "error");
      return;
    }
    const body = {
      generation: state.generation,
      order: state.order.slice(),
      best: state.order[0],
      worst: state.order[state.order.length - 1],
      comments: comments,
      generation_comment: general,
    };
    $("#submit").disabled = true;
    setStatus("Sending…");
    let res;
    try {
      res = await fetch(withToken("/api/ranking"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (err) {
      $("#submit").disabled = false;
      setStatus("Could not reach eureka-kit (" + err + "). Is the run still waiting?", "error");
      return;
    }
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      $("#submit").disabled = res.status === 409;
      setStatus("Not saved: " + (answer.error || res.status), "error");
      return;
    }
    finish("Saved to " + answer.path + ". Thank you: the run goes on; you can close this tab.");
  }

  function finish(message) {
    state.submitted = true;
    document.body.classList.add("submitted");
    document.querySelectorAll("textarea").forEach((t) => (t.disabled = true));
    $("#submit").disabled = true;
    render();
    setStatus(message, "ok");
  }

  async function load() {
    let data;
    try {
      const res = await fetch(withToken("/api/items"));
      data = await res.json();
      if (!res.ok) throw new Error(data.error || res.status);
    } catch (err) {
      setStatus("Could not load the candidates: " + err.message, "error");
      return;
    }
    state.generation = data.generation;
    state.maxBytes = data.max_comment_bytes;
    $("#generation").textContent = String(data.generation);
    $("#run-id").textContent = data.run_id;
    document.title = "eureka-kit: rank generation " + data.generation;
    for (const item of data.items) {
      state.cards.set(item.name, makeCard(item));
      state.order.push(item.name);
    }
    render();
    $("#submit").disabled = false;
    if (data.submitted) finish("This generation has already been ranked.");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#show-fitness").addEventListener("change", (ev) => {
      document.body.classList.toggle("show-fitness", ev.target.checked);
    });
    $("#submit").addEventListener("click", submit);
    load();
  });
})();
