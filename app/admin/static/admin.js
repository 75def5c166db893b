/* 昆如意 staff console. Plain JS, no build step. All server text is rendered with textContent. */
(function () {
  "use strict";

  var C = window.kunruyiConsole;
  var $ = C.$, el = C.el, clear = C.clear, notice = C.notice, showError = C.showError, api = C.api, ApiError = C.ApiError;
  var CATEGORIES = { subsidy: "补贴奖励", land: "用地", procedure: "办事流程", talent: "人才", service: "服务", other: "其他" };
  // One status vocabulary (issue 16): 在用 / 处理中 / 已替换 / 已删除 / 待审核; 生效 only for a policy's validity.
  var DOC_STATUS = { active: "在用", indexing: "处理中", deleted: "已删除" };
  var VERSION_STATUS = { active: "在用", indexing: "处理中", superseded: "已替换", deleted: "已删除", rejected: "已退回" };
  var JOB_STATUS = { queued: "排队中", running: "处理中", done: "完成", failed: "失败", interrupted: "已中断" };
  var ITEM_STATUS = { queued: "排队中", indexing: "处理中", done: "已可检索", failed: "失败" };
  var ACTIONS = {
    upload: "上传", replace: "替换文件", edit_metadata: "修改元数据", "delete": "删除", reindex: "重新索引",
    indexed: "索引完成", job_retry: "重试任务", handoff_status: "更新转人工状态", "export": "导出会话",
    answer_create: "新增标注回复", answer_update: "修改标注回复", answer_delete: "删除标注回复",
    held_for_review: "提交审核", review_approve: "审核通过", review_reject: "审核退回", rollback: "回退版本"
  };
  var DETAIL_LABELS = {
    file: "文件", kind: "类型", chunks: "片段数", stored: "存储名", previous_source: "原文件", source: "文件",
    title: "标题", changes: "修改", cleared: "清除", documents: "文档数", all: "全部", handoff_id: "转人工编号",
    status: "状态", start: "开始", end: "结束", question: "问题", sources: "依据", answer_id: "标注编号",
    fields: "字段", reason: "原因", submitted_by: "提交人", to_version: "回退到版本"
  };
  /* An audit entry's detail as one readable line (never raw JSON). */
  function describe(detail) {
    return Object.keys(detail || {}).map(function (k) {
      var v = detail[k];
      if (Array.isArray(v)) v = v.join("、");
      else if (v && typeof v === "object") v = Object.keys(v).map(function (f) { return (DETAIL_LABELS[f] || f) + " " + v[f]; }).join("，");
      else if (v === true) v = "是";
      else if (v === false) v = "否";
      return (DETAIL_LABELS[k] || k) + "：" + v;
    }).join("；");
  }
  var HANDOFF = { "new": "待处理", contacted: "已联系", closed: "已关闭" };
  var REASONS = { no_evidence: "政策库无依据", model_not_found: "模型判断无依据", injection: "疑似注入", off_topic: "超出服务范围",
                  personal: "个人事务", cheating: "涉及虚报骗补", account_status: "查询个案办理进度" };
  var FIELDS = ["title", "doc_number", "issuer", "published", "effective_from", "expires", "category", "url"];

  var PAGE_SIZE = 50;
  var pages = {};  // list name -> page shown (0 = newest)

  var me = null;
  var current = null;

  function fmtTime(iso) { return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : ""; }

  /* Multipart upload with byte progress (fetch cannot report upload progress). */
  function send(path, form, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/admin" + path);
      xhr.setRequestHeader("Authorization", C.authorization());
      xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) onProgress(e.loaded / e.total); });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
        else reject(new ApiError(C.errorMessage(xhr.status, xhr.responseText), xhr.status));
      });
      xhr.addEventListener("error", function () { reject(new ApiError("网络错误，上传未完成", 0)); });
      xhr.send(form);
    });
  }

  // --- sign-in ------------------------------------------------------------------------------

  function signIn(candidate) {
    C.useToken(candidate);
    return api("/me").then(function (who) {
      me = who;
      C.keepToken();
      $("sign-in").hidden = true;
      $("console").hidden = false;
      $("who").hidden = false;
      $("who-name").textContent = who.name + "（" + (who.role === "editor" ? "编辑" : who.role === "reviewer" ? "审核" : "只读") + "）";
      $("upload-limit").textContent = String(who.upload_max_mb);
      document.body.classList.toggle("viewer", who.role !== "editor");
      loadDocuments();
    });
  }

  function signOut(message) {
    C.dropToken();
    me = null;
    $("console").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
  }

  // --- documents ----------------------------------------------------------------------------

  function loadDocuments() {
    var params = new URLSearchParams();
    [["q", "doc-search"], ["category", "doc-category"], ["status", "doc-status"], ["expired", "doc-expired"]]
      .forEach(function (pair) { var v = $(pair[1]).value; if (v) params.set(pair[0], v); });
    return paged("doc", "/documents?" + params.toString(), function (docs) {
      var body = $("doc-table").tBodies[0];
      clear(body);
      docs.forEach(function (d) {
        var status = DOC_STATUS[d.status] || d.status;
        if (d.status === "indexing" && d.serving) status += "（旧版本仍在用）";
        if (d.expired && d.status !== "deleted") status += " · 已失效";
        body.appendChild(el("tr", { "data-doc-id": d.doc_id },
          el("td", null, el("button", { type: "button", className: "link", text: d.title, onclick: function () { openDetail(d.doc_id); } })),
          el("td", { text: d.doc_number || "" }),
          el("td", { text: CATEGORIES[d.category] || d.category }),
          el("td", { text: d.issuer || "" }),
          el("td", { text: d.expires || "长期" }),
          el("td", { className: "status-" + d.status, text: status }),
          el("td", { text: "v" + d.version }),
          el("td", null, el("button", { type: "button", className: "secondary small", text: "详情", onclick: function () { openDetail(d.doc_id); } }))
        ));
      });
      $("doc-empty").hidden = docs.length > 0;
    }, loadDocuments).catch(showError);
  }

  /* Issue 16 (app/curation/static/curation.js listens): open a transcript, write a corrected answer. */
  function transcriptLink(id) {
    return el("button", { type: "button", className: "link transcript-link", text: "查看会话",
      onclick: function () { document.dispatchEvent(new CustomEvent("kunruyi:transcript", { detail: id })); } });
  }
  function correctLink(question) {
    return el("button", { type: "button", className: "link editor-only correct-link", text: "写标注回复",
      onclick: function () { document.dispatchEvent(new CustomEvent("kunruyi:correct", { detail: { question: question } })); } });
  }

  // --- paging: every list is fetched a page at a time (one row more tells whether a next page exists) ---

  function paged(name, path, render, reload) {
    var page = pages[name] || 0;
    var query = "limit=" + (PAGE_SIZE + 1) + "&offset=" + page * PAGE_SIZE;
    return api(path + (path.indexOf("?") >= 0 ? "&" : "?") + query).then(function (rows) {
      if (!rows.length && page > 0) { pages[name] = page - 1; return reload(); }
      render(rows.slice(0, PAGE_SIZE));
      renderPager(name, page, rows.length > PAGE_SIZE, reload);
    });
  }

  function renderPager(name, page, more, reload) {
    var box = $(name + "-pager");
    clear(box);
    box.hidden = page === 0 && !more;
    var prev = el("button", { type: "button", className: "secondary small", text: "上一页", "data-page": "prev",
                              onclick: function () { pages[name] = page - 1; reload(); } });
    var next = el("button", { type: "button", className: "secondary small", text: "下一页", "data-page": "next",
                              onclick: function () { pages[name] = page + 1; reload(); } });
    prev.disabled = page === 0;
    next.disabled = !more;
    box.appendChild(prev);
    box.appendChild(el("span", { className: "hint", text: "第 " + (page + 1) + " 页" }));
    box.appendChild(next);
  }

  function firstPage(name, load) { return function () { pages[name] = 0; load(); }; }

  function openDetail(docId) {
    return api("/documents/" + encodeURIComponent(docId)).then(function (doc) {
      current = doc;
      $("doc-detail").hidden = false;
      $("detail-title").textContent = doc.title;
      $("detail-meta").textContent = "doc_id：" + doc.doc_id + " · 文件：" + doc.source + " · 格式：" + doc.format +
        " · 状态：" + (DOC_STATUS[doc.status] || doc.status) + " · 版本 v" + doc.version + " · " + doc.chunk_count + " 个片段";
      var form = $("meta-form");
      FIELDS.forEach(function (name) { form.elements[name].value = doc[name] || ""; });
      form.elements.sample.checked = !!doc.sample;
      var deleted = doc.status === "deleted";
      Array.prototype.forEach.call(form.querySelectorAll(".actions button, .actions input"), function (b) { b.disabled = deleted; });

      var versions = $("version-table").tBodies[0];
      clear(versions);
      doc.versions.slice().reverse().forEach(function (v) {
        versions.appendChild(el("tr", null, el("td", { text: "v" + v.version }),
          el("td", { text: VERSION_STATUS[v.status] || v.status }), el("td", { text: v.source || v.title }),
          el("td", { text: String(v.chunk_count) }), el("td", { text: fmtTime(v.created_at) })));
      });
      var chunks = $("chunk-list");
      clear(chunks);
      $("chunk-count").textContent = String(doc.chunks.length);
      doc.chunks.forEach(function (c) {
        chunks.appendChild(el("li", { className: c.serving ? "" : "not-serving" },
          el("div", { className: "hint", text: (c.heading_path || c.article || "") + (c.serving ? "" : "（未在使用）") }),
          el("div", { text: c.text })));
      });
      $("doc-detail").scrollIntoView({ behavior: "smooth", block: "start" });
    }).catch(showError);
  }

  function changedMetadata() {
    var form = $("meta-form");
    var changes = {};
    FIELDS.forEach(function (name) {
      var value = form.elements[name].value.trim();
      var before = current[name] || "";
      if (value !== before) changes[name] = value === "" ? null : value;
    });
    if (form.elements.sample.checked !== !!current.sample) changes.sample = form.elements.sample.checked;
    return changes;
  }

  function saveMetadata(changes) {
    if (!Object.keys(changes).length) { notice("没有需要保存的修改"); return; }
    var docId = current.doc_id;
    api("/documents/" + encodeURIComponent(docId), { method: "PATCH", json: changes }).then(function (job) {
      notice("已保存，正在重新索引……");
      trackJob(job, $("detail-jobs"), "修改元数据", function () { openDetail(docId); });
    }).catch(showError);
  }

  function yesterday() {
    var d = new Date(Date.now() - 86400000);
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }

  // --- uploads and jobs ---------------------------------------------------------------------

  function jobLine(label) {
    var bar = el("progress", { max: "100", value: "0" });
    var text = el("span", { className: "job-text", text: "准备上传……" });
    var li = el("li", { className: "job" }, el("strong", { text: label }), bar, text);
    return { li: li, bar: bar, text: text };
  }

  function uploadFiles(files) {
    Array.prototype.forEach.call(files, function (file) {
      var line = jobLine(file.name);
      $("upload-list").prepend(line.li);
      var form = new FormData();
      form.append("files", file, file.name);
      send("/documents", form, function (share) {
        line.bar.value = Math.round(share * 30);
        line.text.textContent = "上传中 " + Math.round(share * 100) + "%";
      }).then(function (job) {
        follow(job, line, loadDocuments);
      }).catch(function (err) {
        line.li.classList.add("failed");
        line.bar.value = 0;
        line.text.textContent = "未上传：" + err.message;
      });
    });
  }

  function trackJob(job, list, label, onDone) {
    var line = jobLine(label);
    list.prepend(line.li);
    follow(job, line, onDone);
  }

  /* Poll a job until it ends, showing each file's state. */
  function follow(job, line, onDone) {
    var item = job.items[0] || { message: job.message };
    line.li.setAttribute("data-job-id", job.id);
    line.li.setAttribute("data-status", job.status);
    line.bar.value = 30 + Math.round(70 * (job.total ? job.done / job.total : 0));
    var parts = [JOB_STATUS[job.status] || job.status].concat(
      job.items.length > 1 ? [job.message] : [ITEM_STATUS[item.status], item.message]);
    // No repeated words ("排队中：排队中 · 排队中"): each distinct part once.
    line.text.textContent = parts.filter(function (p, i) { return p && parts.indexOf(p) === i; }).join(" · ");
    if (job.status === "done") {
      line.li.classList.add("done");
      line.bar.value = 100;
      if (onDone) onDone(job);
      return;
    }
    if (job.status === "failed" || job.status === "interrupted") {
      line.li.classList.add("failed");
      if (me && me.role === "editor") {
        line.li.appendChild(el("button", { type: "button", className: "secondary small", text: "重试", onclick: function (e) {
          e.target.remove();
          line.li.classList.remove("failed");
          api("/jobs/" + job.id + "/retry", { method: "POST" }).then(function (j) { follow(j, line, onDone); }).catch(showError);
        } }));
      }
      if (onDone) onDone(job);
      return;
    }
    setTimeout(function () {
      api("/jobs/" + job.id).then(function (j) { follow(j, line, onDone); }).catch(function (err) {
        line.text.textContent = "无法获取进度：" + err.message;
      });
    }, 800);
  }

  function bindDropZone() {
    var zone = $("drop-zone");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) { if (e.dataTransfer && e.dataTransfer.files.length) uploadFiles(e.dataTransfer.files); });
    $("file-input").addEventListener("change", function (e) { uploadFiles(e.target.files); e.target.value = ""; });
  }

  // --- insight ------------------------------------------------------------------------------

  function loadUnanswered() {
    paged("unanswered", "/insight/unanswered?days=" + $("unanswered-days").value, function (groups) {
      var body = $("unanswered-table").tBodies[0];
      clear(body);
      if (!groups.length) body.appendChild(el("tr", null, el("td", { colspan: "4", className: "hint", text: "暂无未能回答的问题" })));
      groups.forEach(function (g) {
        var others = g.examples.filter(function (q) { return q !== g.question; });
        body.appendChild(el("tr", null,
          el("td", null, el("div", { text: g.question }), others.length ? el("div", { className: "hint", text: "相似：" + others.join(" / ") }) : null, correctLink(g.question)),
          el("td", { text: String(g.count) }),
          el("td", { text: Object.keys(g.reasons).map(function (r) { return (REASONS[r] || r) + " " + g.reasons[r]; }).join("，") }),
          el("td", { text: fmtTime(g.last_at) })));
      });
    }, loadUnanswered).catch(showError);
  }

  function loadRatedDown() {
    paged("rated-down", "/insight/rated-down", function (rows) {
      var list = $("rated-down-list");
      clear(list);
      if (!rows.length) list.appendChild(el("p", { className: "hint", text: "暂无差评" }));
      rows.forEach(function (r) {
        var cites = el("ul", { className: "cites" });
        r.citations.forEach(function (c) { cites.appendChild(el("li", { text: "[" + c.n + "] " + c.title + (c.article ? " " + c.article : "") })); });
        list.appendChild(el("article", { className: "feedback" },
          el("div", { className: "hint" }, fmtTime(r.created_at) + " · ", transcriptLink(r.conversation_id), " ", correctLink(r.question)),
          el("p", null, el("strong", { text: "问：" }), r.question),
          el("p", null, el("strong", { text: "答：" }), r.answer),
          cites,
          el("p", { className: "comment" }, el("strong", { text: "用户意见：" }), r.comment || "（无）")));
      });
    }, loadRatedDown).catch(showError);
  }

  function loadHandoffs() {
    var status = $("handoff-status").value;
    paged("handoff", "/insight/handoffs" + (status ? "?status=" + status : ""), function (rows) {
      var body = $("handoff-table").tBodies[0];
      clear(body);
      rows.forEach(function (h) {
        var select = el("select", { "aria-label": "状态" });
        Object.keys(HANDOFF).forEach(function (k) {
          var opt = el("option", { value: k, text: HANDOFF[k] });
          if (k === h.status) opt.selected = true;
          select.appendChild(opt);
        });
        select.disabled = !me || me.role !== "editor";
        select.addEventListener("change", function () {
          api("/insight/handoffs/" + h.id, { method: "PATCH", json: { status: select.value } })
            .then(function () { notice("已更新转人工状态"); }).catch(showError);
        });
        body.appendChild(el("tr", null, el("td", { text: fmtTime(h.created_at) }), el("td", { text: h.name || "" }),
          el("td", { text: h.phone || "" }), el("td", { text: h.company || "" }), el("td", { text: h.note || "" }),
          el("td", null, select), el("td", null, transcriptLink(h.conversation_id))));
      });
    }, loadHandoffs).catch(showError);
  }

  function rangeQuery() {
    var params = new URLSearchParams();
    if ($("stats-start").value) params.set("start", $("stats-start").value);
    if ($("stats-end").value) params.set("end", $("stats-end").value);
    return params.toString();
  }

  function loadStats() {
    api("/insight/daily?" + rangeQuery()).then(function (rows) {
      var body = $("stats-table").tBodies[0];
      clear(body);
      rows.slice().reverse().forEach(function (r) {
        body.appendChild(el("tr", null, el("td", { text: r.day }), el("td", { text: String(r.questions) }),
          el("td", { text: String(r.refusals) }), el("td", { text: String(r.rated_down) }), el("td", { text: String(r.handoffs) })));
      });
    }).catch(showError);
  }

  function exportCsv() {
    api("/insight/export.csv?" + rangeQuery(), { raw: true }).then(function (res) {
      var name = (res.headers.get("Content-Disposition") || "").split("filename=")[1] || "conversations.csv";
      return res.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = el("a", { href: url, download: name.replace(/"/g, "") });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      });
    }).catch(showError);
  }

  function loadAudit() {
    paged("audit", "/audit", function (rows) {
      var body = $("audit-table").tBodies[0];
      clear(body);
      rows.forEach(function (a) {
        body.appendChild(el("tr", null, el("td", { text: fmtTime(a.at) }), el("td", { text: a.actor + "（" + ({ editor: "编辑", viewer: "只读", reviewer: "审核" }[a.role] || a.role) + "）" }),
          el("td", { text: ACTIONS[a.action] || a.action }), el("td", { text: a.doc_id || "" }),
          el("td", { text: a.version ? "v" + a.version : "" }), el("td", { text: describe(a.detail) })));
      });
    }, loadAudit).catch(showError);
  }

  var LOADERS = { docs: loadDocuments, unanswered: loadUnanswered, "rated-down": loadRatedDown, handoffs: loadHandoffs,
                  stats: loadStats, audit: loadAudit };

  function showTab(name) {
    C.selectTab(name);
    LOADERS[name]();
  }

  // --- wiring -------------------------------------------------------------------------------

  function init() {
    var categorySelects = [$("doc-category"), $("meta-form").elements.category];
    Object.keys(CATEGORIES).forEach(function (k) {
      categorySelects.forEach(function (s) { s.appendChild(el("option", { value: k, text: CATEGORIES[k] })); });
    });
    $("sign-in-form").addEventListener("submit", function (e) {
      e.preventDefault();
      $("sign-in-error").textContent = "";
      signIn($("token").value.trim()).then(function () { $("token").value = ""; })
        .catch(function (err) { signOut(err.message); });
    });
    $("sign-out").addEventListener("click", function () { signOut(""); });
    Array.prototype.forEach.call(document.querySelectorAll(".tabs button"), function (b) {
      b.addEventListener("click", function () { showTab(b.getAttribute("data-tab")); });
    });
    var timer = null;
    $("doc-search").addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(firstPage("doc", loadDocuments), 250); });
    ["doc-category", "doc-status", "doc-expired"].forEach(function (id) { $(id).addEventListener("change", firstPage("doc", loadDocuments)); });
    $("doc-refresh").addEventListener("click", loadDocuments);
    $("reindex-all").addEventListener("click", function () {
      if (!window.confirm("确定重新索引全部文档？文档多时需要较长时间，期间问答照常使用旧索引。")) return;
      api("/reindex", { method: "POST" }).then(function (job) {
        trackJob(job, $("upload-list"), "全部重新索引", loadDocuments);
      }).catch(showError);
    });
    $("detail-close").addEventListener("click", function () { $("doc-detail").hidden = true; current = null; });
    $("meta-form").addEventListener("submit", function (e) { e.preventDefault(); saveMetadata(changedMetadata()); });
    $("mark-expired").addEventListener("click", function () {
      if (window.confirm("将《" + current.title + "》的有效期设为昨天（标记为已失效）？")) saveMetadata({ expires: yesterday() });
    });
    $("reindex-one").addEventListener("click", function () {
      var docId = current.doc_id;
      api("/documents/" + encodeURIComponent(docId) + "/reindex", { method: "POST" }).then(function (job) {
        trackJob(job, $("detail-jobs"), "重新索引", function () { openDetail(docId); });
      }).catch(showError);
    });
    $("replace-input").addEventListener("change", function (e) {
      var file = e.target.files[0];
      e.target.value = "";
      if (!file || !current) return;
      var docId = current.doc_id;
      var line = jobLine("替换为 " + file.name);
      $("detail-jobs").prepend(line.li);
      var form = new FormData();
      form.append("file", file, file.name);
      send("/documents/" + encodeURIComponent(docId) + "/replace", form, function (share) { line.bar.value = Math.round(share * 30); })
        .then(function (job) { follow(job, line, function () { openDetail(docId); loadDocuments(); }); })
        .catch(function (err) { line.li.classList.add("failed"); line.text.textContent = "未上传：" + err.message; });
    });
    $("delete-doc").addEventListener("click", function () {
      var doc = current;
      if (!window.confirm("确定删除《" + doc.title + "》？删除后不再用于回答，记录和原文件保留备查。")) return;
      api("/documents/" + encodeURIComponent(doc.doc_id), { method: "DELETE" }).then(function () {
        notice("已删除《" + doc.title + "》");
        $("doc-detail").hidden = true;
        current = null;
        loadDocuments();
      }).catch(showError);
    });
    $("unanswered-refresh").addEventListener("click", loadUnanswered);
    $("unanswered-days").addEventListener("change", firstPage("unanswered", loadUnanswered));
    $("handoff-status").addEventListener("change", firstPage("handoff", loadHandoffs));
    $("stats-refresh").addEventListener("click", loadStats);
    $("export-csv").addEventListener("click", exportCsv);
    bindDropZone();
    C.onUnauthorized(signOut);
    if (C.token()) signIn(C.token()).catch(function (err) { signOut(err.message); });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
