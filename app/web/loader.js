/* 昆如意 web widget loader. Embed with:
 *   <script src="https://HOST/widget.js" data-title="昆如意企业服务助手" defer></script>
 * It stays small and short-lived in caches; the widget itself loads from a versioned URL. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var origin = new URL(script.src, window.location.href).origin;
  var options = {};
  Object.keys(script.dataset).forEach(function (key) { options[key] = script.dataset[key]; });
  (window.KunruyiWidget = window.KunruyiWidget || []).push({
    origin: origin,
    cssUrl: origin + __WIDGET_CSS__,
    options: options
  });
  if (!window.__kunruyiWidgetLoading) {
    window.__kunruyiWidgetLoading = true;
    var bundle = document.createElement("script");
    bundle.src = origin + __WIDGET_JS__;
    bundle.async = true;
    (document.head || document.documentElement).appendChild(bundle);
    var plugin = document.createElement("script");  // the 政策匹配 tab (served by app/api/match.py)
    plugin.src = origin + "/widget-match.js";
    plugin.async = true;
    (document.head || document.documentElement).appendChild(plugin);
  }
})();
