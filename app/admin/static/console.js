/* 昆如意 staff console: the helpers admin.js and every tab script share (element building, the notice
   line, the admin API, tabs). Loaded first by admin.html; the others read window.kunruyiConsole.
   Server text is always set as text, never parsed as HTML. */
(function () {
  "use strict";

  var TOKEN_KEY = "kunruyi.admin.token";
  var token = sessionStorage.getItem(TOKEN_KEY) || "";
  var unauthorized = null;  // set by admin.js: signs out when a request says the token is no longer valid

  function $(id) { return document.getElementById(id); }

  /* Build an element; children are strings (set as text) or nodes. false, null and undefined are left out. */
  function el(tag, props) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function notice(text, isError) {
    var box = $("notice");
    if (!box) return;
    box.textContent = text || "";
    box.className = "notice" + (isError ? " error" : "");
  }
  function showError(err) { notice(err && err.message ? err.message : "操作失败", true); }

  // --- the admin API ------------------------------------------------------------------------

  function ApiError(message, status) { this.message = message; this.status = status; }

  function errorMessage(status, body) {
    try {
      var data = JSON.parse(body);
      if (data && data.message) return data.message;
    } catch (e) { /* not JSON */ }
    if (status === 413) return "文件超过上传大小上限";
    return "请求失败（" + status + "）";
  }

  /* The sign-in token: tried in memory first, kept in this browser tab's sessionStorage once accepted. */
  function useToken(candidate) { token = candidate || ""; }
  function keepToken() { sessionStorage.setItem(TOKEN_KEY, token); }
  function dropToken() { token = ""; sessionStorage.removeItem(TOKEN_KEY); }
  function authorization() { return "Bearer " + token; }
  function onUnauthorized(handler) { unauthorized = handler; }

  /* A request to /api/admin + path. options: method, json (sent as JSON), body, raw (the Response
     itself), withTotal ({rows, total} from X-Total-Count). An error answer rejects with an ApiError. */
  function api(path, options) {
    options = options || {};
    var headers = { Authorization: authorization() };
    var body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    return fetch("/api/admin" + path, { method: options.method || "GET", headers: headers, body: body })
      .then(function (res) {
        if (res.status === 401 && path !== "/me" && unauthorized) unauthorized("登录已失效，请重新登录");
        if (!res.ok) return res.text().then(function (text) { throw new ApiError(errorMessage(res.status, text), res.status); });
        if (options.raw) return res;
        if (res.status === 204) return null;
        return res.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          if (options.withTotal) return { rows: data, total: Number(res.headers.get("X-Total-Count") || 0) };
          return data;
        });
      });
  }

  // --- tabs ---------------------------------------------------------------------------------

  /* Show tab ``name`` (its button active, every other tab hidden) and clear the notice line. */
  function selectTab(name) {
    Array.prototype.forEach.call(document.querySelectorAll(".tabs button"), function (b) {
      var on = b.getAttribute("data-tab") === name;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (t) { t.hidden = t.id !== "tab-" + name; });
    notice("");
  }

  /* A tab script's own tab: a button in the console's tab bar and a hidden panel (null outside the console). */
  function addTab(name, label, onShow) {
    var nav = document.querySelector("#console .tabs");
    var holder = $("console");
    if (!nav || !holder) return null;
    nav.appendChild(el("button", { type: "button", role: "tab", "data-tab": name, text: label,
                                   onclick: function () { onShow(name); } }));
    var tab = el("div", { id: "tab-" + name, className: "tab", hidden: true });
    holder.appendChild(tab);
    return tab;
  }

  /* A one-tab script: once the page is read, its tab is added and built; showing it selects it and calls load. */
  function registerTab(name, label, build, load) {
    document.addEventListener("DOMContentLoaded", function () {
      var tab = addTab(name, label, function () { selectTab(name); load(); });
      if (tab) build(tab);
    });
  }

  window.kunruyiConsole = {
    $: $, el: el, clear: clear, notice: notice, showError: showError,
    ApiError: ApiError, errorMessage: errorMessage, api: api, authorization: authorization,
    useToken: useToken, keepToken: keepToken, dropToken: dropToken, token: function () { return token; },
    onUnauthorized: onUnauthorized, selectTab: selectTab, addTab: addTab, registerTab: registerTab
  };
})();
