// Switchboard demo: the ERP dashboard of SPEC §1a, driven only by the public Socket.IO
// feeds (module:subscribe, dashboard:subscribe, notification:subscribe, alert:system).
// Plain browser JavaScript, no build step; every piece of server data goes through
// textContent (never innerHTML).
//
// URL parameters: ?token=<JWT> signs in (notifications need a user), ?modules=a,b pins
// the module list (default: every module the dashboard summary reports).
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var token = params.get('token') || '';
  var pinnedModules = (params.get('modules') || '').split(',').map(function (s) { return s.trim(); }).filter(Boolean);

  // The ERP's own navigation order; modules it does not know follow alphabetically.
  var ORDER = ['crm', 'finance', 'hr', 'security', 'elearning', 'rehab', 'reports'];
  var STATUS_WORD = { success: 'OK', warning: 'Warning', error: 'Error', info: 'Info' };
  var TREND = { up: '▲', down: '▼', flat: '▬' };
  var NF = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  var NF1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  var TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  var SVGNS = 'http://www.w3.org/2000/svg';

  function $(testid, root) { return (root || document).querySelector('[data-testid="' + testid + '"]'); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function statusOf(s) {
    if (s === 'critical' || s === 'danger') return 'error';
    return STATUS_WORD[s] ? s : 'info';
  }
  function setStatusClass(node, s) {
    node.classList.remove('s-success', 's-warning', 's-error', 's-info');
    node.classList.add('s-' + statusOf(s));
  }
  function num(v) {
    if (typeof v === 'number' && isFinite(v)) return v;
    if (typeof v === 'string' && v.trim() !== '' && isFinite(Number(v))) return Number(v);
    return null;
  }
  function fmt(v) {
    var n = num(v);
    if (n !== null && typeof v === 'number') return NF.format(n);
    return v === null || v === undefined ? '—' : String(v);
  }
  function safeId(s) { return String(s).replace(/[^A-Za-z0-9_.:-]/g, '_'); }
  function parseTime(t) {
    if (typeof t === 'number') return t;
    var ms = Date.parse(t);
    return isNaN(ms) ? null : ms;
  }
  function clockTime(ms) { return ms === null ? '' : TIME.format(new Date(ms)); }

  // Server clock minus ours (from connection:status / dashboard timestamps), so "n s ago"
  // is right even when this machine's clock is off.
  var clockOffset = 0;
  function noteServerTime(t) {
    var ms = parseTime(t);
    if (ms !== null) clockOffset = ms - Date.now();
  }
  function serverNow() { return Date.now() + clockOffset; }
  function ago(ms) {
    var s = Math.max(0, Math.round((serverNow() - ms) / 1000));
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    return Math.floor(s / 3600) + ' h ago';
  }

  // ---------------------------------------------------------------- identity

  function tokenUser(t) {
    try {
      var part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      var claims = JSON.parse(atob(part + '==='.slice((part.length + 3) % 4)));
      return typeof claims.sub === 'string' ? claims.sub : null;
    } catch (e) {
      return null;
    }
  }
  var user = token ? tokenUser(token) : null;
  var tokenRefused = null; // the server's reason, when it refused our token

  // ---------------------------------------------------------------- connection status

  var connEl = $('conn-status');
  function setConn(state, text, title) {
    connEl.dataset.state = state;
    connEl.textContent = text;
    connEl.title = title || '';
  }

  if (typeof io !== 'function') {
    setConn('error', 'Client library missing', '/socket.io/socket.io.js did not load');
    return;
  }

  var socket = io({ auth: token ? { token: token } : {} });

  function transportName() {
    try { return socket.io.engine.transport.name; } catch (e) { return ''; }
  }
  function showLive() { setConn('connected', 'Live', 'Connected (' + transportName() + ')'); }

  socket.on('connect', function () {
    showLive();
    try { socket.io.engine.once('upgrade', showLive); } catch (e) { /* no engine */ }
    socket.emit('dashboard:subscribe', {});
    modules.forEach(function (m) { socket.emit('module:subscribe', { moduleKey: m.key }); });
    if (token && !tokenRefused) socket.emit('notification:subscribe', {});
  });
  socket.on('disconnect', function (reason) {
    if (reason === 'io client disconnect') setConn('disconnected', 'Disconnected');
    else setConn('reconnecting', 'Reconnecting…', 'Connection lost: ' + reason);
  });
  socket.on('connect_error', function (err) {
    var msg = (err && err.message) || 'connection failed';
    if (token && !tokenRefused && /token|auth/i.test(msg)) {
      // A present but invalid token is refused, never downgraded: carry on as a guest
      // so the public feeds still work, and say why the bell is empty.
      tokenRefused = msg;
      user = null;
      socket.auth = {};
      renderIdentity();
      renderNotifications();
      socket.connect();
      return;
    }
    setConn('disconnected', 'Offline — retrying', msg);
  });
  socket.io.on('reconnect_attempt', function () { setConn('reconnecting', 'Reconnecting…'); });
  socket.on('connection:status', function (s) { if (s && s.timestamp) noteServerTime(s.timestamp); });

  // ---------------------------------------------------------------- modules

  var modules = new Map(); // key -> module state
  var modulesEl = $('modules');

  function moduleTitle(key) {
    if (key === 'crm' || key === 'hr') return key.toUpperCase();
    if (key === 'elearning') return 'E-learning';
    return key.charAt(0).toUpperCase() + key.slice(1);
  }
  function orderIndex(key) {
    var i = ORDER.indexOf(key);
    return i < 0 ? ORDER.length : i;
  }

  function ensureModule(key, title) {
    var m = modules.get(key);
    if (m) {
      if (title && m.titleEl.textContent !== title) m.titleEl.textContent = title;
      return m;
    }
    var card = el('article', 'card module-card');
    card.id = 'module-' + safeId(key);
    card.dataset.testid = 'module-card-' + key;
    card.setAttribute('aria-labelledby', card.id + '-h');
    var head = el('header');
    var h = el('h3', null, title || moduleTitle(key));
    h.id = card.id + '-h';
    var badge = el('span', 'badge-status', '…');
    badge.dataset.testid = 'module-status-' + key;
    var upd = el('span', 'updated');
    upd.dataset.testid = 'module-updated-' + key;
    upd.setAttribute('aria-live', 'off');
    head.append(h, badge, upd);
    var list = el('ul', 'kpi-list');
    list.setAttribute('aria-label', (title || moduleTitle(key)) + ' KPIs');
    var loading = el('p', 'loading', 'Loading KPIs…');
    card.append(head, loading, list);

    m = { key: key, card: card, titleEl: h, badge: badge, updatedEl: upd, list: list, loading: loading,
      rows: new Map(), updatedAt: null, serverUpdatedAt: null, received: false };
    modules.set(key, m);

    // keep the grid in ERP order
    var sorted = Array.prototype.slice.call(modulesEl.children).filter(function (c) {
      var k = c.dataset.testid.slice('module-card-'.length);
      var a = orderIndex(k), b = orderIndex(key);
      return a > b || (a === b && k > key);
    });
    modulesEl.insertBefore(card, sorted[0] || null);
    $('modules-empty').hidden = true;

    socket.on('kpi:update:' + key, function (list) { renderKpis(m, list); });
    if (socket.connected) socket.emit('module:subscribe', { moduleKey: key });
    return m;
  }

  function sparkline(values) {
    var W = 104, H = 34, P = 3;
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'spark', role: 'img', focusable: 'false' });
    var pts = values.filter(function (v) { return typeof v === 'number' && isFinite(v); });
    s.setAttribute('aria-label', pts.length ? 'Recent values: ' + pts.map(function (v) { return NF.format(v); }).join(', ') : 'No history yet');
    if (pts.length === 0) return s;
    if (pts.length === 1) pts = [pts[0], pts[0]];
    var min = Math.min.apply(null, pts), max = Math.max.apply(null, pts);
    var span = max - min;
    var xy = pts.map(function (v, i) {
      var x = P + (i * (W - 2 * P)) / (pts.length - 1);
      var y = span === 0 ? H / 2 : H - P - ((v - min) / span) * (H - 2 * P);
      return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
    });
    var line = xy.map(function (p) { return p[0] + ',' + p[1]; }).join(' ');
    var area = 'M' + xy[0][0] + ',' + (H - 1) + ' L' + line.replace(/ /g, ' L') + ' L' + xy[xy.length - 1][0] + ',' + (H - 1) + ' Z';
    s.append(
      svg('path', { d: area, fill: 'currentColor', opacity: '0.12' }),
      svg('polyline', { points: line, fill: 'none', stroke: 'currentColor', 'stroke-width': '1.8', 'stroke-linejoin': 'round', 'stroke-linecap': 'round' }),
      svg('circle', { cx: xy[xy.length - 1][0], cy: xy[xy.length - 1][1], r: '2.6', fill: 'currentColor' })
    );
    return s;
  }

  function kpiRow(m, k) {
    var base = 'kpi-' + m.key + '-' + k.id;
    var li = el('li', 'kpi');
    li.dataset.testid = base;
    var label = el('span', 'label');
    label.dataset.testid = base + '-label';
    var line = el('div', 'value-line');
    var value = el('span', 'value');
    value.dataset.testid = base + '-value';
    var trend = el('span', 'trend');
    trend.dataset.testid = base + '-trend';
    var status = el('span', 'sr-only');
    line.append(value, trend, status);
    var spark = el('span');
    li.append(label, line, spark);
    var row = { li: li, label: label, value: value, trend: trend, status: status, spark: spark,
      history: [], last: undefined, sparkKey: '' };
    m.rows.set(String(k.id), row);
    return row;
  }

  function renderKpis(m, list) {
    if (!Array.isArray(list)) return;
    var changed = !m.received;
    m.received = true;
    m.loading.hidden = list.length > 0;
    if (list.length === 0) m.loading.textContent = 'No KPIs published yet.';
    var seen = new Set();
    var worst = 'info';
    var rank = { error: 3, warning: 2, success: 1, info: 0 };
    list.forEach(function (k, i) {
      if (!k || k.id === undefined || k.id === null) return;
      var id = String(k.id);
      seen.add(id);
      var row = m.rows.get(id) || kpiRow(m, k);
      if (m.list.children[i] !== row.li) m.list.insertBefore(row.li, m.list.children[i] || null);
      var st = statusOf(k.status);
      if (rank[st] > rank[worst]) worst = st;
      setStatusClass(row.li, st);
      row.label.textContent = k.label || id;
      row.label.title = k.label || id;

      var text = fmt(k.value);
      var n = num(k.value);
      if (row.last !== undefined && row.value.textContent !== text) {
        changed = true;
        row.value.classList.remove('flash');
        void row.value.offsetWidth; // restart the animation
        row.value.classList.add('flash');
      }
      row.value.textContent = text;

      // history: the server's chart when it sends one, else what this page has seen
      var history;
      if (Array.isArray(k.chart) && k.chart.length) {
        history = k.chart.map(num).filter(function (x) { return x !== null; });
        // a chart that stops before the current value: draw the value too
        if (n !== null && history.length && history[history.length - 1] !== n) history.push(n);
      } else {
        if (n !== null && (row.history.length === 0 || row.last !== k.value)) row.history.push(n);
        if (row.history.length > 20) row.history.shift();
        history = row.history;
      }
      var prev = history.length > 1 ? history[history.length - 2] : null;
      var trend = k.trend === 'up' || k.trend === 'down' || k.trend === 'flat' ? k.trend : null;
      if (!trend && n !== null && prev !== null) trend = n > prev ? 'up' : n < prev ? 'down' : 'flat';
      row.trend.className = 'trend' + (trend === 'flat' ? ' flat' : '');
      var delta = '';
      if (n !== null && prev !== null && prev !== 0 && n !== prev) {
        var pct = ((n - prev) / Math.abs(prev)) * 100;
        // the backend's trend wins: no percentage that contradicts its arrow
        if (!trend || (trend === 'up') === (pct > 0) && trend !== 'flat') {
          delta = ' ' + (pct > 0 ? '+' : '−') + NF1.format(Math.abs(pct)) + '%';
        }
      }
      row.trend.textContent = trend ? TREND[trend] + delta : delta.trim();
      row.trend.title = trend ? 'Trend: ' + trend : '';
      row.trend.setAttribute('aria-label', trend ? 'trend ' + trend + delta : 'no trend');
      row.status.textContent = 'status ' + STATUS_WORD[st];
      row.li.dataset.status = st;
      row.li.dataset.trend = trend || '';

      var sparkKey = st + '|' + history.join(',');
      if (sparkKey !== row.sparkKey) {
        row.sparkKey = sparkKey;
        var s = sparkline(history);
        s.dataset.testid = 'kpi-' + m.key + '-' + id + '-spark';
        row.spark.replaceWith(s);
        row.spark = s;
      }
      row.last = k.value;
    });
    m.rows.forEach(function (row, id) {
      if (!seen.has(id)) { row.li.remove(); m.rows.delete(id); changed = true; }
    });
    setStatusClass(m.badge, worst);
    m.badge.textContent = STATUS_WORD[worst];
    m.badge.title = 'Worst KPI status: ' + STATUS_WORD[worst];
    if (changed) {
      // first sight: trust the server's "updated at" when the summary told us, else now
      m.updatedAt = m.updatedAt === null && m.serverUpdatedAt !== null ? m.serverUpdatedAt : serverNow();
      renderUpdated(m);
    }
  }

  function renderUpdated(m) {
    if (m.updatedAt === null) { m.updatedEl.textContent = ''; return; }
    var t = m.updatedEl.querySelector('time');
    if (!t) {
      m.updatedEl.textContent = 'Updated ';
      t = el('time');
      m.updatedEl.append(t);
    }
    var local = m.updatedAt - clockOffset;
    t.dateTime = new Date(local).toISOString();
    t.textContent = ago(m.updatedAt);
    m.updatedEl.title = 'Last change at ' + clockTime(local);
  }
  setInterval(function () { modules.forEach(renderUpdated); }, 1000);

  // ---------------------------------------------------------------- dashboard summary

  var summaryEl = $('summary-cards');
  var summaryCards = new Map();

  function summaryCard(card) {
    var id = String(card.id || card.module || card.title);
    var c = summaryCards.get(id);
    if (c) return c;
    var isModule = !!card.module;
    var root = el(isModule ? 'a' : 'div', 'card summary-card');
    if (isModule) {
      root.href = '#module-' + safeId(card.module);
      root.style.textDecoration = 'none';
      root.style.color = 'inherit';
    }
    root.dataset.testid = 'summary-card-' + (isModule ? card.module : id.replace(/:/g, '-'));
    var title = el('span', 'title');
    var big = el('span', 'big');
    big.dataset.testid = root.dataset.testid + '-value';
    var sub = el('span', 'counts');
    root.append(title, big, sub);
    c = { root: root, title: title, big: big, sub: sub, module: card.module };
    summaryCards.set(id, c);
    summaryEl.append(root);
    return c;
  }

  function renderSummary(cards) {
    var ids = new Set();
    var moduleCards = cards.filter(function (c) { return c && c.module; });
    var otherCards = cards.filter(function (c) { return c && !c.module; });
    moduleCards.sort(function (a, b) {
      return orderIndex(a.module) - orderIndex(b.module) || (a.module < b.module ? -1 : a.module > b.module ? 1 : 0);
    });
    otherCards.concat(moduleCards).forEach(function (card) {
      var c = summaryCard(card);
      ids.add(String(card.id || card.module || card.title));
      summaryEl.append(c.root); // keeps the order
      var st = statusOf(card.status);
      setStatusClass(c.root, st);
      c.title.textContent = card.title || card.module || card.id;
      if (card.module) {
        c.big.textContent = STATUS_WORD[st];
        c.big.className = 'big status-word';
        c.sub.textContent = '';
        var counts = card.counts || {};
        var parts = [['success', 'ok'], ['warning', 'warning'], ['error', 'error']];
        var any = false;
        parts.forEach(function (p) {
          if (counts[p[0]]) {
            any = true;
            var s = el('span', 'c-' + p[0]);
            s.append(el('b', null, counts[p[0]]), document.createTextNode(' ' + p[1]));
            c.sub.append(s);
          }
        });
        if (!any) c.sub.textContent = (card.kpiCount || 0) + ' KPIs';
        c.root.setAttribute('aria-label', (card.title || card.module) + ': ' + STATUS_WORD[st] + ', ' + (card.kpiCount || 0) + ' KPIs');
      } else {
        c.big.className = 'big';
        c.big.textContent = typeof card.value === 'number' ? NF.format(card.value) : card.value === undefined ? '—' : String(card.value);
        c.sub.textContent = card.id === 'system:connections' ? 'open sockets' : card.id === 'system:uptime' ? 'since start' : '';
      }
    });
    summaryCards.forEach(function (c, id) {
      if (!ids.has(id)) { c.root.remove(); summaryCards.delete(id); }
    });

    // the module list follows the summary (unless pinned by ?modules=)
    if (!pinnedModules.length) {
      moduleCards.forEach(function (card) {
        var m = ensureModule(card.module, card.title);
        if (typeof card.updatedAt === 'number') {
          m.serverUpdatedAt = card.updatedAt;
          if (m.updatedAt !== null && card.updatedAt > m.updatedAt) { m.updatedAt = card.updatedAt; renderUpdated(m); }
        }
      });
    }
  }

  var topEl = $('top-kpis');
  var topEmpty = $('top-kpis-empty');
  function renderTop(list) {
    topEl.textContent = '';
    topEmpty.hidden = list.length > 0;
    list.forEach(function (k) {
      if (!k) return;
      var li = el('li');
      li.dataset.testid = 'top-kpi-' + k.module + '-' + k.id;
      setStatusClass(li, k.status);
      var label = el('div', 't-label', k.label || k.id);
      label.append(el('span', null, moduleTitle(String(k.module)) + ' · ' + STATUS_WORD[statusOf(k.status)]));
      var value = el('div', 't-value', fmt(k.value));
      var dir = typeof k.change === 'number' ? (k.change > 0 ? 'up' : k.change < 0 ? 'down' : 'flat') : (k.trend || 'flat');
      var change = el('div', 't-change badge-status');
      var abs = typeof k.change === 'number' ? (k.change > 0 ? '+' : k.change < 0 ? '−' : '') + NF.format(Math.abs(k.change)) : '';
      var pct = typeof k.changePercent === 'number' ? ' (' + (k.changePercent > 0 ? '+' : k.changePercent < 0 ? '−' : '') + NF1.format(Math.abs(k.changePercent)) + '%)' : '';
      change.textContent = (TREND[dir] || '') + ' ' + abs + pct;
      change.setAttribute('aria-label', 'changed ' + dir + ' by ' + abs + pct + (k.previous !== undefined ? ', from ' + fmt(k.previous) : ''));
      var line = el('div', 't-line');
      line.append(value, change);
      li.append(label, line);
      topEl.append(li);
    });
  }

  var dashTime = $('dashboard-time');
  socket.on('dashboard:update', function (d) {
    if (!d || typeof d !== 'object') return;
    if (d.timestamp) noteServerTime(d.timestamp);
    renderSummary(Array.isArray(d.summaryCards) ? d.summaryCards : []);
    renderTop(Array.isArray(d.topKPIs) ? d.topKPIs : []);
    var ms = parseTime(d.timestamp);
    dashTime.textContent = ms === null ? '' : 'Summary of ' + clockTime(ms - clockOffset);
    $('modules-empty').hidden = modules.size > 0;
  });
  pinnedModules.forEach(function (k) { ensureModule(k); });

  // ---------------------------------------------------------------- notifications

  var bell = $('bell');
  var badge = $('bell-badge');
  var panel = $('notification-panel');
  var listEl = $('notification-list');
  var signin = $('notification-signin');
  var emptyEl = $('notification-empty');
  var summaryText = $('notification-summary');
  var notifs = new Map(); // id -> { n, read, pending }
  var unread = 0;
  var arrivals = 0; // arrival order: the tie-breaker for equal times (replay is oldest first)

  function renderIdentity() {
    $('user-name').textContent = user ? 'Signed in as ' + user : 'Guest';
  }

  function setUnread(n) {
    if (typeof n !== 'number' || !isFinite(n)) return;
    var grew = n > unread;
    unread = Math.max(0, n);
    badge.hidden = unread === 0;
    badge.textContent = unread > 99 ? '99+' : String(unread);
    bell.setAttribute('aria-label', 'Notifications' + (user ? ', ' + unread + ' unread' : ''));
    summaryText.textContent = user ? unread + ' unread' : '';
    if (grew) {
      badge.classList.remove('bump');
      void badge.offsetWidth;
      badge.classList.add('bump');
    }
  }

  function renderNotifications() {
    var signedIn = !!(token && !tokenRefused);
    signin.hidden = signedIn;
    if (!signedIn) {
      signin.textContent = tokenRefused
        ? 'Your sign-in was refused (' + tokenRefused + '). Showing public data only.'
        : 'Sign in to see notifications (open this page with ?token=<JWT>).';
      badge.hidden = true;
    }
    var items = Array.from(notifs.values()).sort(function (a, b) {
      return (parseTime(b.n.time) || 0) - (parseTime(a.n.time) || 0) || b.seq - a.seq;
    }).slice(0, 50);
    emptyEl.hidden = !signedIn || items.length > 0;
    listEl.textContent = '';
    items.forEach(function (it) {
      var n = it.n;
      var li = el('li');
      var b = el('button', 'notif-item ' + (it.read ? 'read' : 'unread'));
      b.type = 'button';
      b.dataset.testid = 'notification-item-' + n.id;
      b.dataset.read = String(it.read);
      setStatusClass(b, n.severity);
      var dot = el('span', 'dot');
      dot.setAttribute('aria-hidden', 'true');
      var body = el('span', 'n-body');
      body.append(el('span', 'n-title', n.title), el('span', 'n-msg', n.message));
      var ms = parseTime(n.time);
      var t = el('time', 'n-time', ms === null ? '' : clockTime(ms - clockOffset));
      if (ms !== null) t.dateTime = new Date(ms).toISOString();
      body.append(t);
      b.append(dot, body);
      b.setAttribute('aria-label', (it.read ? '' : 'Unread: ') + n.title + '. ' + n.message + (it.read ? '' : '. Activate to mark as read.'));
      b.addEventListener('click', function () { markRead(n.id); });
      li.append(b);
      listEl.append(li);
    });
  }

  function markRead(id) {
    var it = notifs.get(id);
    if (!it || it.read || it.pending) return;
    it.pending = true;
    socket.timeout(5000).emit('notification:mark-read', { notificationId: id }, function (err, res) {
      it.pending = false;
      if (err || !res || !res.success) return; // stays unread; the user can try again
      it.read = true;
      setUnread(res.unreadCount);
      renderNotifications();
    });
  }

  socket.on('notification:new', function (n) {
    if (!n || n.id === undefined) return;
    var id = String(n.id);
    var known = notifs.get(id);
    notifs.set(id, { n: Object.assign({}, n, { id: id }), read: false, pending: false, seq: known ? known.seq : ++arrivals });
    setUnread(n.unreadCount);
    renderNotifications();
  });
  socket.on('notification:read', function (r) {
    if (!r) return;
    var it = notifs.get(String(r.id));
    if (it) it.read = true;
    setUnread(r.unreadCount);
    renderNotifications();
  });

  function openPanel(open) {
    panel.hidden = !open;
    bell.setAttribute('aria-expanded', String(open));
  }
  bell.addEventListener('click', function (e) {
    e.stopPropagation();
    openPanel(panel.hidden);
  });
  panel.addEventListener('click', function (e) { e.stopPropagation(); });
  document.addEventListener('click', function () { if (!panel.hidden) openPanel(false); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && !panel.hidden) { openPanel(false); bell.focus(); }
  });

  // ---------------------------------------------------------------- alerts

  var banner = $('alert-banner');
  var DISMISSED_KEY = 'switchboard.dismissedAlerts';
  function dismissed() {
    try { return JSON.parse(sessionStorage.getItem(DISMISSED_KEY) || '[]'); } catch (e) { return []; }
  }
  var alerts = [];
  function renderAlert() {
    var newest = alerts[0];
    if (!newest || dismissed().indexOf(String(newest.id)) >= 0) { banner.hidden = true; return; }
    setStatusClass(banner, newest.severity);
    banner.dataset.alertId = String(newest.id);
    $('alert-title', banner).textContent = newest.title || 'System alert';
    $('alert-message', banner).textContent = newest.message || '';
    var ms = parseTime(newest.time);
    var meta = [STATUS_WORD[statusOf(newest.severity)]];
    if (ms !== null) meta.push(clockTime(ms - clockOffset));
    if (alerts.length > 1) meta.push((alerts.length - 1) + ' earlier alert' + (alerts.length > 2 ? 's' : ''));
    $('alert-meta', banner).textContent = meta.join(' · ');
    banner.hidden = false;
  }
  socket.on('alert:system', function (list) {
    alerts = Array.isArray(list) ? list.filter(Boolean) : [];
    renderAlert();
  });
  $('alert-dismiss').addEventListener('click', function () {
    var id = banner.dataset.alertId;
    if (id) {
      var d = dismissed().concat([id]).slice(-50);
      try { sessionStorage.setItem(DISMISSED_KEY, JSON.stringify(d)); } catch (e) { /* private mode */ }
    }
    banner.hidden = true;
  });

  renderIdentity();
  renderNotifications();
  setUnread(0);
})();
