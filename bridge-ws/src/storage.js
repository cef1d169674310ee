// storage.js: where the sync client keeps what must survive a restart: the
// last applied seq per stream and the outbox of unanswered submissions.
// idbStorage (browsers, IndexedDB through `idb`) and memoryStorage (Node
// tests and tools); React Native passes any object with the same five
// async methods (e.g. over AsyncStorage).
import { openDB } from 'idb';

export function memoryStorage() {
  let seqs = {};
  const outbox = new Map();
  return {
    async getSeqs() { return { ...seqs }; },
    async setSeqs(next) { seqs = { ...next }; },
    async getOutbox() { return [...outbox.values()].map((e) => structuredClone(e)); },
    async putOutbox(entry) { outbox.set(entry.event.id, structuredClone(entry)); },
    async deleteOutbox(id) { outbox.delete(id); },
  };
}

// One database per name: use one per client id, so tabs do not share it.
export function idbStorage(name) {
  const db = openDB(name, 1, {
    upgrade(d) {
      d.createObjectStore('seqs');
      d.createObjectStore('outbox', { keyPath: 'event.id' });
    },
  });
  return {
    async getSeqs() { return (await (await db).get('seqs', 'all')) || {}; },
    async setSeqs(next) { await (await db).put('seqs', next, 'all'); },
    async getOutbox() {
      const all = await (await db).getAll('outbox');
      return all.sort((a, b) => (a.event.created_at < b.event.created_at ? -1 : 1));
    },
    async putOutbox(entry) { await (await db).put('outbox', structuredClone(entry)); },
    async deleteOutbox(id) { await (await db).delete('outbox', id); },
  };
}
