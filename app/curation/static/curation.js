/* 昆如意 staff console, issue 16: 标注回复, 命中测试, 会话记录, 版本与审核, 数据看板.
   Loaded after console.js and admin.js; adds its own tabs. Server text is always set as text (never parsed as HTML);
   the dashboard's SVG comes from the server and is parsed with DOMParser as image/svg+xml. */
(function () {
  "use strict";

  var C = window.kunruyiConsole;
  var $ = C.$, el = C.el, clear = C.clear, notice = C.notice, showError = C.showError, api = C.api;
  var ANSWER_STATUS = { active: "在用", disabled: "已停用", review: "待审核" };
  var CONV_STATUS = { answered: "已回答", refused: "未能回答", fallback: "降级回答", curated: "工作人员答复",
                      rated_down: "差评", handed_off: "转人工" };
  var CHANNELS = { web: "网页", wechat_mp: "微信公众号", wework: "企业微信" };
  var HANDOFF = { "new": "待处理", contacted: "已联系", closed: "已关闭" };
  var TABS = [["answers", "标注回复"], ["trace", "命中测试"], ["log", "会话记录"], ["versions", "版本与审核"],
              ["dashboard", "数据看板"]];
  var me = null;
  var editing = null;  // answer id being edited

  function fmtTime(iso) {
    if (!iso) return "";
    var d = new Date(/Z|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
    return d.toLocaleString("zh-CN", { hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }
  function fmt(x, digits) { return x === null || x === undefined ? "—" : Number(x).toFixed(digits); }

  function whoAmI() {
    if (me) return Promise.resolve(me);
    return api("/me").then(function (who) {
      me = who;
      document.body.classList.toggle("reviewer", who.role === "reviewer");
      return me;
    });
  }
  function canEdit() { return me && me.role === "editor"; }

  // --- tabs ---------------------------------------------------------------------------------

  var LOADERS = {};
  function showTab(name) {
    C.selectTab(name);
    whoAmI().then(function () { return LOADERS[name] && LOADERS[name](); }).catch(showError);
  }

  function card(title) {
    var c = el("div", { className: "card" });
    if (title) c.appendChild(el("h2", { text: title }));
    return c;
  }

  // --- 标注回复 -------------------------------------------------------------------------------

  function sourceRow(value) {
    value = value || {};
    var row = el("div", { className: "source-row" },
      el("input", { name: "doc_id", placeholder: "文档编号（doc_id）", value: value.doc_id || "", "aria-label": "依据文档编号" }),
      el("input", { name: "article", placeholder: "条款，如 第三条（可不填）", value: value.article || "", "aria-label": "依据条款" }),
      el("button", { type: "button", className: "small secondary", text: "移除", onclick: function () { row.remove(); } }));
    return row;
  }

  function buildAnswers(tab) {
    var form = el("form", { id: "answer-form", className: "answer-form editor-only" },
      el("label", null, "用户的问题", el("textarea", { id: "answer-question", rows: "2", required: true, maxlength: "500" })),
      el("label", null, "标注答复（将以“工作人员答复（日期）”的形式优先回复该问题及相近问法）",
        el("textarea", { id: "answer-text", rows: "5", required: true, maxlength: "5000" })),
      el("div", { className: "hint", text: "依据文件与条款（至少一个；所引文件被替换、删除或失效后，该答复自动停用并回到待审核）" }),
      el("div", { id: "answer-sources" }),
      el("div", { className: "toolbar" },
        el("button", { type: "button", className: "secondary small", text: "添加依据", onclick: function () { $("answer-sources").appendChild(sourceRow()); } }),
        el("button", { type: "submit", id: "answer-save", text: "保存标注回复" }),
        el("button", { type: "button", id: "answer-cancel", className: "secondary", text: "清空", onclick: resetAnswerForm })));
    form.addEventListener("submit", function (e) { e.preventDefault(); saveAnswer(); });
    var formCard = card("写标注回复");
    formCard.classList.add("editor-only");
    formCard.appendChild(form);
    tab.appendChild(formCard);
    var list = card("标注回复列表");
    list.appendChild(el("div", { className: "toolbar" },
      el("select", { id: "answer-status", "aria-label": "状态", onchange: loadAnswers },
        el("option", { value: "", text: "全部状态" }), el("option", { value: "active", text: "在用" }),
        el("option", { value: "review", text: "待审核" }), el("option", { value: "disabled", text: "已停用" })),
      el("button", { type: "button", className: "secondary", text: "刷新", onclick: loadAnswers })));
    list.appendChild(el("table", { className: "grid", id: "answer-table" },
      el("thead", null, el("tr", null, el("th", { text: "问题" }), el("th", { text: "标注答复" }), el("th", { text: "依据" }),
        el("th", { text: "状态" }), el("th", { text: "命中" }), el("th", { text: "更新" }), el("th", { text: "" }))),
      el("tbody")));
    tab.appendChild(list);
    resetAnswerForm();
  }

  function resetAnswerForm() {
    editing = null;
    $("answer-question").value = "";
    $("answer-text").value = "";
    clear($("answer-sources")).appendChild(sourceRow());
    $("answer-save").textContent = "保存标注回复";
  }

  function fillAnswerForm(question, answer, sources, id) {
    editing = id || null;
    $("answer-question").value = question || "";
    $("answer-text").value = answer || "";
    var box = clear($("answer-sources"));
    (sources && sources.length ? sources : [{}]).forEach(function (s) { box.appendChild(sourceRow(s)); });
    $("answer-save").textContent = id ? "保存修改" : "保存标注回复";
    $("answer-text").focus();
  }

  function saveAnswer() {
    var sources = [];
    Array.prototype.forEach.call(document.querySelectorAll("#answer-sources .source-row"), function (row) {
      var docId = row.querySelector("[name=doc_id]").value.trim();
      if (docId) sources.push({ doc_id: docId, article: row.querySelector("[name=article]").value.trim() });
    });
    var body = { question: $("answer-question").value.trim(), answer: $("answer-text").value.trim(), sources: sources };
    if (!sources.length) { notice("请至少填写一个依据文件", true); return; }
    var request = editing ? api("/answers/" + editing, { method: "PATCH", json: body }) : api("/answers", { method: "POST", json: body });
    request.then(function (row) {
      notice((editing ? "已保存修改：" : "已保存标注回复：") + row.question);
      resetAnswerForm();
      loadAnswers();
    }).catch(showError);
  }

  function loadAnswers() {
    var status = $("answer-status").value;
    return api("/answers" + (status ? "?status=" + status : "")).then(function (rows) {
      var body = clear($("answer-table").tBodies[0]);
      if (!rows.length) body.appendChild(el("tr", null, el("td", { colspan: "7", className: "hint", text: "暂无标注回复" })));
      rows.forEach(function (a) {
        var actions = el("td", { className: "actions-cell" });
        if (canEdit()) {
          actions.appendChild(el("button", { type: "button", className: "link", text: "编辑", onclick: function () { fillAnswerForm(a.question, a.answer, a.sources, a.answer_id); } }));
          actions.appendChild(el("button", { type: "button", className: "link", text: a.status === "active" ? "停用" : "启用", onclick: function () {
            api("/answers/" + a.answer_id, { method: "PATCH", json: { status: a.status === "active" ? "disabled" : "active" } })
              .then(function () { notice(a.status === "active" ? "已停用" : "已启用"); loadAnswers(); }).catch(showError);
          } }));
          actions.appendChild(el("button", { type: "button", className: "link danger-link", text: "删除", onclick: function () {
            if (!window.confirm("确定删除这条标注回复？")) return;
            api("/answers/" + a.answer_id, { method: "DELETE" }).then(function () { notice("已删除"); loadAnswers(); }).catch(showError);
          } }));
        }
        body.appendChild(el("tr", { "data-answer-id": a.answer_id },
          el("td", { text: a.question }), el("td", { className: "pre", text: a.answer }),
          el("td", { text: a.sources.map(function (s) { return "《" + s.title + "》" + (s.article || ""); }).join("；") }),
          el("td", null, el("span", { className: "badge badge-" + a.status, text: a.status_label }),
            a.review_reason ? el("div", { className: "hint", text: a.review_reason }) : null),
          el("td", { text: String(a.hits) }), el("td", { className: "nowrap", text: fmtTime(a.updated_at) + " " + a.updated_by }),
          actions));
      });
    }).catch(showError);
  }

  // --- 命中测试 -------------------------------------------------------------------------------

  function buildTrace(tab) {
    var c = card("命中测试");
    c.appendChild(el("p", { className: "hint", text: "输入一个问题，查看助手如何理解、检索、判断能否回答，以及最终的答复。测试不会记录为会话。" }));
    var form = el("form", { id: "trace-form", className: "toolbar" },
      el("input", { id: "trace-message", type: "search", placeholder: "输入要测试的问题", required: true, maxlength: "1000", "aria-label": "测试问题" }),
      el("input", { id: "trace-conversation", placeholder: "会话编号（可选，测试追问）", "aria-label": "会话编号" }),
      el("button", { type: "submit", text: "测试" }));
    form.addEventListener("submit", function (e) { e.preventDefault(); runTrace(); });
    c.appendChild(form);
    c.appendChild(el("div", { id: "trace-result" }));
    tab.appendChild(c);
  }

  function runTrace() {
    var out = clear($("trace-result"));
    out.appendChild(el("p", { className: "hint", text: "测试中…" }));
    var body = { message: $("trace-message").value.trim() };
    if ($("trace-conversation").value.trim()) body.conversation_id = $("trace-conversation").value.trim();
    api("/retrieval-test", { method: "POST", json: body }).then(function (t) {
      clear(out);
      var d = t.decision;
      out.appendChild(el("dl", { className: "facts" },
        el("dt", { text: "独立问题（改写）" }), el("dd", { id: "trace-standalone", text: t.standalone + (t.follow_up ? "（追问，已补全上文主题）" : "") }),
        el("dt", { text: "能否回答" }), el("dd", { id: "trace-decision", className: d.answerable ? "ok" : "bad", text: d.label + "：" + d.why }),
        el("dt", { text: "标注回复" }), el("dd", { id: "trace-curated", text: t.curated.winner
          ? "命中「" + t.curated.winner.question + "」（相似度 " + fmt(t.curated.winner.similarity, 3) + "，阈值 " + fmt(t.curated.threshold, 3) + "）"
          : "无（阈值 " + fmt(t.curated.threshold, 3) + "）" })));
      if (t.curated.candidates.length) {
        var cands = el("ul", { className: "cites" });
        t.curated.candidates.forEach(function (x) {
          cands.appendChild(el("li", { text: (x.accepted ? "✔ " : "✘ ") + x.question + " · 相似度 " + fmt(x.similarity, 3) + (x.reason ? " · " + x.reason : "") }));
        });
        out.appendChild(cands);
      }
      var checks = el("ul", { className: "checks" });
      t.evidence.checks.forEach(function (c) { checks.appendChild(el("li", { className: c.ok ? "ok" : "bad", text: (c.ok ? "通过 · " : "未通过 · ") + c.name + "：" + c.detail })); });
      out.appendChild(el("h3", { text: "可回答性检查" }));
      out.appendChild(checks);
      out.appendChild(el("h3", { text: "检索到的片段（按融合得分排序）" }));
      var table = el("table", { className: "grid", id: "trace-passages" },
        el("thead", null, el("tr", null, el("th", { text: "#" }), el("th", { text: "文件与条款" }), el("th", { text: "向量" }),
          el("th", { text: "关键词" }), el("th", { text: "融合" }), el("th", { text: "片段" }))), el("tbody"));
      t.passages.forEach(function (p) {
        table.tBodies[0].appendChild(el("tr", null, el("td", { text: String(p.rank) }),
          el("td", { text: "《" + p.title + "》" + (p.article || "") + (p.expired ? "（已失效）" : "") }),
          el("td", { text: fmt(p.dense, 3) }), el("td", { text: fmt(p.keyword, 2) }), el("td", { text: fmt(p.fused, 4) }),
          el("td", { className: "snippet", text: p.text })));
      });
      if (!t.passages.length) table.tBodies[0].appendChild(el("tr", null, el("td", { colspan: "6", className: "hint", text: "没有检索到片段" })));
      out.appendChild(table);
      out.appendChild(el("h3", { text: "最终答复" }));
      out.appendChild(el("div", { id: "trace-answer", className: "pre answer-box", text: t.answer.text }));
      out.appendChild(el("p", { className: "hint", text: "耗时 " + t.elapsed_ms + " 毫秒 · 未记录为会话" }));
    }).catch(function (err) { clear(out); showError(err); });
  }

  // --- 会话记录 -------------------------------------------------------------------------------

  var logPage = 0;
  var LOG_SIZE = 30;

  function buildLog(tab) {
    var c = card("会话记录");
    var channel = el("select", { id: "log-channel", "aria-label": "渠道" }, el("option", { value: "", text: "全部渠道" }));
    Object.keys(CHANNELS).forEach(function (k) { channel.appendChild(el("option", { value: k, text: CHANNELS[k] })); });
    var status = el("select", { id: "log-status", "aria-label": "结果" }, el("option", { value: "", text: "全部结果" }));
    Object.keys(CONV_STATUS).forEach(function (k) { status.appendChild(el("option", { value: k, text: CONV_STATUS[k] })); });
    c.appendChild(el("div", { className: "toolbar" }, channel, status,
      el("label", null, "开始", el("input", { id: "log-since", type: "date" })),
      el("label", null, "结束", el("input", { id: "log-until", type: "date" })),
      el("button", { type: "button", text: "查询", onclick: function () { logPage = 0; loadLog(); } })));
    c.appendChild(el("table", { className: "grid", id: "log-table" },
      el("thead", null, el("tr", null, el("th", { text: "时间" }), el("th", { text: "渠道" }), el("th", { text: "第一个问题" }),
        el("th", { text: "提问" }), el("th", { text: "结果" }), el("th", { text: "" }))), el("tbody")));
    c.appendChild(el("div", { id: "log-pager", className: "pager" }));
    tab.appendChild(c);
    var t = card(null);
    t.id = "transcript";
    t.hidden = true;
    tab.appendChild(t);
  }

  function loadLog() {
    var params = new URLSearchParams({ limit: String(LOG_SIZE), offset: String(logPage * LOG_SIZE) });
    [["channel", "log-channel"], ["status", "log-status"], ["since", "log-since"], ["until", "log-until"]].forEach(function (p) {
      if ($(p[1]).value) params.set(p[0], $(p[1]).value);
    });
    return api("/conversations?" + params.toString(), { withTotal: true }).then(function (res) {
      var body = clear($("log-table").tBodies[0]);
      if (!res.rows.length) body.appendChild(el("tr", null, el("td", { colspan: "6", className: "hint", text: "没有符合条件的会话" })));
      res.rows.forEach(function (r) {
        body.appendChild(el("tr", { "data-conversation-id": r.id },
          el("td", { className: "nowrap", text: fmtTime(r.updated_at) }), el("td", { text: r.channel_label }),
          el("td", { text: r.first_question }), el("td", { text: String(r.questions) }), el("td", { text: r.labels.join("、") }),
          el("td", null, el("button", { type: "button", className: "link", text: "查看会话", onclick: function () { openTranscript(r.id); } }))));
      });
      var pager = clear($("log-pager"));
      var pages = Math.max(1, Math.ceil(res.total / LOG_SIZE));
      pager.appendChild(el("button", { type: "button", className: "small secondary", text: "上一页", disabled: logPage === 0, onclick: function () { logPage--; loadLog(); } }));
      pager.appendChild(el("span", { text: "第 " + (logPage + 1) + " / " + pages + " 页，共 " + res.total + " 个会话" }));
      pager.appendChild(el("button", { type: "button", className: "small secondary", text: "下一页", disabled: logPage + 1 >= pages, onclick: function () { logPage++; loadLog(); } }));
    }).catch(showError);
  }

  function openTranscript(id) {
    var box = $("transcript");
    return api("/conversations/" + encodeURIComponent(id)).then(function (t) {
      clear(box);
      box.hidden = false;
      box.appendChild(el("div", { className: "detail-head" }, el("h2", { text: "会话记录 · " + t.channel_label + " · " + fmtTime(t.created_at) }),
        el("button", { type: "button", className: "link", text: "关闭", onclick: function () { box.hidden = true; } })));
      t.handoffs.forEach(function (h) {
        box.appendChild(el("p", { className: "handoff-note", text: "转人工（" + (HANDOFF[h.status] || h.status) + "）：" +
          [h.name, h.phone, h.company, h.note].filter(Boolean).join(" · ") + " · " + fmtTime(h.created_at) }));
      });
      var list = el("ol", { className: "transcript", id: "transcript-messages" });
      var lastQuestion = "";
      t.messages.forEach(function (m) {
        if (m.role === "user") {
          lastQuestion = m.content;
          list.appendChild(el("li", { className: "msg user" }, el("div", { className: "who", text: "用户 · " + fmtTime(m.created_at) }),
            el("div", { className: "pre", text: m.content })));
          return;
        }
        var question = lastQuestion;
        var cites = el("ul", { className: "cites" });
        (m.citations || []).forEach(function (c) { cites.appendChild(el("li", { text: "[" + c.n + "] 《" + c.title + "》" + (c.doc_number ? "（" + c.doc_number + "）" : "") + (c.article || "") })); });
        list.appendChild(el("li", { className: "msg assistant kind-" + m.kind },
          el("div", { className: "who", text: "助手 · " + m.kind_label + (m.latency_ms ? " · " + Math.round(m.latency_ms) + " 毫秒" : "") +
            (m.rating ? " · 用户评价：" + (m.rating === "up" ? "有帮助" : "没帮助") : "") }),
          el("div", { className: "pre", text: m.content }), cites,
          m.comment ? el("p", { className: "comment", text: "用户意见：" + m.comment }) : null,
          canEdit() ? el("button", { type: "button", className: "small secondary", text: "写标注回复", onclick: function () {
            showTab("answers");
            fillAnswerForm(question, "", m.citations.map(function (c) { return { doc_id: c.doc_id, article: c.article }; }));
          } }) : null));
      });
      box.appendChild(list);
      box.scrollIntoView();
    }).catch(showError);
  }

  // --- 版本与审核 -----------------------------------------------------------------------------

  function buildVersions(tab) {
    var review = card("待审核的版本");
    review.id = "review-card";
    review.appendChild(el("p", { id: "review-state", className: "hint" }));
    review.appendChild(el("table", { className: "grid", id: "review-table" },
      el("thead", null, el("tr", null, el("th", { text: "文档" }), el("th", { text: "版本" }), el("th", { text: "文件" }),
        el("th", { text: "提交人" }), el("th", { text: "提交时间" }), el("th", { text: "" }))), el("tbody")));
    tab.appendChild(review);
    var versions = card("版本历史与对比");
    versions.appendChild(el("div", { className: "toolbar" },
      el("input", { id: "version-doc", placeholder: "文档编号（doc_id）", "aria-label": "文档编号", list: "version-doc-list" }),
      el("datalist", { id: "version-doc-list" }),
      el("button", { type: "button", id: "version-load", text: "查看版本", onclick: function () { loadVersions($("version-doc").value.trim()); } })));
    versions.appendChild(el("table", { className: "grid", id: "version-history" },
      el("thead", null, el("tr", null, el("th", { text: "对比自" }), el("th", { text: "对比到" }), el("th", { text: "版本" }),
        el("th", { text: "状态" }), el("th", { text: "文件" }), el("th", { text: "时间" }), el("th", { text: "" }))), el("tbody")));
    versions.appendChild(el("div", { className: "toolbar" },
      el("button", { type: "button", id: "diff-run", className: "secondary", text: "对比所选版本", onclick: runDiff })));
    versions.appendChild(el("div", { id: "diff-result" }));
    tab.appendChild(versions);
  }

  function loadReviews() {
    return api("/reviews").then(function (r) {
      $("review-state").textContent = r.enabled ? "已开启“发布前审核”：新上传或替换的文件需审核员通过后才会用于回答。"
        : "未开启“发布前审核”（设置 KUNRUYI_REVIEW_BEFORE_PUBLISH=true 后生效），上传的文件建立索引后即用于回答。";
      var body = clear($("review-table").tBodies[0]);
      if (!r.pending.length) body.appendChild(el("tr", null, el("td", { colspan: "6", className: "hint", text: "没有待审核的版本" })));
      r.pending.forEach(function (p) {
        var actions = el("td", { className: "reviewer-only" });
        var reason = el("input", { placeholder: "退回原因", "aria-label": "退回原因", className: "reason" });
        actions.appendChild(el("button", { type: "button", className: "small", text: "通过", onclick: function () {
          api("/documents/" + encodeURIComponent(p.doc_id) + "/approve", { method: "POST" }).then(function (job) {
            notice("已通过《" + p.title + "》v" + p.version + "，正在发布…");
            followJob(job.id, function () { notice("《" + p.title + "》v" + p.version + " 已发布，可检索"); loadReviews(); });
          }).catch(showError);
        } }));
        actions.appendChild(reason);
        actions.appendChild(el("button", { type: "button", className: "small danger", text: "退回", onclick: function () {
          if (!reason.value.trim()) { notice("请填写退回原因", true); reason.focus(); return; }
          api("/documents/" + encodeURIComponent(p.doc_id) + "/reject", { method: "POST", json: { reason: reason.value.trim() } })
            .then(function () { notice("已退回《" + p.title + "》v" + p.version); loadReviews(); }).catch(showError);
        } }));
        body.appendChild(el("tr", { "data-doc-id": p.doc_id },
          el("td", null, el("button", { type: "button", className: "link", text: p.title, onclick: function () { $("version-doc").value = p.doc_id; loadVersions(p.doc_id); } })),
          el("td", { text: "v" + p.version }), el("td", { text: p.source }), el("td", { text: p.submitted_by }),
          el("td", { className: "nowrap", text: fmtTime(p.created_at) }), actions));
      });
    });
  }

  function loadVersionsTab() {
    api("/documents?limit=5000").then(function (docs) {
      var list = clear($("version-doc-list"));
      docs.forEach(function (d) { list.appendChild(el("option", { value: d.doc_id, text: d.title })); });
    }).catch(function () {});
    return loadReviews();
  }

  function loadVersions(docId) {
    if (!docId) return;
    clear($("diff-result"));
    // The rollback buttons depend on the role: know it before rendering (a slow /me hid them).
    return whoAmI().then(function () {
      return api("/documents/" + encodeURIComponent(docId) + "/versions");
    }).then(function (rows) {
      var body = clear($("version-history").tBodies[0]);
      body.setAttribute("data-doc-id", docId);
      rows.forEach(function (v, i) {
        var rollback = null;
        if (canEdit() && !v.serving && v.diffable && v.status !== "pending") {
          rollback = el("button", { type: "button", className: "small secondary", text: "回退到此版本", onclick: function () {
            if (!window.confirm("确定让 v" + v.version + " 重新生效？将按该版本的原文件重新建立索引，作为新版本发布。")) return;
            api("/documents/" + encodeURIComponent(docId) + "/rollback", { method: "POST", json: { version: v.version } }).then(function (job) {
              notice("正在回退到 v" + v.version + "…");
              followJob(job.id, function () { notice("已回退：v" + v.version + " 的内容重新在用"); loadVersions(docId); });
            }).catch(showError);
          } });
        }
        body.appendChild(el("tr", { "data-version": String(v.version) },
          el("td", null, el("input", { type: "radio", name: "diff-from", value: String(v.version), "aria-label": "对比自 v" + v.version, checked: i === rows.length - 2, disabled: !v.diffable })),
          el("td", null, el("input", { type: "radio", name: "diff-to", value: String(v.version), "aria-label": "对比到 v" + v.version, checked: i === rows.length - 1, disabled: !v.diffable })),
          el("td", { text: "v" + v.version }),
          el("td", null, el("span", { className: "badge badge-" + v.status, text: v.status_label }), v.reason ? el("div", { className: "hint", text: "退回原因：" + v.reason }) : null),
          el("td", { text: v.source }), el("td", { className: "nowrap", text: fmtTime(v.created_at) }), el("td", null, rollback)));
      });
    }).catch(showError);
  }

  function runDiff() {
    var docId = $("version-history").tBodies[0].getAttribute("data-doc-id");
    var from = document.querySelector("input[name=diff-from]:checked");
    var to = document.querySelector("input[name=diff-to]:checked");
    if (!docId || !from || !to) { notice("请选择要对比的两个版本", true); return; }
    api("/documents/" + encodeURIComponent(docId) + "/diff?from=" + from.value + "&to=" + to.value).then(function (d) {
      var out = clear($("diff-result"));
      out.appendChild(el("p", { className: "hint", id: "diff-summary", text: d.same ? "两个版本的正文相同" : "v" + d.from + " → v" + d.to + "：新增 " + d.added + " 行，删除 " + d.removed + " 行" }));
      var pre = el("div", { className: "diff", id: "diff-lines" });
      d.lines.forEach(function (l) {
        var cls = l.op === "+" ? "add" : l.op === "-" ? "del" : l.op === "@" ? "hunk" : "same";
        pre.appendChild(el("div", { className: "line " + cls, text: (l.op === "@" ? "" : l.op + " ") + l.text }));
      });
      out.appendChild(pre);
    }).catch(showError);
  }

  function followJob(id, done) {
    api("/jobs/" + id).then(function (job) {
      if (job.status === "queued" || job.status === "running") { setTimeout(function () { followJob(id, done); }, 500); return; }
      if (job.status === "done") done(job);
      else notice("任务失败：" + job.message, true);
    }).catch(showError);
  }

  // --- 数据看板 -------------------------------------------------------------------------------

  function buildDashboard(tab) {
    var c = card("数据看板");
    c.appendChild(el("div", { className: "toolbar" },
      el("label", null, "最近", el("select", { id: "dash-days", onchange: loadDashboard },
        el("option", { value: "7", text: "7" }), el("option", { value: "30", text: "30", selected: true }), el("option", { value: "90", text: "90" })), "天")));
    c.appendChild(el("div", { id: "dash-totals", className: "totals" }));
    c.appendChild(el("div", { id: "dash-charts", className: "charts" }));
    tab.appendChild(c);
  }

  function svgNode(markup) {
    var doc = new DOMParser().parseFromString(markup, "image/svg+xml");
    return document.importNode(doc.documentElement, true);
  }

  function loadDashboard() {
    return api("/dashboard?days=" + $("dash-days").value).then(function (d) {
      var totals = clear($("dash-totals"));
      var s = d.satisfaction;
      [["提问", d.totals.questions], ["已回答", d.totals.answered], ["未能回答", d.totals.refused], ["转人工", d.totals.handed_off],
       ["满意率", s.rate === null ? "暂无评价" : Math.round(s.rate * 100) + "%（" + s.up + " 有帮助 / " + s.down + " 没帮助）"],
       ["平均耗时", d.latency.average_ms === null ? "—" : Math.round(d.latency.average_ms) + " 毫秒"]].forEach(function (t) {
        totals.appendChild(el("div", { className: "total" }, el("div", { className: "hint", text: t[0] }), el("strong", { text: String(t[1]) })));
      });
      var charts = clear($("dash-charts"));
      [["questions", "每日提问数（按渠道）"], ["outcomes", "已回答 / 未能回答 / 转人工"], ["satisfaction", "满意率"],
       ["latency", "平均回答耗时"], ["top_questions", "热门问题"], ["top_unanswered", "未能回答的热门问题"]].forEach(function (c) {
        charts.appendChild(el("figure", { className: "chart", "data-chart": c[0] }, el("figcaption", { text: c[1] }), svgNode(d.charts[c[0]])));
      });
    }).catch(showError);
  }

  // --- the documents tab (admin.js): 待审核 in the list, a link to versions from the detail -----

  var reviewCache = { at: 0, pending: null };
  function pendingDocs() {
    if (reviewCache.pending && Date.now() - reviewCache.at < 3000) return Promise.resolve(reviewCache.pending);
    return api("/reviews").then(function (r) {
      reviewCache = { at: Date.now(), pending: r.pending.map(function (p) { return p.doc_id; }) };
      return reviewCache.pending;
    });
  }

  function markPending() {
    var body = $("doc-table") && $("doc-table").tBodies[0];
    if (!body || !body.rows.length || !C.token()) return;
    pendingDocs().then(function (ids) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var cell = row.cells[5];
        if (!cell || ids.indexOf(row.getAttribute("data-doc-id")) < 0 || cell.getAttribute("data-review")) return;
        cell.setAttribute("data-review", "pending");
        cell.textContent = "待审核" + (cell.textContent.indexOf("旧版本") >= 0 ? "（旧版本仍在用）" : "");
      });
    }).catch(function () {});
  }

  function watchDocuments() {
    var table = $("doc-table");
    var detail = $("doc-detail");
    if (!table || !detail) return;
    new MutationObserver(markPending).observe(table.tBodies[0], { childList: true });
    var docId = null;
    table.addEventListener("click", function (e) {
      var row = e.target.closest && e.target.closest("tr[data-doc-id]");
      if (row) docId = row.getAttribute("data-doc-id");
    });
    var head = detail.querySelector(".detail-head");
    if (head) {
      head.insertBefore(el("button", { type: "button", id: "detail-versions", className: "link", text: "版本对比与回退", onclick: function () {
        if (!docId) return;
        showTab("versions");
        $("version-doc").value = docId;
        loadVersions(docId);
      } }), head.lastElementChild);
    }
  }

  // --- wiring -------------------------------------------------------------------------------

  function init() {
    if (!document.querySelector("#console .tabs")) return;
    var builders = { answers: buildAnswers, trace: buildTrace, log: buildLog, versions: buildVersions, dashboard: buildDashboard };
    LOADERS = { answers: loadAnswers, trace: function () {}, log: loadLog, versions: loadVersionsTab, dashboard: loadDashboard };
    TABS.forEach(function (t) {
      builders[t[0]](C.addTab(t[0], t[1], showTab));
    });
    // Links from admin.js rows (转人工, 差评, 未解决问题).
    document.addEventListener("kunruyi:transcript", function (e) { showTab("log"); openTranscript(e.detail); });
    document.addEventListener("kunruyi:correct", function (e) {
      showTab("answers");
      fillAnswerForm(e.detail && e.detail.question, "", []);
    });
    watchDocuments();
    // The signed-in role can change (sign out, another token): ask again on the next tab.
    var signOut = $("sign-out");
    if (signOut) signOut.addEventListener("click", function () { me = null; document.body.classList.remove("reviewer"); });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
