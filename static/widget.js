/*
 * Marquee chat widget. No dependencies, no build step. Embed it with one tag:
 *
 *   <script src="https://YOUR-MARQUEE-SERVER/widget.js"
 *           data-server="https://YOUR-MARQUEE-SERVER" data-site-key="YOUR-SITE-KEY" async></script>
 *
 * Optional attributes: data-title (panel heading), data-greeting (first message),
 * data-position ("right" or "left").
 *
 * It draws a chat bubble and a panel inside a Shadow DOM (no styles leak in or out), talks to
 * Marquee's /api/v1 (replies stream as Server-Sent Events), keeps the conversation id in
 * localStorage so the chat survives page loads, and renders every text with textContent only.
 */
(function () {
  "use strict";

  if (window.__marqueeWidget) return;

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-site-key]');
  if (!script) return;

  var config = {
    server: (script.getAttribute("data-server") || new URL(script.src, location.href).origin).replace(/\/+$/, ""),
    key: script.getAttribute("data-site-key") || "",
    title: script.getAttribute("data-title") || "Movie picks",
    greeting: script.getAttribute("data-greeting") ||
      "Hi! Tell me what you feel like watching, e.g. \u201ca feel-good 90s comedy\u201d.",
    left: script.getAttribute("data-position") === "left"
  };
  var API = config.server + "/api/v1";
  var STORE = "marquee:" + config.server + ":" + config.key;

  // ---- small helpers ------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs.text;
      else if (name === "className") node.className = attrs.className;
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  var ICONS = {
    chat: "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z",
    close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z",
    send: "M2.01 21 23 12 2.01 3 2 10l15 2-15 2z",
    like: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
    dislike: "M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z"
  };

  function icon(name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || "{}") || {}; } catch (e) { return {}; }
  }

  function save(patch) {
    var data = load();
    Object.keys(patch).forEach(function (k) {
      if (patch[k] === null) delete data[k]; else data[k] = patch[k];
    });
    try { localStorage.setItem(STORE, JSON.stringify(data)); } catch (e) { /* storage may be off */ }
  }

  function isHttpUrl(value) {
    return typeof value === "string" && /^https?:\/\//i.test(value);
  }

  // ---- talking to Marquee -------------------------------------------------------------------

  function ApiError(status, code, message, retryAfter) {
    this.status = status; this.code = code; this.message = message; this.retryAfter = retryAfter;
  }

  function request(method, path, body) {
    var init = { method: method, headers: { "X-Marquee-Key": config.key }, credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(API + path, init).catch(function () {
      throw new ApiError(0, "network", "Can't reach the recommendation service right now.");
    }).then(function (response) {
      if (response.ok) return response;
      return response.json().catch(function () { return {}; }).then(function (data) {
        var error = (data && data.error) || {};
        throw new ApiError(response.status, error.code || "http_" + response.status,
          error.message || "The service answered " + response.status + ".",
          response.headers.get("Retry-After"));
      });
    });
  }

  function getJson(method, path, body) {
    return request(method, path, body).then(function (r) { return r.json(); });
  }

  function ensureConversation() {
    var stored = load();
    if (stored.conversationId) return Promise.resolve(stored.conversationId);
    return getJson("POST", "/conversations", {}).then(function (created) {
      save({ conversationId: created.conversation_id, userId: created.user_id });
      return created.conversation_id;
    });
  }

  // Streams a reply: calls handlers.text(delta), handlers.items(list), handlers.done(info).
  function streamMessage(conversationId, text, handlers) {
    var path = "/conversations/" + encodeURIComponent(conversationId) + "/messages";
    var canStream = window.ReadableStream && window.TextDecoder;
    if (!canStream) {
      return getJson("POST", path, { text: text }).then(function (result) {
        handlers.text(result.reply.text);
        handlers.items(result.reply.items);
        handlers.done({ notes: result.reply.notes, question: result.reply.question });
      });
    }
    return request("POST", path + "/stream", { text: text }).then(function (response) {
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var finished = false;

      function dispatch(block) {
        var event = "message", data = "";
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) event = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
        });
        if (!data) return;
        var payload = JSON.parse(data);
        if (event === "text") handlers.text(payload.delta);
        else if (event === "items") handlers.items(payload.items);
        else if (event === "done") { finished = true; handlers.done(payload); }
        else if (event === "error") {
          finished = true;
          throw new ApiError(200, payload.error.code, payload.error.message);
        }
      }

      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) {
            if (!finished) throw new ApiError(0, "network", "The reply was cut off. Please try again.");
            return;
          }
          buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
          var end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
          return pump();
        });
      }
      return pump();
    });
  }

  // ---- the view -----------------------------------------------------------------------------

  var CSS = [
    ":host{all:initial}",
    ".root{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:14px;line-height:1.4;color:#1d1d1f;",
    "  -webkit-font-smoothing:antialiased}",
    ".root *,.root *::before,.root *::after{box-sizing:border-box}",
    "button{font:inherit;color:inherit;cursor:pointer}",
    "svg{width:20px;height:20px;fill:currentColor;display:block}",
    ":focus-visible{outline:3px solid #f5a623;outline-offset:2px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    ".bubble{position:fixed;bottom:20px;right:20px;width:56px;height:56px;border-radius:50%;border:none;",
    "  background:#1f2a44;color:#fff;display:flex;align-items:center;justify-content:center;",
    "  box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".bubble svg{width:26px;height:26px}",
    ".bubble:hover{background:#2d3b5e}",
    ".left .bubble{right:auto;left:20px}",
    ".panel{position:fixed;bottom:88px;right:20px;width:380px;max-width:calc(100vw - 24px);height:600px;",
    "  max-height:calc(100vh - 110px);background:#fff;border-radius:14px;display:flex;flex-direction:column;",
    "  box-shadow:0 10px 40px rgba(0,0,0,.28);overflow:hidden}",
    ".left .panel{right:auto;left:20px}",
    ".panel[hidden]{display:none}",
    "header{display:flex;align-items:center;gap:8px;padding:10px 12px;background:#1f2a44;color:#fff}",
    "header h2{flex:1;margin:0;font-size:16px;font-weight:600}",
    "header button{background:transparent;border:1px solid rgba(255,255,255,.4);border-radius:8px;padding:4px 8px;color:#fff}",
    "header button.close{border:none;padding:4px}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}",
    ".msg{max-width:88%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".msg.user{align-self:flex-end;background:#1f2a44;color:#fff;border-bottom-right-radius:4px}",
    ".msg.bot{align-self:flex-start;background:#fff;border:1px solid #e3e5e8;border-bottom-left-radius:4px}",
    ".msg.error{align-self:stretch;max-width:none;background:#fdecea;border:1px solid #f5c2bd;color:#7d1a12}",
    ".msg.pending::after{content:'\u2026';animation:blink 1s infinite}",
    "@keyframes blink{50%{opacity:.2}}",
    ".note{align-self:flex-start;margin:0;font-size:12px;color:#5b6270;font-style:italic;overflow-wrap:anywhere}",
    ".cards{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px;align-self:stretch}",
    ".card{display:flex;gap:10px;background:#fff;border:1px solid #e3e5e8;border-radius:10px;padding:8px}",
    ".card img{width:60px;height:90px;object-fit:cover;border-radius:6px;flex:none;background:#e3e5e8}",
    ".card .body{flex:1;min-width:0;display:flex;flex-direction:column;gap:3px}",
    ".card h3{margin:0;font-size:14px;font-weight:600;overflow-wrap:anywhere}",
    ".card .meta{margin:0;font-size:12px;color:#5b6270;overflow-wrap:anywhere}",
    ".card .why{margin:0;font-size:13px;overflow-wrap:anywhere}",
    ".card .actions{display:flex;gap:6px;margin-top:4px}",
    ".card .actions button{display:flex;align-items:center;gap:4px;border:1px solid #cfd3da;background:#fff;",
    "  border-radius:8px;padding:4px 8px;font-size:12px;min-height:32px}",
    ".card .actions svg{width:16px;height:16px}",
    ".card .actions button[aria-pressed=true]{background:#1f2a44;border-color:#1f2a44;color:#fff}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e5e8;background:#fff}",
    "textarea{flex:1;resize:none;font:inherit;color:inherit;border:1px solid #cfd3da;border-radius:10px;",
    "  padding:8px 10px;min-height:40px;max-height:120px;background:#fff}",
    "form button{border:none;border-radius:10px;background:#1f2a44;color:#fff;width:44px;display:flex;",
    "  align-items:center;justify-content:center}",
    "form button:disabled{opacity:.5;cursor:default}",
    ".foot{display:flex;justify-content:flex-end;padding:0 12px 8px;background:#fff}",
    ".foot button{border:none;background:none;padding:2px;font-size:11px;color:#5b6270;text-decoration:underline}",
    "@media (max-width:480px){",
    "  .panel,.left .panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0}",
    "  .open .bubble{display:none}",
    "  textarea{font-size:16px}",
    "}"
  ].join("\n");

  function Widget() {
    this.busy = false;
    this.feedback = {};  // item id -> "liked" | "disliked"
    this.build();
  }

  Widget.prototype.build = function () {
    var self = this;
    var host = document.createElement("marquee-chat");
    host.style.cssText = "all:initial !important;position:fixed !important;z-index:2147483000 !important;" +
      "bottom:0 !important;right:0 !important;width:0 !important;height:0 !important;display:block !important";
    var shadow = host.attachShadow({ mode: "open" });
    shadow.appendChild(el("style", { text: CSS }));

    this.bubble = el("button", { className: "bubble", type: "button", "aria-expanded": "false",
      "aria-controls": "marquee-panel", "aria-label": "Open chat: " + config.title }, [icon("chat")]);
    this.log = el("div", { className: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation",
      tabindex: "0" });
    this.input = el("textarea", { id: "marquee-input", rows: "1", maxlength: "2000",
      placeholder: "What would you like to watch?", autocomplete: "off" });
    this.send = el("button", { type: "submit", "aria-label": "Send" }, [icon("send")]);
    this.form = el("form", {}, [el("label", { className: "sr", "for": "marquee-input", text: "Your message" }),
      this.input, this.send]);
    var newChat = el("button", { type: "button", className: "new", text: "New chat" });
    var close = el("button", { type: "button", className: "close", "aria-label": "Close chat" }, [icon("close")]);
    var forget = el("button", { type: "button", className: "forget", text: "Delete my chat data" });
    this.panel = el("section", { id: "marquee-panel", className: "panel", role: "dialog",
      "aria-label": config.title, hidden: "" }, [
      el("header", {}, [el("h2", { text: config.title }), newChat, close]),
      this.log, this.form, el("div", { className: "foot" }, [forget])
    ]);
    this.root = el("div", { className: "root" + (config.left ? " left" : "") }, [this.bubble, this.panel]);
    shadow.appendChild(this.root);
    document.body.appendChild(host);

    this.bubble.addEventListener("click", function () { self.toggle(self.panel.hidden); });
    close.addEventListener("click", function () { self.toggle(false); });
    newChat.addEventListener("click", function () { self.restart(); });
    forget.addEventListener("click", function () { self.forget(); });
    this.panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); self.toggle(false); }
    });
    this.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); self.submit(); }
    });
    this.form.addEventListener("submit", function (e) { e.preventDefault(); self.submit(); });

    if (load().open) this.toggle(true, true);
  };

  Widget.prototype.toggle = function (open, restoring) {
    this.panel.hidden = !open;
    this.root.classList.toggle("open", open);
    this.bubble.setAttribute("aria-expanded", String(open));
    this.bubble.setAttribute("aria-label", (open ? "Close chat: " : "Open chat: ") + config.title);
    save({ open: open });
    if (open) {
      if (!this.loaded) this.restore();
      if (!restoring) this.input.focus();
    } else if (!restoring) {
      this.bubble.focus();
    }
  };

  Widget.prototype.restore = function () {
    var self = this;
    this.loaded = true;
    var id = load().conversationId;
    if (!id) { this.say("bot", config.greeting); return; }
    getJson("GET", "/conversations/" + encodeURIComponent(id)).then(function (history) {
      self.log.textContent = "";
      self.feedback = {};
      history.feedback.liked.forEach(function (i) { self.feedback[i] = "liked"; });
      history.feedback.disliked.forEach(function (i) { self.feedback[i] = "disliked"; });
      if (!history.turns.length) self.say("bot", config.greeting);
      history.turns.forEach(function (turn) {
        self.say("user", turn.utterance);
        self.say("bot", turn.reply.text);
        self.notes(turn.reply.notes);
        self.cards(turn.reply.items);
      });
      self.scroll();
    }).catch(function (error) {
      if (error.status === 404 || error.status === 403) {  // deleted or not ours: start afresh
        save({ conversationId: null, userId: null });
        self.say("bot", config.greeting);
      } else {
        self.loaded = false;
        self.error(error);
      }
    });
  };

  Widget.prototype.say = function (who, text) {
    var node = el("div", { className: "msg " + who, text: text });
    this.log.appendChild(node);
    this.scroll();
    return node;
  };

  Widget.prototype.notes = function (notes) {
    var self = this;
    (notes || []).forEach(function (note) { self.log.appendChild(el("p", { className: "note", text: note })); });
  };

  Widget.prototype.error = function (error) {
    var text = error.message || "Something went wrong.";
    if (error.code === "rate_limited" && error.retryAfter) {
      text = "Too many messages at once. Please try again in " + error.retryAfter + " s.";
    }
    var node = this.say("error", text);
    node.setAttribute("role", "alert");
  };

  Widget.prototype.scroll = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  Widget.prototype.cards = function (items) {
    if (!items || !items.length) return;
    var self = this;
    var list = el("ul", { className: "cards", "aria-label": "Recommendations" });
    items.forEach(function (item) { list.appendChild(self.card(item)); });
    this.log.appendChild(list);
    this.scroll();
  };

  Widget.prototype.card = function (item) {
    var self = this;
    var label = item.title + (item.year ? " (" + item.year + ")" : "");
    var body = el("div", { className: "body" }, [
      el("h3", { text: label }),
      item.genres && item.genres.length ? el("p", { className: "meta", text: item.genres.join(", ") }) : null,
      el("p", { className: "why", text: item.why || "" })
    ]);
    var actions = el("div", { className: "actions", role: "group", "aria-label": "Feedback on " + label });
    var buttons = {};
    [["liked", "like", "Like"], ["disliked", "dislike", "Dislike"]].forEach(function (spec) {
      var button = el("button", { type: "button", "aria-pressed": String(self.feedback[item.id] === spec[0]),
        "aria-label": spec[2] + " " + label, title: spec[2], "data-kind": spec[0] },
        [icon(spec[1]), el("span", { text: spec[2] })]);
      button.addEventListener("click", function () { self.rate(item, spec[0], buttons); });
      buttons[spec[0]] = button;
      actions.appendChild(button);
    });
    body.appendChild(actions);
    var poster = null;
    if (isHttpUrl(item.image)) {
      poster = el("img", { alt: "Poster of " + label, loading: "lazy", referrerpolicy: "no-referrer" });
      poster.src = item.image;
      poster.addEventListener("error", function () { poster.remove(); });
    }
    return el("li", { className: "card", "data-item-id": item.id }, [poster, body]);
  };

  Widget.prototype.rate = function (item, kind, buttons) {
    var self = this;
    var id = load().conversationId;
    if (!id) return;
    getJson("POST", "/conversations/" + encodeURIComponent(id) + "/feedback", { item_id: item.id, kind: kind })
      .then(function (state) {
        self.feedback[item.id] = kind;
        buttons.liked.setAttribute("aria-pressed", String(state.liked.indexOf(item.id) >= 0));
        buttons.disliked.setAttribute("aria-pressed", String(state.disliked.indexOf(item.id) >= 0));
      })
      .catch(function (error) { self.error(error); });
  };

  Widget.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.send.disabled = busy;
    this.log.setAttribute("aria-busy", String(busy));
  };

  Widget.prototype.submit = function () {
    var text = this.input.value.trim();
    if (!text || this.busy) return null;
    this.input.value = "";
    this.say("user", text);
    return this.exchange(text, false);
  };

  // Sends one message and renders the streamed reply; a stored chat that is gone is restarted once.
  Widget.prototype.exchange = function (text, retried) {
    var self = this;
    this.setBusy(true);
    var reply = this.say("bot pending", "");
    var received = "";
    return ensureConversation().then(function (id) {
      return streamMessage(id, text, {
        text: function (delta) { received += delta; reply.textContent = received; self.scroll(); },
        items: function (items) { reply.classList.remove("pending"); self.cards(items); },
        done: function (info) { reply.classList.remove("pending"); self.notes(info.notes); self.scroll(); }
      });
    }).then(function () {
      self.setBusy(false);
    }, function (error) {
      reply.remove();
      self.setBusy(false);
      if (!retried && (error.status === 404 || error.status === 403)) {
        save({ conversationId: null, userId: null });
        return self.exchange(text, true);
      }
      self.error(error);
    });
  };

  Widget.prototype.restart = function () {
    save({ conversationId: null, userId: null });
    this.feedback = {};
    this.log.textContent = "";
    this.say("bot", config.greeting);
    this.input.focus();
  };

  Widget.prototype.forget = function () {
    var self = this;
    var userId = load().userId;
    var done = function () {
      self.restart();
      self.say("bot", "Your chat data was deleted.");
    };
    if (!userId) { done(); return; }
    request("DELETE", "/users/" + encodeURIComponent(userId)).then(done).catch(function (error) {
      if (error.status === 404) done(); else self.error(error);
    });
  };

  function start() {
    window.__marqueeWidget = new Widget();
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
