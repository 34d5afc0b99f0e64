// ttsign chat overlay: reads the room's events from ttsign's relay (/ws, or /events as a fallback) and shows
// chat, gifts (a streak updates one line), likes, joins and the viewer count. Text only goes in through
// textContent: a viewer's nickname or comment is never parsed as HTML.
(function () {
  "use strict";
  var MAX_ITEMS = 60;
  var params = new URLSearchParams(location.search);
  var uniqueId = params.get("uniqueId") || "";
  var key = params.get("key") || "";
  var transport = params.get("transport") || "ws";
  var feed = document.getElementById("feed");
  var statusEl = document.getElementById("status");
  var viewersEl = document.getElementById("viewers");
  var likesEl = document.getElementById("likes");
  var streaks = {};
  var likes = 0;
  var finished = false;
  var retryMs = 1000;
  // Closes that reconnecting will not fix: bad options, auth, scope, stream ended.
  var FINAL = { 4005: "stream ended", 4400: "invalid options", 4401: "invalid key", 4403: "no permission", 4404: "not live" };

  function status(text, kind) {
    statusEl.textContent = text;
    statusEl.className = "status " + (kind || "");
  }

  function nickOf(user) {
    if (!user) return "someone";
    return user.nickname || user.uniqueId || "someone";
  }

  function line(kind, user, text) {
    var li = document.createElement("li");
    li.className = kind;
    if (user !== null) {
      var nick = document.createElement("span");
      nick.className = "nick";
      nick.textContent = nickOf(user);
      li.appendChild(nick);
    }
    var body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    li.appendChild(body);
    feed.appendChild(li);
    while (feed.children.length > MAX_ITEMS) feed.removeChild(feed.firstChild);
    return li;
  }

  function gift(data) {
    var details = data.giftDetails || {};
    var name = details.giftName || ("gift " + data.giftId);
    var count = data.repeatCount || 1;
    var streakable = details.giftType === 1;
    // One line per streak: a viewer's same gift, until a message says the streak ended (repeatEnd).
    var id = [data.user && data.user.userId, data.giftId].join(":");
    var li = streaks[id];
    if (!li) {
      li = line("gift", data.user, "sent " + name);
      var badge = document.createElement("span");
      badge.className = "count";
      li.appendChild(badge);
      if (streakable) streaks[id] = li;
    }
    li.querySelector(".count").textContent = "x" + count;
    var ended = !streakable || data.repeatEnd;
    li.classList.toggle("streaking", !ended);
    li.dataset.count = String(count);
    if (ended) delete streaks[id];
  }

  function show(message) {
    var d = message.data || {};
    switch (message.type) {
      case "WebcastChatMessage": line("chat", d.user, d.comment || ""); break;
      case "WebcastGiftMessage": gift(d); break;
      case "WebcastLikeMessage":
        likes = Math.max(likes + (d.likeCount || 0), d.totalLikeCount || 0);
        likesEl.textContent = String(likes);
        line("like", d.user, "liked x" + (d.likeCount || 1));
        break;
      case "WebcastMemberMessage": line("join", d.user, "joined"); break;
      case "WebcastSocialMessage":
        var key = (d.common && d.common.displayText && d.common.displayText.key) || "";
        if (key.indexOf("follow") >= 0) line("social", d.user, "followed");
        else if (key.indexOf("share") >= 0) line("social", d.user, "shared the stream");
        break;
      case "WebcastRoomUserSeqMessage": viewersEl.textContent = String(d.viewerCount || 0); break;
      case "WebcastControlMessage":
        if (d.action === 3 || d.action === 4) line("control", null, "The stream ended");
        break;
      case "roomInfo": status("live", "live"); break;
    }
  }

  function onBundle(text) {
    var bundle;
    try { bundle = JSON.parse(text); } catch (e) { return; }
    (bundle.messages || []).forEach(show);
  }

  function query() {
    var q = new URLSearchParams({ uniqueId: uniqueId });
    if (key) q.set(key.split(".").length === 3 ? "jwtKey" : "apiKey", key);
    return q.toString();
  }

  function ended(code, reason) {
    if (FINAL[code]) {
      finished = true;
      status(FINAL[code], code === 4005 ? "ended" : "error");
      return;
    }
    status("reconnecting (" + (reason || code) + ")", "error");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 30000);
  }

  function connectSocket() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws?" + query());
    ws.onopen = function () { retryMs = 1000; };
    ws.onmessage = function (event) { if (typeof event.data === "string") onBundle(event.data); };
    ws.onclose = function (event) { ended(event.code, event.reason); };
  }

  function connectEvents() {
    var source = new EventSource("/events?" + query());
    source.onmessage = function (event) { retryMs = 1000; onBundle(event.data); };
    source.addEventListener("close", function (event) {
      source.close();
      var info = JSON.parse(event.data);
      ended(info.code, info.reason);
    });
    source.onerror = function () { source.close(); if (!finished) ended(0, "connection lost"); };
  }

  function connect() {
    if (finished) return;
    status("connecting");
    if (transport === "sse") connectEvents(); else connectSocket();
  }

  if (!uniqueId) { status("add ?uniqueId=…&key=… to the URL", "error"); return; }
  connect();
})();
