// Switchboard monitor: polls GET /api/v1/stats every 2 s and shows connections (per
// node), rooms, event rates (from counter deltas) and the recent notable events.
// When the API wants a key (401/403) it asks for one; the key is sent as
// `Authorization: Bearer`, kept in sessionStorage, and may also come as ?key= (it is then
// removed from the address bar).
(function () {
  'use strict';

  var POLL_MS = 2000;
  var WINDOW_MS = 5 * 60 * 1000;
  var KEY_STORE = 'switchboard.apiKey';
  var NF = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  var NF2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  var NF0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  var TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  var SVGNS = 'http://www.w3.org/2000/svg';

  function $(testid) { return document.querySelector('[data-testid="' + testid + '"]'); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---------------------------------------------------------------- API key

  function storedKey() {
    try { return sessionStorage.getItem(KEY_STORE) || ''; } catch (e) { return ''; }
  }
  function storeKey(k) {
    try {
      if (k) sessionStorage.setItem(KEY_STORE, k);
      else sessionStorage.removeItem(KEY_STORE);
    } catch (e) { /* storage disabled: the key lives in memory only */ }
    apiKey = k;
  }
  var apiKey = storedKey();
  var params = new URLSearchParams(location.search);
  if (params.has('key')) {
    storeKey(params.get('key') || '');
    params.delete('key');
    var rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }

  var keybox = $('monitor-keybox');
  var keyForm = $('monitor-key-form');
  var keyInput = $('monitor-key-input');
  var keyError = $('monitor-key-error');
  var keyForget = $('monitor-key-forget');
  keyForget.hidden = !apiKey;

  keyForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var k = keyInput.value.trim();
    if (!k) return;
    storeKey(k);
    keyInput.value = '';
    keyForget.hidden = false;
    keyError.hidden = true;
    poll(true);
  });
  keyForget.addEventListener('click', function () {
    storeKey('');
    keyForget.hidden = true;
    poll(true);
  });

  // ---------------------------------------------------------------- status

  var statusEl = $('monitor-status');
  function setStatus(state, text, title) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
    statusEl.title = title || '';
  }

  // ---------------------------------------------------------------- polling

  var prevByNode = new Map(); // node -> { t, events_in, events_out }
  var nodes = new Map(); // node -> { connections, websocket, polling, seen }
  var samples = []; // { t, in, out }
  var timer = null;
  var inFlight = false;
  var needKey = false;
  var haveData = false;
  var content = $('monitor-content');

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { poll(false); }, POLL_MS);
  }

  function poll(force) {
    if (inFlight) return;
    if (needKey && !force) return; // wait for the user to give a key
    inFlight = true;
    var headers = { Accept: 'application/json' };
    if (apiKey) headers.Authorization = 'Bearer ' + apiKey;
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    var abort = ctrl ? setTimeout(function () { ctrl.abort(); }, 5000) : null;
    fetch('/api/v1/stats', { headers: headers, cache: 'no-store', signal: ctrl ? ctrl.signal : undefined })
      .then(function (res) {
        return res.text().then(function (text) {
          var body = null;
          try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
          return { status: res.status, body: body };
        });
      })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) {
          askForKey(r.status, r.body);
          return;
        }
        if (r.status !== 200 || !r.body || !r.body.data) {
          setStatus('error', 'Error ' + r.status, (r.body && r.body.error && r.body.error.message) || 'unexpected answer');
          return;
        }
        needKey = false;
        keybox.hidden = true;
        content.hidden = false;
        haveData = true;
        render(r.body.data);
        setStatus('ok', 'Live', 'Last poll ' + TIME.format(new Date()));
      })
      .catch(function (err) {
        setStatus('error', 'Server unreachable', String(err && err.message || err));
      })
      .then(function () {
        if (abort) clearTimeout(abort);
        inFlight = false;
        schedule();
      });
  }

  function askForKey(status, body) {
    needKey = true;
    var msg = body && body.error && body.error.message;
    $('monitor-key-reason').textContent =
      status === 403
        ? 'The HTTP API refused this page' + (msg ? ': ' + msg + '.' : '.') + ' Paste an API key (or an admin JWT) if one is configured.'
        : "This server's HTTP API needs a key to show its statistics (sent as Authorization: Bearer, kept for this tab only).";
    if (apiKey) {
      keyError.textContent = 'The key was not accepted (' + status + ').';
      keyError.hidden = false;
    } else {
      keyError.hidden = true;
    }
    keybox.hidden = false;
    if (!haveData) content.hidden = true;
    setStatus('error', status === 401 ? 'Key required' : 'Forbidden', msg || '');
  }

  // ---------------------------------------------------------------- rendering

  function duration(s) {
    s = Math.max(0, Math.floor(s || 0));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + String(m).padStart(2, '0') + 'm';
    return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
  }

  function render(d) {
    var now = Date.now();
    var c = d.counters || {};
    var node = String(d.node || 'this node');
    var t = d.transports || {};
    nodes.set(node, { connections: d.connections, websocket: t.websocket, polling: t.polling, seen: now });

    // rates from counter deltas (per node: a load balancer may alternate nodes)
    var prev = prevByNode.get(node);
    var evIn = Number(c.events_in) || 0, evOut = Number(c.events_out) || 0;
    if (prev && now > prev.t && evIn >= prev.events_in && evOut >= prev.events_out) {
      var dt = (now - prev.t) / 1000;
      samples.push({ t: now, in: (evIn - prev.events_in) / dt, out: (evOut - prev.events_out) / dt });
    }
    prevByNode.set(node, { t: now, events_in: evIn, events_out: evOut });
    while (samples.length && samples[0].t < now - WINDOW_MS) samples.shift();

    var total = 0;
    nodes.forEach(function (n) { total += Number(n.connections) || 0; });
    var conn = $('monitor-connections');
    conn.textContent = NF0.format(total);
    conn.dataset.value = String(total);
    $('monitor-transports').textContent = NF0.format(t.websocket || 0) + ' WebSocket · ' + NF0.format(t.polling || 0) + ' polling';

    var last = samples[samples.length - 1];
    $('monitor-rate-in').textContent = last ? NF.format(last.in) : '—';
    $('monitor-rate-out').textContent = last ? NF.format(last.out) : '—';
    $('monitor-legend-in').textContent = last ? NF.format(last.in) : '—';
    $('monitor-legend-out').textContent = last ? NF.format(last.out) : '—';
    $('monitor-total-in').textContent = NF0.format(evIn) + ' total';
    $('monitor-total-out').textContent = NF0.format(evOut) + ' total';
    $('monitor-uptime').textContent = duration(d.uptime_seconds);
    $('monitor-node-name').textContent = 'node ' + node;
    $('monitor-node').textContent = 'node ' + node;

    renderNodes(now);
    renderRooms(Array.isArray(d.rooms) ? d.rooms : []);
    renderCounters(c);
    renderRecent(Array.isArray(d.recent) ? d.recent : []);
    renderChart();
  }

  function renderNodes(now) {
    var body = $('monitor-nodes').tBodies[0];
    body.textContent = '';
    nodes.forEach(function (n, name) {
      if (now - n.seen > 60000) { nodes.delete(name); return; } // not answering any more
      var tr = el('tr');
      tr.dataset.testid = 'monitor-node-' + name;
      tr.append(el('td', 'name', name), el('td', 'num', NF0.format(n.connections || 0)),
        el('td', 'num', NF0.format(n.websocket || 0)), el('td', 'num', NF0.format(n.polling || 0)));
      body.append(tr);
    });
  }

  function renderRooms(rooms) {
    rooms = rooms.slice().sort(function (a, b) {
      return (b.members - a.members) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
    var body = $('monitor-rooms').tBodies[0];
    body.textContent = '';
    var members = 0;
    rooms.forEach(function (r) {
      members += Number(r.members) || 0;
      var tr = el('tr');
      tr.dataset.testid = 'monitor-room-' + r.name;
      var count = el('td', 'num', NF0.format(r.members));
      count.dataset.testid = 'monitor-room-members-' + r.name;
      tr.append(el('td', 'name', r.name), count);
      body.append(tr);
    });
    $('monitor-rooms-empty').hidden = rooms.length > 0;
    $('monitor-room-count').textContent = NF0.format(rooms.length);
    $('monitor-rooms-summary').textContent = rooms.length + ' rooms · ' + members + ' memberships';
  }

  var COUNTER_LABEL = {
    events_in: 'Events in', events_out: 'Events out', deliveries: 'Deliveries', broadcasts: 'Broadcasts',
    denied_joins: 'Denied joins', auth_failures: 'Refused tokens', slow_consumers: 'Slow consumers',
    volatile_dropped: 'Volatile dropped', recoveries: 'Recoveries', malformed: 'Malformed frames',
    rule_errors: 'Rule errors', unknown_events: 'Unknown events', client_errors: 'Client errors',
    published: 'Published via API', api_errors: 'API errors',
    ip_refused: 'Refused (per-IP cap)', headers_too_large: 'Refused (headers too large)',
    handler_panics: 'Handler panics (caught)', recovery_trimmed: 'Recovery log trimmed',
    recovery_evicted: 'Recovery sessions evicted', attachment_timeouts: 'Attachment timeouts',
    parser_mismatch: 'Refused (parser mismatch)',
    rate_limited: 'Rate limited events', room_limited: 'Room cap refusals', too_deep: 'Too deep payloads',
    client_info_refused: 'clientInfo refused', messages_too_large: 'Messages too large (1009)',
    deflated_messages_in: 'Compressed messages in',
  };
  var WATCH = { denied_joins: 1, auth_failures: 1, slow_consumers: 1, malformed: 1, api_errors: 1, client_errors: 1, rule_errors: 1,
    ip_refused: 1, headers_too_large: 1, handler_panics: 1, recovery_trimmed: 1, recovery_evicted: 1 };

  function renderCounters(c) {
    var body = $('monitor-counters').tBodies[0];
    body.textContent = '';
    var order = Object.keys(COUNTER_LABEL);
    var rank = function (k) { var i = order.indexOf(k); return i < 0 ? order.length : i; };
    Object.keys(c).sort(function (a, b) {
      return rank(a) - rank(b) || (a < b ? -1 : 1);
    }).forEach(function (k) {
      var tr = el('tr');
      tr.dataset.testid = 'monitor-counter-' + k;
      var name = el('td', null, COUNTER_LABEL[k] || k);
      name.title = k;
      var v = el('td', 'num', typeof c[k] === 'number' ? NF0.format(c[k]) : String(c[k]));
      if (WATCH[k] && c[k] > 0) v.style.color = 'var(--warning)';
      tr.append(name, v);
      body.append(tr);
    });
  }

  var KIND = {
    denied_join: ['Denied join', 's-warning'],
    auth_failure: ['Refused token', 's-error'],
    slow_consumer: ['Slow consumer', 's-warning'],
    rate_limit_disconnect: ['Rate limited', 's-warning'],
  };

  function detailText(d) {
    if (d === null || d === undefined) return '';
    if (typeof d !== 'object') return String(d);
    return Object.keys(d).filter(function (k) { return d[k] !== null && d[k] !== undefined && d[k] !== ''; })
      .map(function (k) {
        var v = typeof d[k] === 'object' ? JSON.stringify(d[k]) : String(d[k]);
        return k === 'reason' ? v : k + ' ' + v;
      }).join(' · ');
  }

  function renderRecent(list) {
    var ul = $('monitor-recent');
    ul.textContent = '';
    list.slice(0, 50).forEach(function (r) {
      var li = el('li');
      li.dataset.kind = String(r.kind);
      var k = KIND[r.kind] || [String(r.kind).replace(/_/g, ' '), 's-info'];
      var badge = el('span', 'badge-status ' + k[1], k[0]);
      var detail = el('span', 'r-detail', detailText(r.detail));
      var ms = Date.parse(r.time);
      var time = el('time', 'r-time', isNaN(ms) ? String(r.time || '') : TIME.format(new Date(ms)));
      if (!isNaN(ms)) time.dateTime = new Date(ms).toISOString();
      li.append(badge, detail, time);
      ul.append(li);
    });
    $('monitor-recent-empty').hidden = list.length > 0;
    $('monitor-recent-summary').textContent = list.length ? list.length + ' latest' : '';
  }

  // ---------------------------------------------------------------- chart

  var chart = $('monitor-chart');

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  function renderChart() {
    var W = Math.max(280, Math.round(chart.clientWidth || 600));
    var H = Math.max(160, Math.round(chart.clientHeight || 220));
    chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    chart.setAttribute('preserveAspectRatio', 'xMidYMid meet');
    chart.textContent = '';
    var L = 44, R = 10, T = 10, B = 24;
    var now = Date.now();
    // the time axis grows with the data: 1 minute at first, then whole minutes up to 5
    var span = samples.length ? now - samples[0].t : 0;
    var win = Math.min(WINDOW_MS, Math.max(60000, Math.ceil(span / 60000) * 60000));
    var max = niceMax(samples.reduce(function (m, s) { return Math.max(m, s.in, s.out); }, 0));
    var x = function (t) { return L + ((t - (now - win)) / win) * (W - L - R); };
    var y = function (v) { return T + (1 - v / max) * (H - T - B); };

    var grid = svg('g', { class: 'grid' });
    var axis = svg('g', { class: 'axis' });
    for (var i = 0; i <= 4; i++) {
      var v = (max * i) / 4;
      var gy = Math.round(y(v)) + 0.5;
      grid.append(svg('line', { x1: L, x2: W - R, y1: gy, y2: gy }));
      axis.append(svg('text', { x: L - 6, y: gy + 4, 'text-anchor': 'end' }, NF2.format(v)));
    }
    var narrow = W < 480;
    var minutes = win > 60000;
    var step = minutes ? 60000 : 15000;
    var n = Math.round(win / step);
    for (var m = n; m >= 0; m--) {
      if (narrow && minutes && n > 3 && m % 2 === 1 && m !== n) continue;
      var gx = x(now - m * step);
      var label = m === 0 ? 'now' : '−' + (minutes ? m + ' min' : (m * step) / 1000 + ' s');
      axis.append(svg('text', { x: gx, y: H - 6, 'text-anchor': m === n ? 'start' : m === 0 ? 'end' : 'middle' }, label));
    }
    $('monitor-chart-window').textContent = 'last ' + (minutes ? win / 60000 + ' minutes' : 'minute');
    chart.append(grid, axis);

    if (samples.length >= 1) {
      var pts = function (key) {
        return samples.map(function (s) { return x(s.t).toFixed(1) + ',' + y(s[key]).toFixed(1); });
      };
      var pin = pts('in');
      var pout = pts('out');
      var first = samples[0], lastS = samples[samples.length - 1];
      chart.append(
        svg('path', { class: 'area-in', d: 'M' + x(first.t).toFixed(1) + ',' + y(0) + ' L' + pin.join(' L') + ' L' + x(lastS.t).toFixed(1) + ',' + y(0) + ' Z' }),
        svg('polyline', { class: 'line-out', points: pout.join(' '), fill: 'none', 'stroke-width': 2, 'stroke-linejoin': 'round' }),
        svg('polyline', { class: 'line-in', points: pin.join(' '), fill: 'none', 'stroke-width': 2, 'stroke-linejoin': 'round' })
      );
      chart.setAttribute('aria-label', 'Events per second over the last ' + Math.round(win / 60000) + ' min; now ' +
        NF.format(lastS.in) + ' in and ' + NF.format(lastS.out) + ' out');
    }
    chart.dataset.samples = String(samples.length);
  }

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(renderChart, 100);
  });

  renderChart();
  poll(true);
})();
