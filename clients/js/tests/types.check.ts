// Compile-time checks of the generated types (run by `npm run typecheck`, not by vitest):
// each `@ts-expect-error` line must be an error, every other line must compile.

import { connect, type Kpi, type PresenceAck, type RoomAck } from '@switchboard/client';
import { useRoom, useSocketEvent } from '@switchboard/react';

export function typeChecks(): void {
  const client = connect({ url: 'http://127.0.0.1:3000', autoConnect: false });
  const socket = client.socket;

  socket.emit('module:subscribe', { moduleKey: 'finance' }, (ack: RoomAck) => ack.success && ack.room.toUpperCase());
  socket.emit('join:library', 'main');
  socket.emit('joinServiceQueue', { serviceType: 'loans' });
  socket.emit('presence:get', { room: 'library:main' }, (ack: PresenceAck) => ack.success && ack.users.length + ack.anonymous);
  socket.emit('notification:mark-read', { notificationId: 'n1' }, (ack) => (ack.success ? ack.unreadCount : ack.error));
  // @ts-expect-error the module payload needs moduleKey
  socket.emit('module:subscribe', { module: 'finance' });
  // @ts-expect-error join:library takes the plain id, not an object
  socket.emit('join:library', { id: 'main' });
  // @ts-expect-error not a client event
  socket.emit('module:subscrbe', { moduleKey: 'finance' });

  socket.on('kpi:update:finance', (kpis: Kpi[]) => kpis.map((k) => k.label));
  socket.on('presence:join', ({ room, user, count }) => `${room}${user}${count}`);
  socket.on('notification:new', (n) => n.unreadCount);
  // @ts-expect-error the payload is a Kpi list, not a string
  socket.on('kpi:update:hr', (kpis: string) => kpis);

  void client.subscribe('joinCounter', { counterId: 3 });
  // @ts-expect-error joinCounter needs counterId
  void client.subscribe('joinCounter', { serviceType: 'x' });
  void client.subscribe('custom:event', { anything: true }); // custom rules stay untyped
  client.acquire('join:tenant', 't1').release();
  // @ts-expect-error join:tenant takes the plain id
  client.acquire('join:tenant', { tenant: 't1' });
}

/** Hook signatures (never called: only compiled). */
export function HookChecks(): void {
  useRoom('joinServiceQueue', { serviceType: 'loans' });
  useRoom('join:library', null); // joins nothing
  // @ts-expect-error joinServiceQueue needs serviceType
  useRoom('joinServiceQueue', { counterId: 1 });
  useSocketEvent('dashboard:update', (u) => u.summaryCards.length);
  useSocketEvent('ticketCreated', (t: { id: number }) => t.id); // backend-published: untyped
}
