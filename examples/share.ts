// Share a file between two clients on this machine: one seeds, one downloads.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, createTorrent } from 'torrenttp';

const dir = await mkdtemp(join(tmpdir(), 'torrenttp-example-'));
await writeFile(join(dir, 'hello.bin'), new Uint8Array(4 * 1024 * 1024).fill(42));
const { metainfo, torrent } = await createTorrent(join(dir, 'hello.bin'));

const seeder = new Client();
await seeder.add(torrent, { path: dir }); // verifies the data it has, then seeds
const port = await seeder.listen();

const client = new Client();
const t = await client.add(torrent, { path: join(dir, 'downloads'), peers: [`127.0.0.1:${port}`] });
t.on('progress', (s) => console.log(`${(s.progress * 100).toFixed(0)}% at ${(s.downloadRate / 1e6).toFixed(1)} MB/s from ${s.peers} peer${s.peers === 1 ? '' : 's'}`));
await t.done;
console.log(`downloaded ${metainfo.name} (${metainfo.infoHash}) to ${join(dir, 'downloads')}`);

await Promise.all([client.close(), seeder.close()]);
