/* 昆如意 web widget: a chat button and panel in a Shadow DOM, streaming answers with citations.
 *
 * Safety rule for this file: text that comes from a user, an answer or a document is only ever put
 * into the page with textContent / createTextNode, never innerHTML; links are created only for
 * http(s) URLs. Loaded by /widget.js (the loader), which queues one config per script tag. */
(function () {
  "use strict";

  var DEFAULTS = {
    title: "昆如意企业服务助手",
    greeting: "您好！我是昆如意企业服务助手，可以依据政策库为您解答惠企政策、人才政策、用地和办事流程等问题，回答会标注政策出处。",
    suggestions: ["昆山对省级创新联合体给多少支持？", "高新技术企业认定有什么奖励？", "稳岗补贴怎么申请？"],
    color: "#1f5fbf",
    position: "right"
  };
  var PHONE = /^\+?[0-9][0-9\- ]{4,18}[0-9](?:(?:转|-|#)[0-9]{1,6})?$/;
  var MESSAGES = {
    network: "网络连接失败，回答未能完成。请检查网络后点击“重试”。",
    interrupted: "连接中断，回答未完成。请点击“重试”重新获取回答。",
    unavailable: "服务暂时不可用，请稍后点击“重试”。",
    restoreFailed: "暂时无法加载之前的对话记录，请稍后刷新页面。"
  };

  // --- small DOM helpers ----------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === "text") { node.textContent = value; }
      else if (name === "className") { node.className = value; }
      else if (name.slice(0, 2) === "on") { node.addEventListener(name.slice(2), value); }
      else { node.setAttribute(name, value === true ? "" : String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "kry-launcher-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function safeHttpUrl(value, base) {
    if (!value) { return null; }
    try {
      var url = new URL(String(value), base || undefined);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function cnDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    return m ? m[1] + "年" + Number(m[2]) + "月" + Number(m[3]) + "日" : iso;
  }

  // --- safe Markdown: escape everything, then allow bold, lists, line breaks, [n], http(s) links ----

  var INLINE = /\[([^\]\n]+)\]\(([^)\s]+)\)|\[(\d{1,2})\](?!\()|\*\*([^*\n]+?)\*\*|(https?:\/\/[^\s<>()（）"'，。；！？、]+)/g;

  function renderInline(parent, text, ctx) {
    var last = 0;
    var match;
    INLINE.lastIndex = 0;
    while ((match = INLINE.exec(text)) !== null) {
      if (match.index > last) { parent.appendChild(document.createTextNode(text.slice(last, match.index))); }
      if (match[1] !== undefined) {
        var href = safeHttpUrl(match[2]);
        parent.appendChild(href
          ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: match[1] })
          : document.createTextNode(match[0]));
      } else if (match[3] !== undefined) {
        var n = Number(match[3]);
        var citation = ctx.citation(n);
        parent.appendChild(citation
          ? el("button", { type: "button", className: "kry-cite", "aria-label": "查看引用" + n + "：" + citation.title,
            text: "[" + n + "]", onclick: function (num) { return function (ev) { ctx.open(num, ev.currentTarget); }; }(n) })
          : document.createTextNode(match[0]));
      } else if (match[4] !== undefined) {
        parent.appendChild(el("strong", { text: match[4] }));
      } else {
        parent.appendChild(el("a", { href: match[5], target: "_blank", rel: "noopener noreferrer nofollow", text: match[5] }));
      }
      last = INLINE.lastIndex;
    }
    if (last < text.length) { parent.appendChild(document.createTextNode(text.slice(last))); }
  }

  function renderMarkdown(text, ctx) {
    var root = document.createDocumentFragment();
    var paragraph = null;
    var list = null;
    function closeBlocks() { paragraph = null; list = null; }
    String(text || "").replace(/\r\n?/g, "\n").split("\n").forEach(function (line) {
      var bullet = /^\s*[-*•]\s+(.*)$/.exec(line);
      var ordered = /^\s*(\d{1,3})[.)]\s+(.*)$/.exec(line);
      var heading = /^\s{0,3}#{1,6}\s+(.*)$/.exec(line);
      if (!line.trim()) { closeBlocks(); return; }
      if (bullet || ordered) {
        var tag = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) {
          list = el(tag);
          if (ordered) { list.setAttribute("start", ordered[1]); }
          root.appendChild(list);
        }
        paragraph = null;
        var item = el("li");
        renderInline(item, bullet ? bullet[1] : ordered[2], ctx);
        list.appendChild(item);
        return;
      }
      list = null;
      if (heading) {
        paragraph = null;
        var strong = el("strong");
        renderInline(strong, heading[1], ctx);
        root.appendChild(el("p", { className: "kry-heading" }, [strong]));
        return;
      }
      if (paragraph) { paragraph.appendChild(el("br")); }
      else { paragraph = el("p"); root.appendChild(paragraph); }
      renderInline(paragraph, line, ctx);
    });
    return root;
  }

  // --- storage (a private window or a blocked storage must not break the widget) ----------------

  function store(key) {
    return {
      get: function () { try { return window.localStorage.getItem(key); } catch (e) { return null; } },
      set: function (value) {
        try {
          if (value) { window.localStorage.setItem(key, value); } else { window.localStorage.removeItem(key); }
        } catch (e) { /* storage unavailable: the conversation lasts for this page view only */ }
      }
    };
  }

  // --- SSE over fetch -------------------------------------------------------------------------

  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder("utf-8");
    var buffer = "";
    function dispatch(block) {
      var name = "message";
      var data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
        else if (line.indexOf("data:") === 0) { data += line.slice(5).replace(/^ /, ""); }
      });
      if (data) { onEvent(name, JSON.parse(data)); }
    }
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          buffer += decoder.decode();
          if (buffer.trim()) { dispatch(buffer.replace(/\r\n?/g, "\n").trim()); }
          return;
        }
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
        var cut;
        while ((cut = buffer.indexOf("\n\n")) !== -1) {
          var block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (block.trim()) { dispatch(block); }
        }
        return pump();
      });
    }
    return pump();
  }

  function failure(kind, message, retryable) {
    var error = new Error(message);
    error.kind = kind;
    error.retryable = retryable !== false;
    return error;
  }

  // --- the widget -----------------------------------------------------------------------------

  function readOptions(config) {
    var o = config.options || {};
    var suggestions = o.suggestions ? o.suggestions.split("|").map(function (s) { return s.trim(); }).filter(Boolean)
      : DEFAULTS.suggestions;
    var color = o.color || o.primaryColor || DEFAULTS.color;
    if (!(window.CSS && CSS.supports && CSS.supports("color", color))) { color = DEFAULTS.color; }
    var apiBase = safeHttpUrl(o.apiBase || config.origin, window.location.href) || config.origin;
    return {
      title: (o.title || DEFAULTS.title).slice(0, 40),
      greeting: o.greeting || DEFAULTS.greeting,
      suggestions: suggestions.slice(0, 6),
      color: color,
      position: o.position === "left" ? "left" : "right",
      apiBase: apiBase.replace(/\/+$/, ""),
      cssUrl: config.cssUrl
    };
  }

  function Widget(config) {
    this.opts = readOptions(config);
    this.conversationStore = store("kunruyi-widget:" + this.opts.apiBase + ":conversation");
    this.draftStore = store("kunruyi-widget:" + this.opts.apiBase + ":draft");
    this.openStore = store("kunruyi-widget:" + this.opts.apiBase + ":open");
    this.conversationId = this.conversationStore.get();
    this.controller = null;
    this.failed = null;
    this.contact = null;
    this.returnFocus = null;
    this.build();
    if (this.conversationId) { this.restore(); } else { this.showGreeting(); }
    if (this.openStore.get() === "1") { this.open(false); }
  }

  Widget.prototype.api = function (path) { return this.opts.apiBase + path; };

  Widget.prototype.build = function () {
    var self = this;
    var host = el("kunruyi-widget");
    var shadow = host.attachShadow({ mode: "open" });
    this.shadow = shadow;
    var link = el("link", { rel: "stylesheet", href: this.opts.cssUrl });
    var root = el("div", { className: "kry", "data-position": this.opts.position, hidden: true });
    root.style.setProperty("--kry-primary", this.opts.color);
    // Shown once its stylesheet has loaded, so the host page never sees an unstyled flash.
    link.addEventListener("load", function () { root.hidden = false; });
    this.root = root;

    this.launcher = el("button", { type: "button", className: "kry-launcher", "aria-label": "打开" + this.opts.title,
      "aria-expanded": "false", "aria-controls": "kry-panel", onclick: function () { self.open(true); } },
    [chatIcon(), el("span", { text: "政策咨询" })]);

    this.messages = el("div", { className: "kry-messages", role: "log", "aria-live": "polite", "aria-label": "对话记录" });
    this.errorText = el("span", { className: "kry-error-text" });
    this.retryButton = el("button", { type: "button", className: "kry-retry", text: "重试", onclick: function () { self.retry(); } });
    this.errorBar = el("div", { className: "kry-error", role: "alert", hidden: true }, [this.errorText, this.retryButton]);
    this.input = el("textarea", { className: "kry-input", rows: "2", maxlength: "1000", "aria-label": "输入您的问题",
      placeholder: "请输入您的问题（Enter 发送，Shift+Enter 换行）" });
    this.input.value = this.draftStore.get() || "";
    this.input.addEventListener("input", function () { self.draftStore.set(self.input.value); });
    this.input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        self.submit();
      }
    });
    this.sendButton = el("button", { type: "submit", className: "kry-send", "aria-label": "发送", text: "发送" });
    this.stopButton = el("button", { type: "button", className: "kry-stop", "aria-label": "停止生成", text: "停止",
      hidden: true, onclick: function () { self.stop(); } });
    var form = el("form", { className: "kry-form", onsubmit: function (ev) { ev.preventDefault(); self.submit(); } },
      [this.input, this.sendButton, this.stopButton]);

    this.citationView = el("div", { className: "kry-overlay", role: "dialog", "aria-label": "引用原文", hidden: true });
    this.handoffView = el("div", { className: "kry-overlay", role: "dialog", "aria-label": "转人工服务", hidden: true });

    this.panel = el("section", { className: "kry-panel", id: "kry-panel", role: "dialog", "aria-label": this.opts.title,
      hidden: true }, [
      el("header", { className: "kry-header" }, [
        el("h2", { className: "kry-title", text: this.opts.title }),
        el("button", { type: "button", className: "kry-header-btn", text: "转人工", "aria-label": "转人工服务",
          onclick: function (ev) { self.showHandoff(ev.currentTarget); } }),
        el("button", { type: "button", className: "kry-header-btn", text: "新对话", "aria-label": "开始新对话",
          onclick: function () { self.reset(); } }),
        el("button", { type: "button", className: "kry-close", "aria-label": "关闭对话窗口", text: "×",
          onclick: function () { self.close(); } })
      ]),
      this.messages, this.errorBar, form,
      el("p", { className: "kry-disclaimer", text: "回答依据政策库整理，仅供参考，请以官方发布的政策原文为准。" }),
      this.citationView, this.handoffView
    ]);
    this.panel.addEventListener("keydown", function (ev) {
      if (ev.key !== "Escape") { return; }
      ev.stopPropagation();
      if (!self.citationView.hidden) { self.closeOverlay(self.citationView); }
      else if (!self.handoffView.hidden) { self.closeOverlay(self.handoffView); }
      else { self.close(); }
    });
    root.appendChild(this.launcher);
    root.appendChild(this.panel);
    shadow.appendChild(link);
    shadow.appendChild(root);
    document.body.appendChild(host);
    // Plugins (widget-match.js: the 政策匹配 tab) attach to the built panel, whichever loads first.
    var plugins = Array.isArray(window.KunruyiWidgetPlugins) ? window.KunruyiWidgetPlugins : [];
    window.KunruyiWidgetPlugins = { push: function (plugin) { plugin(self, el); } };
    plugins.forEach(function (plugin) { plugin(self, el); });
  };

  // --- opening and closing ---------------------------------------------------------------------

  Widget.prototype.open = function (focus) {
    this.panel.hidden = false;
    this.root.classList.add("kry-open");
    this.launcher.setAttribute("aria-expanded", "true");
    this.openStore.set("1");
    this.scrollToEnd();
    if (focus !== false) { this.input.focus(); }
  };

  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.root.classList.remove("kry-open");
    this.launcher.setAttribute("aria-expanded", "false");
    this.openStore.set(null);
    this.launcher.focus();
  };

  Widget.prototype.showOverlay = function (view, opener) {
    this.returnFocus = opener || null;
    view.hidden = false;
    var first = view.querySelector("button, a, input, textarea");
    if (first) { first.focus(); }
  };

  Widget.prototype.closeOverlay = function (view) {
    view.hidden = true;
    (this.returnFocus && this.returnFocus.isConnected ? this.returnFocus : this.input).focus();
    this.returnFocus = null;
  };

  Widget.prototype.scrollToEnd = function () { this.messages.scrollTop = this.messages.scrollHeight; };

  // --- messages --------------------------------------------------------------------------------

  Widget.prototype.showGreeting = function () {
    var self = this;
    var chips = this.opts.suggestions.map(function (q) {
      return el("button", { type: "button", className: "kry-chip", text: q, onclick: function () { self.send(q); } });
    });
    this.greeting = el("div", { className: "kry-msg kry-assistant kry-greeting" }, [
      el("div", { className: "kry-bubble" }, [el("p", { text: this.opts.greeting })]),
      chips.length ? el("div", { className: "kry-suggestions", role: "group", "aria-label": "推荐问题" }, chips) : null
    ]);
    this.messages.appendChild(this.greeting);
  };

  Widget.prototype.addUser = function (text, note) {
    var node = el("div", { className: "kry-msg kry-user" }, [
      el("div", { className: "kry-bubble", text: text }),
      note ? el("div", { className: "kry-note", text: note }) : null
    ]);
    this.messages.appendChild(node);
    this.scrollToEnd();
    return node;
  };

  Widget.prototype.addAssistant = function () {
    var message = { node: null, body: null, text: "", citations: [], id: null };
    message.body = el("div", { className: "kry-bubble kry-md" });
    message.node = el("div", { className: "kry-msg kry-assistant", "data-state": "waiting", "aria-busy": "true" },
      [message.body]);
    message.body.appendChild(el("span", { className: "kry-typing", text: "正在查找政策依据…" }));
    this.messages.appendChild(message.node);
    this.scrollToEnd();
    return message;
  };

  Widget.prototype.renderAnswer = function (message) {
    var self = this;
    var byNumber = {};
    (message.citations || []).forEach(function (c) { byNumber[c.n] = c; });
    var ctx = {
      citation: function (n) { return byNumber[n] || null; },
      open: function (n, opener) { self.showCitation(byNumber[n], opener); }
    };
    message.body.textContent = "";
    message.body.appendChild(renderMarkdown(message.text, ctx));
    return ctx;
  };

  Widget.prototype.finishAnswer = function (message, data) {
    var self = this;
    message.text = data.answer;
    message.citations = data.citations || [];
    message.id = data.message_id;
    this.renderAnswer(message);
    message.node.setAttribute("data-state", "done");
    message.node.removeAttribute("aria-busy");
    if (message.citations.length) {
      var items = message.citations.map(function (c) {
        var label = "[" + c.n + "] 《" + c.title + "》" + (c.article ? " " + c.article : "");
        return el("li", {}, [el("button", { type: "button", className: "kry-source", text: label,
          onclick: function (ev) { self.showCitation(c, ev.currentTarget); } })]);
      });
      message.node.appendChild(el("div", { className: "kry-sources" }, [
        el("p", { className: "kry-sources-title", text: "引用来源" }), el("ol", {}, items)]));
    }
    if (message.id) { message.node.appendChild(this.feedbackBar(message.id)); }
  };

  Widget.prototype.feedbackBar = function (messageId) {
    var self = this;
    var status = el("span", { className: "kry-feedback-status", role: "status" });
    var comment = el("input", { type: "text", className: "kry-comment", maxlength: "500", "aria-label": "补充说明（选填）",
      placeholder: "补充说明（选填）" });
    var rating = null;
    var commentForm = el("form", { className: "kry-comment-form", hidden: true, onsubmit: function (ev) {
      ev.preventDefault();
      var text = comment.value.trim();
      if (!text) { comment.focus(); return; }
      self.postFeedback(messageId, rating, text, status, "感谢您的补充说明！").then(function (ok) {
        if (ok) { commentForm.hidden = true; }
      });
    } }, [comment, el("button", { type: "submit", className: "kry-comment-send", text: "提交" })]);
    function rate(value) {
      return function (ev) {
        rating = value;
        Array.prototype.forEach.call(bar.querySelectorAll(".kry-thumb"), function (b) {
          b.setAttribute("aria-pressed", String(b === ev.currentTarget));
        });
        self.postFeedback(messageId, value, null, status, "感谢您的反馈！").then(function (ok) {
          if (ok) { commentForm.hidden = false; }
        });
      };
    }
    var bar = el("div", { className: "kry-feedback" }, [
      el("button", { type: "button", className: "kry-thumb", "aria-label": "有帮助", "aria-pressed": "false", text: "有帮助", onclick: rate("up") }),
      el("button", { type: "button", className: "kry-thumb", "aria-label": "没帮助", "aria-pressed": "false", text: "没帮助", onclick: rate("down") }),
      status, commentForm
    ]);
    return bar;
  };

  Widget.prototype.postFeedback = function (messageId, rating, comment, status, thanks) {
    return this.postJson("/api/feedback", { message_id: messageId, rating: rating, comment: comment })
      .then(function () { status.textContent = thanks; return true; })
      .catch(function (error) { status.textContent = error.message || MESSAGES.network; return false; });
  };

  Widget.prototype.postJson = function (path, body) {
    return fetch(this.api(path), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).catch(function () { throw failure("network", MESSAGES.network); })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (!resp.ok) { throw failure("http", data.message || MESSAGES.unavailable); }
          return data;
        });
      });
  };

  // --- asking ----------------------------------------------------------------------------------

  Widget.prototype.submit = function () {
    var text = this.input.value.trim();
    if (!text || this.controller) { return; }
    this.input.value = "";
    this.draftStore.set(null);
    this.send(text);
  };

  Widget.prototype.send = function (question, userNode) {
    if (this.controller) { return; }
    if (this.greeting) {
      var chips = this.greeting.querySelector(".kry-suggestions");
      if (chips) { chips.remove(); }
    }
    this.hideError();
    this.ask(question, userNode || this.addUser(question));
  };

  Widget.prototype.setBusy = function (busy) {
    this.sendButton.hidden = busy;
    this.stopButton.hidden = !busy;
  };

  Widget.prototype.ask = function (question, userNode) {
    var self = this;
    var message = this.addAssistant();
    var controller = new AbortController();
    var finished = false;
    this.controller = controller;
    this.setBusy(true);
    fetch(this.api("/api/chat/stream"), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify({ message: question, conversation_id: this.conversationId }),
      signal: controller.signal
    }).catch(function (error) {
      if (error && error.name === "AbortError") { throw error; }
      throw failure("network", MESSAGES.network);
    }).then(function (resp) {
      if (!resp.ok) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          var clientError = resp.status >= 400 && resp.status < 500 && resp.status !== 429 && resp.status !== 408;
          throw failure("http", data.message || MESSAGES.unavailable, !clientError);
        });
      }
      return readEvents(resp, function (name, data) {
        if (name === "meta") {
          self.remember(data.conversation_id);
          message.citations = data.citations || [];
        } else if (name === "delta") {
          message.text += data.text || "";
          message.node.setAttribute("data-state", "streaming");
          self.renderAnswer(message);
          self.scrollToEnd();
        } else if (name === "done") {
          finished = true;
          self.remember(data.conversation_id);
          self.finishAnswer(message, data);
          self.scrollToEnd();
        } else if (name === "error") {
          if (data.conversation_id) { self.remember(data.conversation_id); }
          throw failure("server", data.message || MESSAGES.unavailable);
        }
      }).catch(function (error) {
        if (error && (error.kind || error.name === "AbortError")) { throw error; }
        throw failure("interrupted", MESSAGES.interrupted);
      }).then(function () {
        if (!finished) { throw failure("interrupted", MESSAGES.interrupted); }
      });
    }).catch(function (error) {
      if (error && error.name === "AbortError") {
        message.node.setAttribute("data-state", "stopped");
        message.node.removeAttribute("aria-busy");
        if (!message.text) { message.body.textContent = ""; }
        message.node.appendChild(el("div", { className: "kry-note", text: "（已停止生成）" }));
        return;
      }
      self.fail(question, userNode, message, error);
    }).then(function () {
      self.controller = null;
      self.setBusy(false);
    });
  };

  Widget.prototype.stop = function () {
    if (this.controller) { this.controller.abort(); }
  };

  Widget.prototype.fail = function (question, userNode, message, error) {
    message.node.remove();
    this.failed = error.retryable ? { question: question, userNode: userNode } : null;
    if (!error.retryable) { userNode.remove(); }
    // The question is never lost: it goes back into the input unless something new was typed.
    if (!this.input.value.trim()) {
      this.input.value = question;
      this.draftStore.set(question);
    }
    this.errorText.textContent = error.message || MESSAGES.unavailable;
    this.retryButton.hidden = !error.retryable;
    this.errorBar.hidden = false;
  };

  Widget.prototype.hideError = function () {
    this.errorBar.hidden = true;
    this.failed = null;
  };

  Widget.prototype.retry = function () {
    var failed = this.failed;
    if (!failed || this.controller) { return; }
    if (this.input.value.trim() === failed.question) {
      this.input.value = "";
      this.draftStore.set(null);
    }
    this.send(failed.question, failed.userNode);
  };

  Widget.prototype.remember = function (conversationId) {
    if (conversationId && conversationId !== this.conversationId) {
      this.conversationId = conversationId;
      this.conversationStore.set(conversationId);
    }
  };

  Widget.prototype.reset = function () {
    this.stop();
    this.conversationId = null;
    this.conversationStore.set(null);
    this.hideError();
    this.messages.textContent = "";
    this.showGreeting();
    this.input.focus();
  };

  Widget.prototype.restore = function () {
    var self = this;
    this.showGreeting();
    var chips = this.greeting.querySelector(".kry-suggestions");
    fetch(this.api("/api/conversations/" + encodeURIComponent(this.conversationId)))
      .then(function (resp) {
        if (resp.status === 404) { self.conversationStore.set(null); self.conversationId = null; return; }
        if (!resp.ok) { throw new Error(String(resp.status)); }
        return resp.json().then(function (conversation) {
          var messages = conversation.messages || [];
          if (messages.length && chips) { chips.remove(); }
          messages.forEach(function (m) {
            if (m.role === "user") {
              self.addUser(m.content, m.status === "ok" ? null : "（此问题未获回答）");
            } else {
              var message = self.addAssistant();
              self.finishAnswer(message, { answer: m.content, citations: m.citations || [], message_id: m.id });
            }
          });
          self.scrollToEnd();
        });
      })
      .catch(function () {
        self.messages.appendChild(el("p", { className: "kry-note", role: "status", text: MESSAGES.restoreFailed }));
      });
  };

  // --- citation card ---------------------------------------------------------------------------

  Widget.prototype.documentLink = function (c) {
    var official = safeHttpUrl(c.url);
    if (official) { return { href: official, label: "查看官方原文" }; }
    var page = this.api("/documents/" + encodeURIComponent(c.doc_id)) + (c.chunk_id ? "#chunk-" + encodeURIComponent(c.chunk_id) : "");
    return { href: page, label: "查看文档全文" };
  };

  Widget.prototype.showCitation = function (c, opener) {
    var self = this;
    if (!c) { return; }
    var badges = [];
    if (c.sample) { badges.push(el("span", { className: "kry-badge kry-badge-sample", text: "示例" })); }
    if (c.expired) { badges.push(el("span", { className: "kry-badge kry-badge-expired", text: "已失效" })); }
    var validity = c.expired ? (c.expires ? "已于" + cnDate(c.expires) + "到期失效" : "已失效")
      : (c.expires ? "有效期至" + cnDate(c.expires) : "未标注有效期");
    var link = this.documentLink(c);
    var rows = [["文号", c.doc_number || "—"], ["条款", c.article || c.heading_path || "—"], ["有效期", validity]];
    var view = this.citationView;
    view.textContent = "";
    view.appendChild(el("div", { className: "kry-card" }, [
      el("div", { className: "kry-card-head" }, [
        el("h3", { className: "kry-card-title", text: "[" + c.n + "] " + c.title }),
        el("button", { type: "button", className: "kry-close", "aria-label": "关闭引用", text: "×",
          onclick: function () { self.closeOverlay(view); } })
      ]),
      badges.length ? el("p", { className: "kry-badges" }, badges) : null,
      el("dl", { className: "kry-meta" }, rows.reduce(function (nodes, row) {
        return nodes.concat([el("dt", { text: row[0] }), el("dd", { text: row[1] })]);
      }, [])),
      el("blockquote", { className: "kry-snippet", text: c.snippet || "" }),
      el("a", { className: "kry-doc-link", href: link.href, target: "_blank", rel: "noopener noreferrer", text: link.label })
    ]));
    this.showOverlay(view, opener);
  };

  // --- 转人工 -----------------------------------------------------------------------------------

  Widget.prototype.loadContact = function (target) {
    var self = this;
    if (this.contact) { target.textContent = this.contact; return; }
    fetch(this.api("/api/handoff/contact")).then(function (resp) { return resp.json(); })
      .then(function (data) {
        self.contact = data.contact + (data.hours ? "。服务时间：" + data.hours : "");
        target.textContent = self.contact;
      })
      .catch(function () { target.textContent = "昆山12345政务服务便民热线"; });
  };

  Widget.prototype.showHandoff = function (opener) {
    var self = this;
    var view = this.handoffView;
    var contact = el("p", { className: "kry-contact", text: "正在加载联系方式…" });
    var status = el("p", { className: "kry-handoff-status", role: "status" });
    function field(label, name, type, multiline) {
      var input = multiline ? el("textarea", { name: name, rows: "3", maxlength: "1000" })
        : el("input", { name: name, type: type || "text", maxlength: name === "phone" ? "30" : "100",
          autocomplete: { name: "name", phone: "tel", company: "organization" }[name] || "off" });
      return el("label", { className: "kry-field" }, [el("span", { text: label }), input]);
    }
    var form = el("form", { className: "kry-handoff-form", onsubmit: function (ev) {
      ev.preventDefault();
      self.submitHandoff(form, status);
    } }, [
      field("姓名（选填）", "name"), field("联系电话（选填）", "phone", "tel"), field("企业名称（选填）", "company"),
      field("问题说明（选填）", "note", null, true),
      el("button", { type: "submit", className: "kry-primary-btn", text: "提交转人工请求" }), status
    ]);
    view.textContent = "";
    view.appendChild(el("div", { className: "kry-card" }, [
      el("div", { className: "kry-card-head" }, [
        el("h3", { className: "kry-card-title", text: "转人工服务" }),
        el("button", { type: "button", className: "kry-close", "aria-label": "关闭转人工", text: "×",
          onclick: function () { self.closeOverlay(view); } })
      ]),
      el("p", { text: "您可以直接联系工作人员：" }), contact,
      el("p", { className: "kry-hint", text: this.conversationId
        ? "也可以留下联系方式，工作人员会查看您与助手的对话并与您联系。"
        : "也可以先在对话中描述您的问题，再留下联系方式，工作人员会查看对话并与您联系。" }),
      form
    ]));
    this.loadContact(contact);
    this.showOverlay(view, opener);
  };

  Widget.prototype.submitHandoff = function (form, status) {
    var view = this.handoffView;
    var values = {};
    ["name", "phone", "company", "note"].forEach(function (name) { values[name] = form.elements[name].value.trim(); });
    if (!this.conversationId) {
      status.textContent = "请先在对话中描述您的问题，再提交转人工请求。";
      return;
    }
    if (values.phone && !PHONE.test(values.phone)) {
      status.textContent = "电话号码格式不正确，请填写手机号或带区号的固定电话。";
      form.elements.phone.focus();
      return;
    }
    values.conversation_id = this.conversationId;
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    this.postJson("/api/handoff", values).then(function (data) {
      status.textContent = "已收到您的转人工请求（编号 " + data.id + "），工作人员会尽快与您联系。紧急事项请联系：" + data.contact;
      form.querySelectorAll("input, textarea").forEach(function (input) { input.disabled = true; });
      // The focused submit button is now disabled: keep focus (and Esc) inside the card.
      view.querySelector(".kry-close").focus();
    }).catch(function (error) {
      button.disabled = false;
      status.textContent = error.message;
    });
  };

  // --- start -----------------------------------------------------------------------------------

  function mount(config) {
    if (!config || document.querySelector("kunruyi-widget")) { return; }
    var start = function () { new Widget(config); };
    if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
  }

  var queued = Array.isArray(window.KunruyiWidget) ? window.KunruyiWidget : [];
  window.KunruyiWidget = { push: mount };
  queued.forEach(mount);
})();
