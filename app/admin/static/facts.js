/* 昆如意 staff console: the 政策条目 tab (issue 15). Loaded after console.js and admin.js; adds its own tab.
   Policy items extracted at ingest, to accept, edit or reject; coverage (share of documents with
   items, share of items reviewed). Server text is always set as text, never parsed as HTML. */
(function () {
  "use strict";

  var C = window.kunruyiConsole;
  var el = C.el, clear = C.clear, notice = C.notice;
  var REVIEW = { pending: "待审核", accepted: "已通过", edited: "已修改", rejected: "已驳回" };

  var api = C.api;

  function windowText(w) {
    w = w || {};
    if (w.recurring) return "每年 " + w.recurring.replace("/", " 至 ");
    if (w.start || w.end) return (w.start || "") + " 至 " + (w.end || "");
    return w.text || "—";
  }
  function conditionsText(conds) {
    return (conds || []).map(function (c) {
      if (!c.field) return "需人工确认：" + c.text;
      var v = Array.isArray(c.value) ? c.value.join("或") : c.value;
      return c.field + " " + c.op + " " + v;
    }).join("；");
  }

  var state = { doc: "", review: "" };
  var summary, table, filters;

  function build(tab) {
    summary = el("p", { className: "facts-coverage", id: "facts-coverage" });
    var docInput = el("input", { type: "search", id: "facts-doc", placeholder: "文档 doc_id（可选）", "aria-label": "按文档筛选" });
    var reviewSelect = el("select", { id: "facts-review", "aria-label": "按审核状态筛选" },
      el("option", { value: "", text: "全部状态" }),
      el("option", { value: "pending", text: "待审核" }), el("option", { value: "accepted", text: "已通过" }),
      el("option", { value: "edited", text: "已修改" }), el("option", { value: "rejected", text: "已驳回" }));
    filters = el("form", { className: "facts-filters", onsubmit: function (ev) {
      ev.preventDefault(); state.doc = docInput.value.trim(); state.review = reviewSelect.value; load();
    } }, docInput, reviewSelect, el("button", { type: "submit", text: "筛选" }));
    table = el("table", { className: "grid", id: "facts-table" },
      el("thead", {}, el("tr", {}, el("th", { text: "文档 / 条款" }), el("th", { text: "事项与金额" }),
        el("th", { text: "申报时间" }), el("th", { text: "条件" }), el("th", { text: "状态" }), el("th", { text: "操作" }))),
      el("tbody", {}));
    tab.appendChild(el("div", { className: "card" }, el("h2", { text: "政策条目（政策计算器）" }),
      el("p", { className: "hint", text: "入库时从条款中自动抽取的可申报事项。请核对金额、申报时间和条件：通过、修改或驳回；同一版本重新入库后审核结果保留。" }),
      summary, filters, table));
  }

  function review(item, decision, extra) {
    var body = Object.assign({ review: decision }, extra || {});
    return api("/facts/" + encodeURIComponent(item.item_id), { method: "PATCH", json: body })
      .then(function () { notice("已保存：" + item.title + " " + item.article + "（" + REVIEW[decision] + "）"); load(); })
      .catch(function (err) { notice(err.message, true); });
  }

  function editForm(item, cell) {
    var current = item.item || {};
    var amount = el("input", { type: "number", step: "any", min: "0", name: "amount_max_wan", value: current.amount_max_wan === null ? "" : current.amount_max_wan, "aria-label": "最高金额（万元）" });
    var amountText = el("input", { type: "text", name: "amount_text", value: current.amount_text || "", "aria-label": "金额说明" });
    var w = current.window || {};
    var start = el("input", { type: "date", name: "start", value: w.start || "", "aria-label": "开始日期" });
    var end = el("input", { type: "date", name: "end", value: w.end || "", "aria-label": "截止日期" });
    var note = el("input", { type: "text", name: "note", placeholder: "修改说明", "aria-label": "修改说明" });
    var form = el("form", { className: "facts-edit", onsubmit: function (ev) {
      ev.preventDefault();
      var extra = { amount_text: amountText.value, note: note.value || null,
                    window: { text: w.text || "", start: start.value || null, end: end.value || null,
                              recurring: start.value || end.value ? null : (w.recurring || null) } };
      if (amount.value !== "") extra.amount_max_wan = Number(amount.value);
      review(item, "edited", extra);
    } }, el("label", {}, "最高金额（万元）", amount), el("label", {}, "金额说明", amountText),
      el("label", {}, "开始", start), el("label", {}, "截止", end), note,
      el("button", { type: "submit", text: "保存修改" }));
    clear(cell).appendChild(form);
  }

  function row(item) {
    var current = item.item || {};
    var actions = el("td", { className: "facts-actions" },
      el("button", { type: "button", text: "通过", onclick: function () { review(item, "accepted"); } }),
      el("button", { type: "button", text: "修改", onclick: function (ev) { editForm(item, ev.currentTarget.parentNode); } }),
      el("button", { type: "button", className: "danger", text: "驳回", onclick: function () { review(item, "rejected", { note: "不是可申报事项或抽取有误" }); } }));
    return el("tr", { "data-item": item.item_id, "data-review": item.review },
      el("td", {}, el("a", { href: "/documents/" + encodeURIComponent(item.doc_id) + (current.chunk_id ? "#chunk-" + encodeURIComponent(current.chunk_id) : ""),
        target: "_blank", rel: "noopener", text: item.title }), el("br", {}), item.article),
      el("td", {}, (current.programme || "") + (current.benefit ? "（" + current.benefit + "）" : ""), el("br", {}),
        current.amount_text || (current.amount_max_wan ? "最高" + current.amount_max_wan + "万元" : "—")),
      el("td", {}, windowText(current.window)),
      el("td", { className: "facts-conds" }, conditionsText(current.conditions)),
      el("td", {}, REVIEW[item.review] || item.review, item.reviewer ? el("div", { className: "hint", text: item.reviewer }) : null),
      actions);
  }

  function load() {
    var params = [];
    if (state.doc) params.push("doc_id=" + encodeURIComponent(state.doc));
    if (state.review) params.push("review=" + encodeURIComponent(state.review));
    params.push("limit=500");
    return api("/facts?" + params.join("&")).then(function (data) {
      var c = data.coverage || {};
      summary.textContent = "覆盖率：" + (c.documents_with_items || 0) + "/" + (c.documents || 0) + " 份文档有条目（" +
        Math.round((c.share_documents_with_items || 0) * 100) + "%），共 " + (c.items || 0) + " 条，已审核 " +
        Math.round((c.share_items_reviewed || 0) * 100) + "%";
      var body = clear(table.querySelector("tbody"));
      (data.items || []).forEach(function (item) { body.appendChild(row(item)); });
      if (!(data.items || []).length) body.appendChild(el("tr", {}, el("td", { colspan: "6", text: "没有符合条件的条目" })));
    }).catch(function (err) { notice(err.message, true); });
  }

  C.registerTab("facts", "政策条目", build, load);
})();
