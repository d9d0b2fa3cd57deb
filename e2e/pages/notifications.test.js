'use strict';
// The demo page's notification bell in a real browser, signed in with ?token=: replay of
// unread notifications, live ones created through POST /api/v1/notifications, and
// mark-read persisted in the database and followed by the user's other tabs.
//
// The server runs without --demo here so that the simulator's own "Approval needed"
// notifications to `demo` (every 20 s) cannot make the exact counts below flaky.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { usePages, mintToken, apiOk, sel, textOf, waitText, waitPage, screenshot } = require('./browser');

describe('demo page notifications (bell)', () => {
  const pages = usePages({ demo: false });

  const notify = (body) => apiOk(pages.server.url, 'POST', '/api/v1/notifications', body);
  const listFor = (user) => apiOk(pages.server.url, 'GET', `/api/v1/notifications?userId=${user}`);

  async function openAs(user) {
    const page = await pages.browser.open(`/demo?token=${mintToken(user)}`);
    await waitText(page, 'conn-status', 'Live');
    await waitText(page, 'user-name', `Signed in as ${user}`);
    return page;
  }

  const itemRead = (page, id) => page.locator(sel(`notification-item-${id}`)).getAttribute('data-read');

  it('replays unread notifications, shows new ones with the badge, and mark-read persists and syncs tabs', { timeout: 60_000 }, async () => {
    // two unread before the user opens the page: replayed on notification:subscribe
    const old1 = await notify({ userId: 'demo', title: 'Timesheet reminder', message: 'Week 47 is not submitted yet', severity: 'info' });
    const old2 = await notify({ userId: 'demo', title: 'Leave approved', message: '24–26 Dec approved by your manager', severity: 'success' });
    await notify({ userId: 'someone-else', title: 'Not for demo', message: 'must not show', severity: 'info' });

    const a = await openAs('demo');
    const b = await openAs('demo');
    for (const page of [a, b]) {
      await waitText(page, 'bell-badge', '2');
      await page.locator(sel(`notification-item-${old1.id}`)).waitFor({ state: 'attached' });
      await page.locator(sel(`notification-item-${old2.id}`)).waitFor({ state: 'attached' });
    }
    assert.equal(await a.locator('[data-testid^="notification-item-"]').count(), 2, 'only the user\'s own notifications');

    // a new one, live, on both tabs; the badge goes up by one
    const fresh = await notify({ userId: 'demo', title: 'Invoice approved', message: 'INV-1042 was approved', severity: 'success' });
    for (const page of [a, b]) {
      await waitText(page, 'bell-badge', '3');
      await page.locator(sel(`notification-item-${fresh.id}`)).waitFor({ state: 'attached' });
    }
    assert.equal((await listFor('demo')).unreadCount, 3);

    // open the dropdown on tab A: newest first, unread marked
    await a.locator(sel('bell')).click();
    const panel = a.locator(sel('notification-panel'));
    await panel.waitFor({ state: 'visible' });
    assert.equal(await a.locator(sel('bell')).getAttribute('aria-expanded'), 'true');
    const order = await a.$$eval('[data-testid^="notification-item-"]', (xs) => xs.map((x) => x.dataset.testid.slice(18)));
    assert.deepStrictEqual(order, [fresh.id, old2.id, old1.id], 'newest first');
    assert.equal(await textOf(a, `notification-item-${fresh.id}`).then((t) => t.includes('Invoice approved')), true);
    assert.equal(await itemRead(a, fresh.id), 'false');
    await screenshot(a, 'demo-notifications', { fullPage: false });

    // click: marked read in the database, badge falls, the other tab follows
    await a.locator(sel(`notification-item-${fresh.id}`)).click();
    await waitText(a, 'bell-badge', '2');
    await waitPage(a, (s) => document.querySelector(s)?.dataset.read === 'true', sel(`notification-item-${fresh.id}`), 'the item to show as read');
    const stored = await listFor('demo');
    assert.equal(stored.unreadCount, 2, 'unreadCount in the database fell');
    const row = stored.notifications.find((n) => n.id === fresh.id);
    assert.ok(row, 'the notification is listed');
    assert.equal(row.read, true, 'read:true in the database');
    assert.equal(stored.notifications.find((n) => n.id === old1.id).read, false, 'the others stay unread');

    await waitText(b, 'bell-badge', '2'); // notification:read reached the second tab
    await waitPage(b, (s) => document.querySelector(s)?.dataset.read === 'true', sel(`notification-item-${fresh.id}`), 'tab B to show the item as read');

    // mark the rest read from tab B: both badges disappear
    await b.locator(sel('bell')).click();
    await b.locator(sel(`notification-item-${old1.id}`)).click();
    await waitText(b, 'bell-badge', '1');
    await b.locator(sel(`notification-item-${old2.id}`)).click();
    for (const page of [a, b]) {
      await page.locator(sel('bell-badge')).waitFor({ state: 'hidden' });
    }
    assert.equal((await listFor('demo')).unreadCount, 0);
    // clicking a read item again changes nothing
    await b.locator(sel(`notification-item-${old2.id}`)).click();
    assert.equal((await listFor('demo')).unreadCount, 0);

    // a reload replays only unread ones: none
    await a.reload();
    await waitText(a, 'conn-status', 'Live');
    await a.locator(sel('bell')).click();
    await a.locator(sel('notification-empty')).waitFor({ state: 'visible' });
    assert.equal(await a.locator(sel('bell-badge')).isHidden(), true);
    await a.close();
    await b.close();
  });

  it('a role-targeted notification reaches a signed-in user only through their own role', { timeout: 30_000 }, async () => {
    // `alice` has no roles: a notification for role staff is not hers
    const page = await openAs('alice');
    await notify({ role: 'staff', title: 'Staff meeting', message: '10:00 in room 2', severity: 'info' });
    const mine = await notify({ userId: 'alice', title: 'Welcome', message: 'Your account is ready', severity: 'info' });
    await waitText(page, 'bell-badge', '1');
    await page.locator(sel(`notification-item-${mine.id}`)).waitFor({ state: 'attached' });
    assert.equal(await page.locator('[data-testid^="notification-item-"]').count(), 1);
    await page.close();
  });
});
