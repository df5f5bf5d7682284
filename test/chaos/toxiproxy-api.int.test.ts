/**
 * Toxiproxy HTTP API compatibility: every endpoint and status code, driven by the unmodified
 * toxiproxy-node-client (and raw fetch where the client hides the status or body).
 */
import { ToxiproxyError } from 'toxiproxy-node-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  echo,
  RecordingClient,
  roundTripMs,
  startUpstream,
  tryConnect,
  type Upstream,
} from './support/sockets.js';
import {
  listenPort,
  removeAll,
  startToxiproxyTarget,
  type ToxiproxyTarget,
} from './support/toxiproxy-target.js';

let target: ToxiproxyTarget;
let upstream: Upstream;
let upstreamAddress: string;

beforeAll(async () => {
  target = await startToxiproxyTarget();
  upstream = await startUpstream(echo);
  upstreamAddress = `127.0.0.1:${upstream.port}`;
});
afterAll(async () => {
  await target?.close();
  await upstream?.close();
});
afterEach(async () => removeAll(target.client));

async function raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

const statusOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (err: unknown) => (err instanceof ToxiproxyError ? err.message : String(err)),
  );

describe('toxiproxy API: proxies', () => {
  it('GET /version answers 200 with {"version": ...} JSON text', async () => {
    const text = await target.client.getVersion();
    expect(JSON.parse(text)).toHaveProperty('version');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('POST /proxies answers 201 with the proxy, listen resolved from localhost:0 to 127.0.0.1:PORT', async () => {
    const res = await raw('POST', '/proxies', {
      name: 'p1',
      listen: 'localhost:0',
      upstream: upstreamAddress,
    });
    expect(res.status).toBe(201);
    const body = res.json();
    expect(Object.keys(body)).toEqual(['name', 'listen', 'upstream', 'enabled', 'toxics']);
    expect(body).toMatchObject({ name: 'p1', upstream: upstreamAddress, enabled: true, toxics: [] });
    expect(body.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(listenPort(body.listen as string)).toBeGreaterThan(0);
    const client = new RecordingClient(listenPort(body.listen as string));
    await client.connected;
    expect(await roundTripMs(client)).toBeLessThan(1000);
    client.destroy();
  });

  it('createProxy through the client returns a Proxy; a duplicate name is 409', async () => {
    const proxy = await target.client.createProxy({
      name: 'dup',
      listen: '127.0.0.1:0',
      upstream: upstreamAddress,
    });
    expect(proxy.enabled).toBe(true);
    expect(
      await statusOf(
        target.client.createProxy({ name: 'dup', listen: '127.0.0.1:0', upstream: upstreamAddress }),
      ),
    ).toBe('Request failed with status code 409');
    const res = await raw('POST', '/proxies', {
      name: 'dup',
      listen: '127.0.0.1:0',
      upstream: upstreamAddress,
    });
    expect(res.status).toBe(409);
    expect(res.text).toBe('{"error":"proxy already exists","status":409}\n');
  });

  it('POST /proxies without name or upstream, or with a bad body, is 400 with the error JSON', async () => {
    const noUpstream = await raw('POST', '/proxies', { name: 'x', listen: '127.0.0.1:0' });
    expect(noUpstream.status).toBe(400);
    expect(noUpstream.json()).toEqual({ error: 'missing required field: upstream', status: 400 });
    const noName = await raw('POST', '/proxies', { upstream: upstreamAddress });
    expect(noName.json()).toEqual({ error: 'missing required field: name', status: 400 });
    const bad = await raw('POST', '/proxies', '{not json');
    expect(bad.status).toBe(400);
    expect(String(bad.json().error)).toMatch(/^bad request body/);
    expect(Object.keys(await target.client.getAll())).toEqual([]);
  });

  it('a listen address that cannot be bound is 500', async () => {
    const first = await target.client.createProxy({
      name: 'a',
      listen: '127.0.0.1:0',
      upstream: upstreamAddress,
    });
    const res = await raw('POST', '/proxies', { name: 'b', listen: first.listen, upstream: upstreamAddress });
    expect(res.status).toBe(500);
  });

  it('GET /proxies is an object keyed by name; GET /proxies/{p} is 200 or 404', async () => {
    await target.client.createProxy({ name: 'one', listen: '127.0.0.1:0', upstream: upstreamAddress });
    await target.client.createProxy({ name: 'two', listen: '127.0.0.1:0', upstream: upstreamAddress });
    const all = await target.client.getAll();
    expect(Object.keys(all).sort()).toEqual(['one', 'two']);
    expect((await target.client.get('one')).name).toBe('one');
    expect(await statusOf(target.client.get('nope'))).toBe('Request failed with status code 404');
    const res = await raw('GET', '/proxies/nope');
    expect(res.text).toBe('{"error":"proxy not found","status":404}\n');
  });

  it('update enabled:false is the down fault (ECONNREFUSED, open connections closed); enabled:true restores', async () => {
    const proxy = await target.client.createProxy({
      name: 'down',
      listen: '127.0.0.1:0',
      upstream: upstreamAddress,
    });
    const port = listenPort(proxy.listen);
    const open = new RecordingClient(port);
    await open.connected;
    await roundTripMs(open);
    const down = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    expect(down.enabled).toBe(false);
    await open.closed;
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    const up = await down.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });
    expect(up.enabled).toBe(true);
    expect(up.listen).toBe(proxy.listen);
    expect(await tryConnect(port)).toBe('connected');
  });

  it('PATCH /proxies/{p} changes only the given fields; a new upstream takes effect', async () => {
    const other = await startUpstream((socket) => socket.end('other'));
    try {
      const proxy = await target.client.createProxy({
        name: 'patch',
        listen: '127.0.0.1:0',
        upstream: upstreamAddress,
      });
      const res = await raw('PATCH', '/proxies/patch', { upstream: `127.0.0.1:${other.port}` });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ name: 'patch', listen: proxy.listen, enabled: true });
      const client = new RecordingClient(listenPort(proxy.listen));
      await client.closed;
      expect(client.received().toString()).toBe('other');
    } finally {
      await other.close();
    }
  });

  it('DELETE /proxies/{p} is 204, stops the listener, then 404', async () => {
    const proxy = await target.client.createProxy({
      name: 'gone',
      listen: '127.0.0.1:0',
      upstream: upstreamAddress,
    });
    const res = await raw('DELETE', '/proxies/gone');
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(await tryConnect(listenPort(proxy.listen))).toBe('ECONNREFUSED');
    expect((await raw('DELETE', '/proxies/gone')).status).toBe(404);
    expect(await statusOf(proxy.remove())).toBe('Request failed with status code 404');
  });

  it('POST /populate is 201 with {"proxies":[...]}; unchanged proxies keep their toxics, changed ones are replaced', async () => {
    const created = await target.client.populate([
      { name: 'pa', listen: '127.0.0.1:0', upstream: upstreamAddress },
      { name: 'pb', listen: '127.0.0.1:0', upstream: upstreamAddress },
    ]);
    expect(Object.keys(created).sort()).toEqual(['pa', 'pb']);
    const pa = created.pa!;
    const pb = created.pb!;
    await pa.addToxic({
      name: 'lat',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 5, jitter: 0 },
    });
    await pb.addToxic({
      name: 'lat',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 5, jitter: 0 },
    });
    const res = await raw('POST', '/populate', [
      { name: 'pa', listen: pa.listen, upstream: upstreamAddress },
      { name: 'pb', listen: pb.listen, upstream: 'localhost:1' },
    ]);
    expect(res.status).toBe(201);
    const proxies = res.json().proxies as { name: string; toxics: unknown[] }[];
    expect(proxies.map((p) => [p.name, p.toxics.length])).toEqual([
      ['pa', 1],
      ['pb', 0],
    ]);
  });

  it('POST /populate validates every entry first: a missing name is 400 and nothing is created', async () => {
    const res = await raw('POST', '/populate', [
      { name: 'ok', listen: '127.0.0.1:0', upstream: upstreamAddress },
      { listen: '127.0.0.1:0', upstream: upstreamAddress },
    ]);
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: 'missing required field: name at proxy 2', status: 400 });
    expect(Object.keys(await target.client.getAll())).toEqual([]);
    expect(
      await statusOf(
        target.client.populate([{ name: '', listen: '127.0.0.1:0', upstream: upstreamAddress }]),
      ),
    ).toBe('Request failed with status code 400');
  });

  it('POST /reset is 204: proxies re-enabled, toxics removed, proxies kept', async () => {
    const proxy = await target.client.createProxy({
      name: 'r',
      listen: '127.0.0.1:0',
      upstream: upstreamAddress,
    });
    await proxy.addToxic({
      name: 't',
      type: 'latency',
      stream: 'upstream',
      toxicity: 1,
      attributes: { latency: 1, jitter: 0 },
    });
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    const res = await raw('POST', '/reset');
    expect(res.status).toBe(204);
    const after = await raw('GET', '/proxies/r');
    expect(after.json()).toMatchObject({ enabled: true, toxics: [] });
    expect(await tryConnect(listenPort(proxy.listen))).toBe('connected');
  });

  it('a browser User-Agent is refused with 403; unknown paths are 404; a wrong method is 405', async () => {
    const browser = await raw('GET', '/proxies', undefined, { 'User-Agent': 'Mozilla/5.0' });
    expect(browser.status).toBe(403);
    expect(browser.text).toBe('User agent not allowed\n');
    expect((await raw('GET', '/nothing')).status).toBe(404);
    expect((await raw('DELETE', '/version')).status).toBe(405);
  });
});

describe('toxiproxy API: toxics', () => {
  it('POST /proxies/{p}/toxics is 200 (not 201) with defaults stream=downstream, toxicity=1, name=<type>_<stream>', async () => {
    await target.client.createProxy({ name: 't1', listen: '127.0.0.1:0', upstream: upstreamAddress });
    const res = await raw('POST', '/proxies/t1/toxics', { type: 'latency', attributes: { latency: 10 } });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      attributes: { latency: 10, jitter: 0 },
      name: 'latency_downstream',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
    });
    const list = await raw('GET', '/proxies/t1/toxics');
    expect(list.status).toBe(200);
    expect((list.json() as unknown as unknown[]).length).toBe(1);
  });

  it('toxic create errors: 409 duplicate name across streams, 400 bad type, 400 bad stream, 404 unknown proxy', async () => {
    const proxy = await target.client.createProxy({
      name: 't2',
      listen: '127.0.0.1:0',
      upstream: upstreamAddress,
    });
    await proxy.addToxic({
      name: 'x',
      type: 'timeout',
      stream: 'upstream',
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    const dup = proxy.addToxic({
      name: 'x',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 1, jitter: 0 },
    });
    expect(await statusOf(dup)).toBe('Request failed with status code 409');
    const badType = await raw('POST', '/proxies/t2/toxics', { type: 'nonsense' });
    expect(badType.json()).toEqual({ error: 'invalid toxic type', status: 400 });
    const badStream = await raw('POST', '/proxies/t2/toxics', { type: 'latency', stream: 'sideways' });
    expect(badStream.json()).toEqual({
      error: 'stream was invalid, can be either upstream or downstream',
      status: 400,
    });
    const upper = await raw('POST', '/proxies/t2/toxics', { type: 'latency', stream: 'UpStream' });
    expect(upper.status).toBe(200);
    expect(upper.json().name).toBe('latency_UpStream');
    expect((await raw('POST', '/proxies/none/toxics', { type: 'latency' })).status).toBe(404);
  });

  it('GET, update (attributes merged, toxicity kept) and DELETE of one toxic: 200, 200, 204, then 404', async () => {
    const proxy = await target.client.createProxy({
      name: 't3',
      listen: '127.0.0.1:0',
      upstream: upstreamAddress,
    });
    await proxy.addToxic({
      name: 'slow',
      type: 'latency',
      stream: 'downstream',
      toxicity: 0.5,
      attributes: { latency: 100, jitter: 10 },
    });
    const toxic = await proxy.getToxic<{ latency: number; jitter: number }>('slow');
    expect(toxic.attributes).toEqual({ latency: 100, jitter: 10 });
    const res = await raw('POST', '/proxies/t3/toxics/slow', { attributes: { latency: 200 } });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ attributes: { latency: 200, jitter: 10 }, toxicity: 0.5 });
    const patched = await raw('PATCH', '/proxies/t3/toxics/slow', { toxicity: 0.25 });
    expect(patched.json()).toMatchObject({ attributes: { latency: 200, jitter: 10 }, toxicity: 0.25 });
    const updated = await toxic.update({
      ...toxic.toJson(),
      attributes: { latency: 300, jitter: 0 },
      toxicity: 1,
    });
    expect(updated.attributes).toEqual({ latency: 300, jitter: 0 });
    await updated.remove();
    expect(await statusOf(proxy.getToxic('slow'))).toBe('Request failed with status code 404');
    expect((await raw('DELETE', '/proxies/t3/toxics/slow')).json()).toEqual({
      error: 'toxic not found',
      status: 404,
    });
    expect((await raw('POST', '/proxies/t3/toxics/slow', { toxicity: 1 })).status).toBe(404);
  });

  it('a non-integer attribute is a 400 bad request body and the toxic is not created', async () => {
    await target.client.createProxy({ name: 't4', listen: '127.0.0.1:0', upstream: upstreamAddress });
    const res = await raw('POST', '/proxies/t4/toxics', { type: 'latency', attributes: { latency: 'slow' } });
    expect(res.status).toBe(400);
    expect(String(res.json().error)).toMatch(/^bad request body/);
    expect((await raw('GET', '/proxies/t4/toxics')).json()).toEqual([]);
  });
});
