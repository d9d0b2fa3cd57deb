'use strict';
// The built-in demo page (/demo, and / with --demo) in a real browser: the ERP dashboard
// of SPEC §1a fed by the live simulator and by backend writes through the HTTP API.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const {
  usePages, mintToken, apiOk, sel, textOf, waitText, waitPage, screenshot, MODULES,
} = require('./browser');

describe('demo page (/demo)', () => {
  const pages = usePages({ demo: true });

  /** Opens the demo page and waits until every module card shows its KPIs. */
  async function openDemo(query = '', opts) {
    const page = await pages.browser.open(`/demo${query}`, opts);
    await waitText(page, 'conn-status', 'Live');
    for (const m of MODULES) {
      await page.locator(`${sel(`module-card-${m}`)} .kpi`).first().waitFor({ state: 'visible' });
    }
    return page;
  }

  it('shows the seven modules with their KPIs, the summary cards and the top movers', { timeout: 60_000 }, async () => {
    const page = await openDemo();
    const cards = await page.$$eval('[data-testid^="module-card-"]', (xs) => xs.map((x) => x.dataset.testid.slice(12)));
    assert.deepStrictEqual(cards, MODULES, 'one card per module, in the ERP order');

    // every KPI of the API is on the page: label, formatted value, trend arrow, sparkline
    for (const m of MODULES) {
      const kpis = await apiOk(pages.server.url, 'GET', `/api/v1/modules/${m}/kpis`);
      assert.ok(kpis.length >= 3, `${m} has KPIs`);
      for (const k of kpis) {
        const base = `kpi-${m}-${k.id}`;
        assert.equal(await textOf(page, `${base}-label`), k.label);
        const value = await textOf(page, `${base}-value`);
        assert.match(value, /^-?\d{1,3}(,\d{3})*(\.\d+)?$/, `${base} value ${value} is a formatted number`);
        const trend = await textOf(page, `${base}-trend`);
        assert.match(trend, /^[▲▼▬]/, `${base} trend ${trend}`);
        const spark = await page.locator(`${sel(`${base}-spark`)}`).count();
        assert.equal(spark, 1, `${base} has a sparkline`);
      }
      const st = await page.locator(sel(`module-card-${m}`)).locator('.kpi').first().getAttribute('data-status');
      assert.match(st, /^(success|warning|error|info)$/);
      assert.match(await textOf(page, `module-updated-${m}`), /^Updated /);
    }
    // a sparkline is an inline SVG drawn from `chart`
    const pts = await page.locator(`${sel('kpi-finance-revenue_mtd-spark')} polyline`).getAttribute('points');
    assert.ok(pts && pts.split(' ').length >= 2, `sparkline points: ${pts}`);

    // summary (dashboard:update): one card per module and the two system cards
    for (const m of MODULES) await page.locator(sel(`summary-card-${m}`)).waitFor();
    const conns = await waitText(page, 'summary-card-system-connections-value', (t) => /^\d+$/.test(t));
    assert.ok(Number(conns) >= 1, `live connections ${conns}`);
    await waitText(page, 'summary-card-system-uptime-value', (t) => /^\d+h \d{2}m$/.test(t));
    // top movers appear once the simulator moved something
    await page.locator(`${sel('top-kpis')} li`).first().waitFor({ timeout: 15_000 });
    await screenshot(page, 'demo-1440');

    // the user is a guest: the bell explains how to see notifications
    assert.equal(await page.locator(sel('bell-badge')).isHidden(), true);
    await page.locator(sel('bell')).click();
    await page.locator(sel('notification-signin')).waitFor({ state: 'visible' });
    assert.match(await textOf(page, 'notification-signin'), /sign in to see notifications/i);
    await page.keyboard.press('Escape');
    await page.locator(sel('notification-panel')).waitFor({ state: 'hidden' });
    await page.close();
  });

  it('a KPI written with PUT /api/v1/modules/finance/kpis shows its exact value', { timeout: 30_000 }, async () => {
    const page = await openDemo();
    // an id of its own, so the simulator (which rewrites its four finance KPIs) leaves it alone
    const kpi = { id: 'open_invoices', label: 'Open invoices (EUR)', value: 1234567, trend: 'up', status: 'warning', chart: [1180000, 1215000, 1234567] };
    await apiOk(pages.server.url, 'PUT', '/api/v1/modules/finance/kpis', [kpi]);
    await waitText(page, 'kpi-finance-open_invoices-value', '1,234,567');
    assert.equal(await textOf(page, 'kpi-finance-open_invoices-label'), 'Open invoices (EUR)');
    assert.equal(await textOf(page, 'kpi-finance-open_invoices-trend'), '▲ +1.6%');
    assert.equal(await page.locator(sel('kpi-finance-open_invoices')).getAttribute('data-status'), 'warning');

    await apiOk(pages.server.url, 'PUT', '/api/v1/modules/finance/kpis', [
      { ...kpi, value: 1098765.5, trend: 'down', status: 'error', chart: [...kpi.chart, 1098765.5] },
    ]);
    await waitText(page, 'kpi-finance-open_invoices-value', '1,098,765.5');
    assert.equal(await textOf(page, 'kpi-finance-open_invoices-trend'), '▼ −11%');
    assert.equal(await page.locator(sel('kpi-finance-open_invoices')).getAttribute('data-status'), 'error');
    await page.close();
  });

  it('the simulator moves values on the page within 10 s', { timeout: 30_000 }, async () => {
    const page = await openDemo();
    const snapshot = () =>
      page.$$eval('[data-testid^="kpi-"][data-testid$="-value"]', (xs) => xs.map((x) => [x.dataset.testid, x.textContent]));
    const first = new Map(await snapshot());
    assert.ok(first.size >= MODULES.length * 3, `${first.size} KPI values on the page`);
    const changed = await waitPage(
      page,
      (initial) => {
        const now = [...document.querySelectorAll('[data-testid^="kpi-"][data-testid$="-value"]')];
        const moved = now.filter((x) => x.dataset.testid in initial && initial[x.dataset.testid] !== x.textContent);
        return moved.length ? moved.map((x) => `${x.dataset.testid}: ${initial[x.dataset.testid]} -> ${x.textContent}`) : null;
      },
      Object.fromEntries(first),
      'a KPI value to change under the simulator',
      10_000,
    );
    assert.ok(changed.length >= 1, changed.join('; '));
    await page.close();
  });

  it('a module created by a backend appears with the next dashboard summary', { timeout: 30_000 }, async () => {
    const page = await openDemo();
    await apiOk(pages.server.url, 'PUT', '/api/v1/modules/logistics/kpis', [
      { id: 'shipments', label: 'Shipments today', value: 4312, trend: 'flat', status: 'info' },
    ]);
    // dashboard:update repeats every 10 s; the page subscribes to modules it lists
    await waitText(page, 'kpi-logistics-shipments-value', '4,312', 15_000);
    await page.close();
  });

  it('the alert banner shows the newest alert, can be dismissed, and returns for a new one', { timeout: 30_000 }, async () => {
    const page = await openDemo();
    const a = await apiOk(pages.server.url, 'POST', '/api/v1/alerts', { title: 'Disk almost full', message: 'db-1 at 91%', severity: 'warning' });
    await waitText(page, 'alert-title', 'Disk almost full');
    const banner = page.locator(sel('alert-banner'));
    await banner.waitFor({ state: 'visible' });
    assert.equal(await banner.getAttribute('data-alert-id'), a.id);
    assert.equal(await textOf(page, 'alert-message'), 'db-1 at 91%');
    assert.match(await banner.getAttribute('class'), /s-warning/);

    await page.locator(sel('alert-dismiss')).click();
    await banner.waitFor({ state: 'hidden' });
    // dismissed stays dismissed for this tab (also after a reload: alerts come again on connect)
    await page.reload();
    await waitText(page, 'conn-status', 'Live');
    await page.locator(sel('module-card-finance')).waitFor();
    assert.equal(await banner.isHidden(), true, 'a dismissed alert does not come back on reload');

    const b = await apiOk(pages.server.url, 'POST', '/api/v1/alerts', { title: 'Replication lag', message: 'replica 2 is 40 s behind', severity: 'error' });
    await waitText(page, 'alert-title', 'Replication lag');
    await banner.waitFor({ state: 'visible' });
    assert.equal(await banner.getAttribute('data-alert-id'), b.id);
    assert.match(await banner.getAttribute('class'), /s-error/);
    await page.close();
  });

  it('a refused token falls back to the public feeds and says why', { timeout: 30_000 }, async () => {
    const page = await openDemo('?token=not.a.valid-token');
    await page.locator(sel('bell')).click();
    await waitText(page, 'notification-signin', (t) => /refused/i.test(t) && /invalid token/i.test(t));
    assert.equal(await textOf(page, 'user-name'), 'Guest');
    await page.close();
  });

  it('works at 375 px: the cards stack in one column without horizontal scrolling', { timeout: 30_000 }, async () => {
    const page = await openDemo(`?token=${mintToken('demo')}`, { viewport: { width: 375, height: 812 } });
    await waitText(page, 'user-name', 'Signed in as demo');
    const widths = await page.evaluate(() => ({
      doc: document.documentElement.scrollWidth,
      view: window.innerWidth,
      cards: [...document.querySelectorAll('[data-testid^="module-card-"]')].map((c) => Math.round(c.getBoundingClientRect().left)),
    }));
    assert.ok(widths.doc <= widths.view, `no horizontal scroll (${widths.doc} > ${widths.view})`);
    assert.equal(new Set(widths.cards).size, 1, `module cards in one column: lefts ${widths.cards}`);
    await screenshot(page, 'demo-375');
    await page.close();
  });

  it('is also served at / with --demo', { timeout: 30_000 }, async () => {
    const page = await pages.browser.open('/');
    await waitText(page, 'conn-status', 'Live');
    await page.locator(sel('module-card-crm')).waitFor();
    await page.close();
  });
});
