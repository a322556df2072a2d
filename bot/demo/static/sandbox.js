// The sandbox page: draws the workspace the server renders, and sends what the person does.
// Messages arrive through a long poll of /demo/api/state, so a post made by a scan, the
// scheduler or a background sender shows up as soon as the sandbox's Slack receives it.
"use strict";

const ui = {
  place: { kind: "channel", id: null, tab: "home" },
  thread: null, // { channel, ts }
  version: -1,
  state: null,
  drawn: {}, // element id -> last HTML, so unchanged parts keep focus and scroll
  modalKey: null,
};

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const esc = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function draw(id, html) {
  if (ui.drawn[id] === html) return false;
  const el = $(id);
  const nearBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  el.innerHTML = html;
  ui.drawn[id] = html;
  if (nearBottom || id === "thread-body") el.scrollTop = el.scrollHeight;
  return true;
}

function toast(text, error) {
  const el = document.createElement("div");
  el.className = "toast" + (error ? " error" : "");
  el.textContent = text;
  $("toasts").appendChild(el);
  setTimeout(() => el.remove(), 6000);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || answer.ok === false) {
    toast(answer.error || `The sandbox could not do that (HTTP ${response.status}).`, true);
  }
  return answer;
}

// --- drawing ---------------------------------------------------------------------------

function conversationId() {
  return ui.place.kind === "channel" ? ui.place.id : ui.state.dm;
}

function messageHtml(m, channel, inThread) {
  const initial = m.bot ? "s" : esc(m.author.charAt(0));
  const replies = m.replies || [];
  const repliesLink =
    !inThread && replies.length
      ? `<button class="replies-link" data-thread="${esc(m.ts)}">${replies.length} ${replies.length === 1 ? "reply" : "replies"} <span class="msg-time">Last reply ${esc(replies[replies.length - 1].time)}</span></button>`
      : "";
  const body = m.command
    ? `<div class="command">${esc(m.command)}</div>`
    : `<div class="msg-content">${m.html}</div>`;
  return `<div class="msg${m.ephemeral ? " ephemeral" : ""}" data-channel="${esc(channel)}" data-ts="${esc(m.ts)}">
  <div class="avatar ${m.bot ? "bot" : "user"}">${initial}</div>
  <div class="msg-body">
    ${m.ephemeral && !m.command ? '<div class="only-you">👁 Only visible to you</div>' : ""}
    <div class="msg-meta"><span class="msg-author">${esc(m.author)}</span>${m.bot ? '<span class="app-tag">APP</span>' : ""}<span class="msg-time">${esc(m.time)}</span>${m.edited ? '<span class="edited">(edited)</span>' : ""}</div>
    ${body}${repliesLink}
  </div></div>`;
}

function conversationHtml(messages, channel) {
  if (!messages.length) {
    return `<div class="empty">Nothing here yet. Type <code>/sources</code> below to start.</div>`;
  }
  let day = null;
  return messages
    .map((m) => {
      const divider = m.day !== day ? `<div class="day"><span>${esc(m.day)}</span></div>` : "";
      day = m.day;
      return divider + messageHtml(m, channel, false);
    })
    .join("");
}

function render(previous) {
  const s = ui.state;
  if (ui.place.id === null) ui.place.id = s.notify_channel;
  $("team-name").textContent = s.team.name;
  $("clock").innerHTML =
    `🕘 ${esc(s.clock.label)}` + (s.clock.days_ahead ? ` · <b>+${s.clock.days_ahead} days</b>` : "");

  draw(
    "channel-list",
    s.channels
      .map(
        (c) =>
          `<div class="side-item${ui.place.kind === "channel" && ui.place.id === c.id ? " active" : ""}" data-channel="${esc(c.id)}"># ${esc(c.name)}</div>`,
      )
      .join(""),
  );
  $("open-app").classList.toggle("active", ui.place.kind === "app");

  const inApp = ui.place.kind === "app";
  const channel = s.channels.find((c) => c.id === ui.place.id);
  $("main-header").innerHTML = inApp
    ? `<span class="app-dot">s</span> sources-bot <span class="topic">Keeps your team's social-network connections alive</span>`
    : `# ${esc(channel ? channel.name : "")} <span class="topic">${channel && channel.id === s.notify_channel ? "Where sources-bot posts expiry notices and the daily digest" : ""}</span>`;
  $("tabs").hidden = !inApp;
  for (const tab of document.querySelectorAll(".tab")) {
    tab.classList.toggle("active", inApp && tab.dataset.tab === ui.place.tab);
  }
  const showHome = inApp && ui.place.tab === "home";
  $("home").hidden = !showHome;
  $("messages").hidden = showHome;
  $("composer").hidden = showHome;
  if (showHome) {
    draw("home", s.home ? s.home.html : `<div class="empty">Opening the Home tab…</div>`);
  } else {
    const id = conversationId();
    draw("messages", conversationHtml(s.conversations[id] || [], id));
    $("composer-input").placeholder = inApp ? "Message sources-bot" : `Message #${channel ? channel.name : ""}`;
  }

  openThreadWithNewReply(previous);
  drawThread();
  drawModal();
}

function openThreadWithNewReply(previous) {
  if (!previous) return;
  for (const [channel, messages] of Object.entries(ui.state.conversations)) {
    const before = previous.conversations[channel] || [];
    for (const m of messages) {
      const old = before.find((b) => b.ts === m.ts);
      if ((m.replies || []).length > ((old && old.replies) || []).length) {
        ui.thread = { channel, ts: m.ts };
      }
    }
  }
}

function drawThread() {
  const t = ui.thread;
  const parent = t && (ui.state.conversations[t.channel] || []).find((m) => m.ts === t.ts);
  $("thread").hidden = !parent;
  if (!parent) return;
  const channel = ui.state.channels.find((c) => c.id === t.channel);
  $("thread-channel").textContent = channel ? `# ${channel.name}` : "sources-bot";
  const replies = parent.replies || [];
  draw(
    "thread-body",
    messageHtml(parent, t.channel, true) +
      `<div class="thread-count">${replies.length} ${replies.length === 1 ? "reply" : "replies"}</div>` +
      replies.map((r) => messageHtml(r, t.channel, true)).join(""),
  );
}

function drawModal() {
  const modal = ui.state.modal;
  $("modal-backdrop").hidden = !modal;
  if (!modal) {
    ui.modalKey = null;
    return;
  }
  const key = modal.id + ":" + modal.hash;
  if (ui.modalKey === key) return;
  ui.modalKey = key;
  $("modal-title").innerHTML = modal.title;
  $("modal-body").innerHTML = modal.html;
  $("modal-close").innerHTML = modal.close;
  $("modal-submit").hidden = !modal.submit;
  $("modal-submit").innerHTML = modal.submit || "";
}

// --- what the person does ----------------------------------------------------------------

function surfaceOf(el) {
  if (el.closest("#modal-body")) return { view_id: ui.state.modal && ui.state.modal.id };
  if (el.closest("#home")) return { view_id: ui.state.home && ui.state.home.id };
  const msg = el.closest(".msg");
  return msg ? { channel: msg.dataset.channel, ts: msg.dataset.ts } : null;
}

async function act(el, value) {
  const surface = surfaceOf(el);
  if (!surface) return;
  await post("/demo/api/action", {
    ...surface,
    action_id: el.dataset.actionId,
    block_id: el.dataset.blockId || "",
    value,
  });
}

function valueOf(el) {
  if (el.classList.contains("bk-choices")) {
    const checked = [...el.querySelectorAll("input:checked")].map((i) => i.value);
    return el.dataset.type === "checkboxes" ? checked : checked[0] || "";
  }
  if (el.multiple) return [...el.selectedOptions].map((o) => o.value);
  return el.value;
}

document.addEventListener("click", async (event) => {
  const target = event.target;
  const side = target.closest(".side-item[data-channel]");
  if (side) {
    ui.place = { kind: "channel", id: side.dataset.channel, tab: "home" };
    return render(null);
  }
  if (target.closest("#open-app")) {
    ui.place = { kind: "app", id: ui.place.id, tab: "home" };
    render(null);
    return post("/demo/api/home", { tab: "home" });
  }
  const tab = target.closest(".tab");
  if (tab) {
    ui.place.tab = tab.dataset.tab;
    render(null);
    return post("/demo/api/home", { tab: tab.dataset.tab });
  }
  const replies = target.closest(".replies-link");
  if (replies) {
    ui.thread = { channel: replies.closest(".msg").dataset.channel, ts: replies.dataset.thread };
    return drawThread();
  }
  const button = target.closest("button.bk-button[data-action-id]");
  if (button && !button.closest(".modal-footer")) {
    if (button.dataset.url) window.open(button.dataset.url, "_blank");
    button.disabled = true;
    try {
      await act(button, button.dataset.value || "");
    } finally {
      setTimeout(() => (button.disabled = false), 400);
    }
  }
});

document.addEventListener("change", (event) => {
  const el = event.target.closest("[data-action-id]");
  if (!el || el.dataset.input || el.tagName === "BUTTON") return;
  act(el, valueOf(el));
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text) return;
  if (!text.startsWith("/")) {
    toast("The sandbox sends slash commands to the bot: try /sources", true);
    return;
  }
  input.value = "";
  await post("/demo/api/command", { text, channel: conversationId() });
});

$("modal-submit").addEventListener("click", async () => {
  const values = {};
  for (const el of $("modal-body").querySelectorAll("[data-input]")) {
    const block = el.dataset.blockId;
    values[block] = values[block] || {};
    values[block][el.dataset.actionId] = valueOf(el);
  }
  for (const error of $("modal-body").querySelectorAll(".bk-error")) error.textContent = "";
  const answer = await post("/demo/api/submit", { view_id: ui.state.modal.id, values });
  if (answer.result === "failed") toast(answer.error, true);
  if (answer.result === "errors") {
    for (const [block, message] of Object.entries(answer.errors || {})) {
      const slot = $("modal-body").querySelector(`.bk-error[data-error-for="${CSS.escape(block)}"]`);
      if (slot) slot.textContent = message;
    }
  }
});

for (const id of ["modal-close", "modal-x"]) {
  $(id).addEventListener("click", () => post("/demo/api/close", { view_id: ui.state.modal.id }));
}
$("thread-close").addEventListener("click", () => {
  ui.thread = null;
  drawThread();
});
$("guide-toggle").addEventListener("click", () => ($("guide").hidden = !$("guide").hidden));

async function control(button, path) {
  button.disabled = true;
  try {
    const answer = await post(path);
    if (answer.note) toast(answer.note);
  } finally {
    button.disabled = false;
  }
}
$("skip").addEventListener("click", () => control($("skip"), "/demo/api/skip"));
$("digest").addEventListener("click", () => control($("digest"), "/demo/api/digest"));

async function poll() {
  for (;;) {
    try {
      const response = await fetch(`/demo/api/state?after=${ui.version}`, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const state = await response.json();
      const previous = ui.state;
      ui.state = state;
      ui.version = state.version;
      render(previous);
    } catch (error) {
      await sleep(1000);
    }
  }
}
poll();
