/* 昆如意 staff console: the 政策推送 tab (issue 17). Loaded after console.js and admin.js; adds its own tab.
   Batches of pushes with delivered/failed counts; a batch's recipients (sample) and approve /
   cancel; a test send to one's own OpenID. Server text is always set as text, never parsed as HTML. */
(function () {
  "use strict";

  var C = window.kunruyiConsole;
  var el = C.el, clear = C.clear, notice = C.notice;
  var STATUS = { review: "待审批", approved: "已批准", sending: "发送中", done: "已完成", cancelled: "已取消" };
  var PUSH = { queued: "排队", inflight: "发送中", sent: "已送达", failed: "失败", skipped: "未发送", unknown: "中断未确认" };
  var TRIGGER = { "new": "新政策上线", open: "申报开始", closing: "即将截止", expired: "政策到期", replaced: "政策替代" };

  function api(path, options) { return C.api("/pushes" + path, options); }

  var summary, table, detail;

  function counts(c) {
    c = c || {};
    return "送达 " + (c.sent || 0) + " · 失败 " + (c.failed || 0) + " · 排队 " + ((c.queued || 0) + (c.inflight || 0)) +
      " · 未发送 " + (c.skipped || 0) + (c.unknown ? " · 中断未确认 " + c.unknown : "");
  }

  function decide(id, action) {
    var label = action === "approve" ? "批准发送" : "取消";
    if (!window.confirm("确定" + label + "推送批次 #" + id + "？")) return;
    api("/" + id + "/" + action, { method: "POST" }).then(function () {
      notice("批次 #" + id + " 已" + (action === "approve" ? "批准，将由发送进程依次发出" : "取消"));
      load();
      show(id);
    }).catch(function (err) { notice(err.message, true); });
  }

  function show(id) {
    api("/" + id).then(function (b) {
      clear(detail);
      detail.appendChild(el("h3", { text: "批次 #" + b.id + "：" + (b.title || "") }));
      detail.appendChild(el("p", { text: (TRIGGER[b.trigger] || b.trigger) + " · " + (STATUS[b.status] || b.status) +
        " · 接收企业 " + b.subscribers + " 家，共 " + b.total + " 条 · " + counts(b.counts) }));
      if (b.status === "review") {
        detail.appendChild(el("div", { className: "pushes-actions editor-only" },
          el("button", { type: "button", text: "批准发送", onclick: function () { decide(b.id, "approve"); } }),
          el("button", { type: "button", className: "danger", text: "取消批次", onclick: function () { decide(b.id, "cancel"); } })));
      } else if (b.status === "approved" || b.status === "sending") {
        detail.appendChild(el("div", { className: "pushes-actions editor-only" },
          el("button", { type: "button", className: "danger", text: "停止剩余发送", onclick: function () { decide(b.id, "cancel"); } })));
      }
      var rows = el("tbody", {});
      (b.sample || []).forEach(function (r) {
        rows.appendChild(el("tr", {}, el("td", { text: r.subscriber + (r.channel === "wework" ? "（企业微信）" : "") }),
          el("td", { text: r.programme || r.title || "" }), el("td", { text: r.amount || "" }), el("td", { text: r.window || "" }),
          el("td", {}, el("a", { href: r.url || "#", target: "_blank", rel: "noopener", text: "条款页面" })),
          el("td", { text: (PUSH[r.status] || r.status) + (r.errcode ? "（" + r.errcode + "）" : "") + (r.error ? " " + r.error : "") })));
      });
      detail.appendChild(el("table", { className: "grid" },
        el("thead", {}, el("tr", {}, el("th", { text: "接收人" }), el("th", { text: "项目" }), el("th", { text: "金额" }),
          el("th", { text: "申报时间" }), el("th", { text: "链接" }), el("th", { text: "状态" }))), rows));
      detail.appendChild(el("p", { className: "hint", text: "以上为前 " + (b.sample || []).length + " 位接收人（OpenID 已部分隐藏）。" }));
    }).catch(function (err) { notice(err.message, true); });
  }

  function load() {
    api("").then(function (data) {
      var s = data.subscribers || {};
      summary.textContent = "订阅企业：有效 " + (s.active || 0) + " · 暂停 " + (s.paused || 0) + " · 已退订 " + (s.ended || 0) +
        " ｜ " + (data.review ? "批次需审批后发送" : "批次自动发送（未开启审批）") + " ｜ 每周上限 " +
        (data.weekly_limit || "不限") + " 条 ｜ 免打扰 " + (data.quiet_hours || "无") + (data.enabled ? "" : " ｜ 推送进程未启用");
      var body = clear(table.querySelector("tbody"));
      (data.batches || []).forEach(function (b) {
        body.appendChild(el("tr", {}, el("td", { text: "#" + b.id }), el("td", { text: b.title || b.key }),
          el("td", { text: TRIGGER[b.trigger] || b.trigger }), el("td", { text: STATUS[b.status] || b.status }),
          el("td", { text: counts(b.counts) }), el("td", { text: (b.created_at || "").slice(0, 16).replace("T", " ") }),
          el("td", {}, el("button", { type: "button", className: "link", text: "查看", onclick: function () { show(b.id); } }))));
      });
      if (!(data.batches || []).length) body.appendChild(el("tr", {}, el("td", { colspan: "7", text: "暂无推送批次" })));
    }).catch(function (err) { notice(err.message, true); });
  }

  function build(tab) {
    summary = el("p", { className: "pushes-summary", id: "pushes-summary" });
    table = el("table", { className: "grid", id: "pushes-table" },
      el("thead", {}, el("tr", {}, el("th", { text: "批次" }), el("th", { text: "内容" }), el("th", { text: "触发" }),
        el("th", { text: "状态" }), el("th", { text: "送达情况" }), el("th", { text: "创建时间" }), el("th", { text: "" }))),
      el("tbody", {}));
    detail = el("div", { className: "pushes-detail", id: "pushes-detail" });
    var openid = el("input", { type: "text", id: "pushes-openid", placeholder: "您自己的 OpenID / 企业微信 UserID", "aria-label": "测试接收人" });
    var channel = el("select", { id: "pushes-channel", "aria-label": "渠道" },
      el("option", { value: "wechat", text: "公众号" }), el("option", { value: "wework", text: "企业微信" }));
    var testForm = el("form", { className: "pushes-test editor-only", onsubmit: function (ev) {
      ev.preventDefault();
      api("/test", { method: "POST", json: { openid: openid.value.trim(), channel: channel.value } }).then(function (r) {
        notice(r.ok ? "测试消息已发送（" + r.via + "）" : "测试消息发送失败：" + (r.errcode || "") + " " + (r.error || ""), !r.ok);
      }).catch(function (err) { notice(err.message, true); });
    } }, openid, channel, el("button", { type: "submit", text: "发送测试消息" }));
    tab.appendChild(el("div", { className: "card" }, el("h2", { text: "政策推送" }),
      el("p", { className: "hint", text: "新政策上线、申报开始或即将截止、政策到期或被替代时，系统为符合条件的订阅企业生成推送批次。" +
        "请先查看接收人样例，再批准或取消；每位企业每周最多收到设定条数，免打扰时段不发送。" }),
      summary, table, detail));
    tab.appendChild(el("div", { className: "card" }, el("h2", { text: "测试发送" }),
      el("p", { className: "hint", text: "向您自己的微信发送一条样例推送，检查模板和链接是否正常。" }), testForm));
  }

  C.registerTab("pushes", "政策推送", build, load);
})();
