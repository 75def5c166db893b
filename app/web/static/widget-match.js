/* 昆如意 widget plugin: the 政策匹配 tab (政策计算器, issue 15).
 * A short company form → POST /api/match → result cards (amount, window, conditions met/unmet,
 * a link to the article); "本月可申报" from GET /api/calendar. The profile stays in this browser
 * (localStorage) only when the user ticks 保存; nothing personal is asked for.
 * Text from the server is put in with textContent only; links only to the assistant's own pages. */
(function () {
  "use strict";

  var DISTRICTS = ["玉山镇", "巴城镇", "周市镇", "陆家镇", "花桥镇", "花桥经济开发区", "张浦镇", "千灯镇", "淀山湖镇",
    "周庄镇", "锦溪镇", "昆山开发区", "昆山高新区", "苏州工业园区", "苏州高新区", "吴中区", "相城区", "姑苏区", "吴江区",
    "常熟市", "张家港市", "太仓市"];
  var INDUSTRIES = ["C 制造业", "I 信息传输、软件和信息技术服务业", "M 科学研究和技术服务业", "F 批发和零售业",
    "L 租赁和商务服务业", "G 交通运输、仓储和邮政业", "E 建筑业", "H 住宿和餐饮业", "A 农、林、牧、渔业", "B 采矿业",
    "D 电力、热力、燃气及水生产和供应业", "J 金融业", "K 房地产业", "N 水利、环境和公共设施管理业",
    "O 居民服务、修理和其他服务业", "P 教育", "Q 卫生和社会工作", "R 文化、体育和娱乐业"];
  var TYPES = ["规上工业", "高新技术企业", "专精特新", "小巨人", "创新型中小企业", "科技型中小企业", "外资", "总部企业"];
  var EVENTS = ["招用高校毕业生", "招用就业困难人员", "购置设备", "拿地", "引进人才", "首次认定", "重新认定", "新引进",
    "研发费用增长", "首台套认定", "智能制造示范认定", "获得智改贷款", "首次获得科技贷款", "研发机构认定",
    "创新联合体认定", "购买科技成果", "入驻标准厂房", "入选高企培育库", "首次申报研发费用加计扣除"];
  var NUMBERS = [["revenue_wan", "上年营业收入（万元）"], ["rd_expense_wan", "上年研发费用（万元）"], ["employees", "员工数（人）"],
    ["founded_year", "成立年份"], ["equipment_investment_wan", "设备投资额（万元）"], ["land_mu", "用地面积（亩）"]];
  var STATUS = { eligible: "符合条件", possible: "可能符合", ineligible: "暂不符合" };

  function cnDate(iso) {
    if (!iso) { return ""; }
    var p = String(iso).split("-");
    return p.length === 3 ? Number(p[0]) + "年" + Number(p[1]) + "月" + Number(p[2]) + "日" : String(iso);
  }

  function attach(widget, el) {
    if (widget.matchView) { return; }
    var profileStore = {
      key: "kunruyi-widget:" + widget.opts.apiBase + ":profile",
      get: function () { try { return JSON.parse(window.localStorage.getItem(this.key) || "null"); } catch (e) { return null; } },
      set: function (v) { try { window.localStorage.setItem(this.key, JSON.stringify(v)); } catch (e) { /* private mode */ } },
      clear: function () { try { window.localStorage.removeItem(this.key); } catch (e) { /* private mode */ } }
    };
    var css = el("link", { rel: "stylesheet", href: widget.api("/widget-match.css") });
    widget.shadow.insertBefore(css, widget.shadow.firstChild.nextSibling);

    var view = el("div", { className: "kry-overlay kry-match", role: "dialog", "aria-label": "政策匹配", hidden: true });
    widget.matchView = view;
    view.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { ev.stopPropagation(); widget.closeOverlay(view); }
    });

    function field(label, control) {
      return el("label", { className: "kry-m-field" }, [el("span", { className: "kry-m-label", text: label }), control]);
    }
    function select(name, options, placeholder) {
      var s = el("select", { name: name, className: "kry-m-input" }, [el("option", { value: "", text: placeholder })]
        .concat(options.map(function (o) { return el("option", { value: o, text: o }); })));
      return s;
    }
    function checks(name, options) {
      return el("div", { className: "kry-m-checks", role: "group" }, options.map(function (o) {
        return el("label", { className: "kry-m-check" }, [el("input", { type: "checkbox", name: name, value: o }),
          el("span", { text: o })]);
      }));
    }

    var form = el("form", { className: "kry-m-form", "aria-label": "企业信息" }, [
      el("p", { className: "kry-m-hint", text: "填写企业基本情况（知道几项填几项，不涉及个人信息），查看可申报的政策、金额和申报时间。" }),
      field("所在区镇", select("district", DISTRICTS, "请选择")),
      field("行业（国民经济行业门类）", select("industry", INDUSTRIES, "请选择")),
      el("fieldset", { className: "kry-m-set" }, [el("legend", { text: "企业类型/资质（可多选）" }), checks("enterprise_types", TYPES)]),
      el("div", { className: "kry-m-grid" }, NUMBERS.map(function (n) {
        return field(n[1], el("input", { type: "number", name: n[0], min: "0", step: "any", inputmode: "decimal",
          className: "kry-m-input" }));
      })),
      el("fieldset", { className: "kry-m-set" }, [el("legend", { text: "已发生或计划中的事项（可多选）" }), checks("events", EVENTS)]),
      el("label", { className: "kry-m-check kry-m-save" }, [el("input", { type: "checkbox", name: "save" }),
        el("span", { text: "保存（仅保存在本浏览器中）" })]),
      el("div", { className: "kry-m-actions" }, [
        el("button", { type: "submit", className: "kry-m-submit", text: "查看可申报政策" }),
        el("button", { type: "button", className: "kry-m-clear", text: "清除已保存信息", onclick: function () {
          profileStore.clear(); form.reset(); status.textContent = "已清除保存在本浏览器中的企业信息。";
        } })
      ])
    ]);
    var status = el("p", { className: "kry-m-status", role: "status" });
    var results = el("div", { className: "kry-m-results", "aria-label": "匹配结果" });
    var month = el("div", { className: "kry-m-month", "aria-label": "本月可申报" });

    view.appendChild(el("div", { className: "kry-card" }, [
      el("div", { className: "kry-card-head" }, [
        el("h3", { className: "kry-card-title", text: "政策匹配" }),
        el("button", { type: "button", className: "kry-close", "aria-label": "关闭政策匹配", text: "×",
          onclick: function () { widget.closeOverlay(view); } })
      ]),
      month, form, status, results
    ]));
    widget.panel.appendChild(view);

    function readForm() {
      var profile = {};
      ["district", "industry"].forEach(function (n) { if (form.elements[n].value) { profile[n] = form.elements[n].value; } });
      NUMBERS.forEach(function (n) {
        var v = form.elements[n[0]].value;
        if (v !== "") { profile[n[0]] = n[0] === "employees" || n[0] === "founded_year" ? parseInt(v, 10) : Number(v); }
      });
      ["enterprise_types", "events"].forEach(function (n) {
        var boxes = form.querySelectorAll("input[name=" + n + "]");
        var picked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).map(function (b) { return b.value; });
        if (picked.length) { profile[n] = picked; }
      });
      return profile;
    }
    function fillForm(profile) {
      if (!profile) { return; }
      ["district", "industry"].forEach(function (n) { if (profile[n]) { form.elements[n].value = profile[n]; } });
      NUMBERS.forEach(function (n) { if (profile[n[0]] !== undefined) { form.elements[n[0]].value = profile[n[0]]; } });
      ["enterprise_types", "events"].forEach(function (n) {
        Array.prototype.forEach.call(form.querySelectorAll("input[name=" + n + "]"), function (b) {
          b.checked = (profile[n] || []).indexOf(b.value) >= 0;
        });
      });
      form.elements.save.checked = true;
    }

    function link(url, text) {
      var href = widget.api(String(url || ""));
      if (!/^\/documents\//.test(String(url || ""))) { return el("span", { text: text }); }
      return el("a", { className: "kry-doc-link", href: href, target: "_blank", rel: "noopener noreferrer", text: text });
    }
    function windowText(item) {
      var w = item.window || {};
      var text = w.start && w.end ? cnDate(w.start) + "至" + cnDate(w.end) : w.end ? cnDate(w.end) + "前" : (w.text || "以通知为准");
      if (typeof item.days_left === "number") { text += "（正在申报，距截止还有" + item.days_left + "天）"; }
      return text;
    }
    function card(item) {
      var amount = item.amount_text || (item.amount_max_wan ? "最高" + item.amount_max_wan + "万元" : "以原文为准");
      var conditions = el("ul", { className: "kry-m-conds" }, (item.conditions || []).map(function (c) {
        var mark = c.met === true ? "✓" : c.met === false ? "✗" : "？";
        var cls = c.met === true ? "kry-m-met" : c.met === false ? "kry-m-unmet" : "kry-m-unknown";
        return el("li", { className: cls, "data-met": String(c.met) }, [el("span", { className: "kry-m-mark", text: mark }),
          el("span", { text: c.why || c.text })]);
      }));
      return el("article", { className: "kry-m-card", "data-status": item.status }, [
        el("p", { className: "kry-m-card-head" }, [
          el("span", { className: "kry-m-badge kry-m-" + item.status, text: STATUS[item.status] || item.status }),
          el("strong", { text: "《" + item.title + "》" + (item.article || "") })
        ]),
        el("p", { className: "kry-m-line", text: (item.programme ? item.programme + "：" : "") + amount }),
        el("p", { className: "kry-m-line", text: "申报时间：" + windowText(item) }),
        conditions,
        link(item.url, "查看政策原文")
      ]);
    }

    function render(data) {
      results.textContent = "";
      var c = data.counts || {};
      status.textContent = "符合条件 " + (c.eligible || 0) + " 项，可能符合 " + (c.possible || 0) + " 项，暂不符合 " +
        (c.ineligible || 0) + " 项。结果依据政策库整理，仅供参考，以主管部门审核为准。";
      var shown = (data.items || []).filter(function (i) { return i.status !== "ineligible"; });
      var rest = (data.items || []).filter(function (i) { return i.status === "ineligible"; });
      shown.forEach(function (i) { results.appendChild(card(i)); });
      if (rest.length) {
        var more = el("details", { className: "kry-m-more" }, [el("summary", { text: "查看暂不符合的 " + rest.length + " 项及原因" })]);
        rest.forEach(function (i) { more.appendChild(card(i)); });
        results.appendChild(more);
      }
      // Issue 17: pushes are subscribed to in WeChat (no separate account here).
      results.appendChild(el("p", { className: "kry-m-hint kry-m-subscribe", text: "想在有符合条件的新政策上线、申报开始或即将截止时收到提醒？" +
        "请在微信中关注本公众号，发送“订阅”（可先发送“政策体检”保存企业信息）；发送“退订”随时停止。" }));
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var profile = readForm();
      if (form.elements.save.checked) { profileStore.set(profile); } else { profileStore.clear(); }
      status.textContent = "正在匹配…";
      widget.postJson("/api/match", { profile: profile }).then(render).catch(function (error) {
        status.textContent = error.message || "匹配失败，请稍后重试。";
      });
    });

    function loadMonth() {
      fetch(widget.api("/api/calendar")).then(function (r) { return r.json(); }).then(function (data) {
        month.textContent = "";
        var items = (data.items || []).slice(0, 6);
        month.appendChild(el("h4", { className: "kry-m-month-title", text: "本月可申报" }));
        if (!items.length) { month.appendChild(el("p", { className: "kry-m-hint", text: "本月暂无开始或截止申报的政策。" })); return; }
        month.appendChild(el("ul", {}, items.map(function (i) {
          return el("li", {}, [link(i.url, "《" + i.title + "》" + i.article), el("span", { text: " " + (i.countdown || "") })]);
        })));
      }).catch(function () { month.textContent = ""; });
    }

    var tab = el("button", { type: "button", className: "kry-header-btn", text: "政策匹配", "aria-label": "政策匹配",
      onclick: function (ev) {
        fillForm(profileStore.get());
        loadMonth();
        widget.showOverlay(view, ev.currentTarget);
      } });
    var header = widget.panel.querySelector(".kry-header");
    header.insertBefore(tab, header.querySelector(".kry-header-btn"));
  }

  var queued = Array.isArray(window.KunruyiWidgetPlugins) ? window.KunruyiWidgetPlugins : null;
  if (queued || !window.KunruyiWidgetPlugins) {
    (window.KunruyiWidgetPlugins = queued || []).push(attach);
  } else {
    window.KunruyiWidgetPlugins.push(attach);
  }
})();
