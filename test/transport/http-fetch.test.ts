import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undiciPackage from 'undici';
import { loadUndici, loadUndiciCore } from '../../src/transport/index.js';

test("loadUndici gives undici's own Agent and Pool, and request() over a dispatcher or the global one", async () => {
  const server = createServer((req, res) => res.end(`${req.method} ${req.url} ${req.headers['x-probe'] ?? ''}`));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const core = await loadUndiciCore();
    assert.equal(core.Agent, undiciPackage.Agent);
    assert.equal(core.Pool, undiciPackage.Pool);
    assert.equal(await loadUndici(), await loadUndici(), 'loaded once');
    const agent = new core.Agent();
    try {
      const res = await core.request(`${base}/a/b?x=1&y=2`, { dispatcher: agent, headers: { 'x-probe': 'agent' } });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'GET /a/b?x=1&y=2 agent');
    } finally {
      await agent.close();
    }
    const pool = new core.Pool(base);
    try {
      const res = await core.request(`${base}/p`, { dispatcher: pool, method: 'HEAD' });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
    } finally {
      await pool.close();
    }
    const global = await core.request(`${base}/g`);
    assert.equal(await global.body.text(), 'GET /g ');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
