/**
 * Verified-file stamps: a stamped file is trusted while its stat is unchanged; any write (even one that restores
 * the mtime), a different expected hash, a damaged stamp, a change during the hash or a too-recent ctime makes it
 * hash again; a package opened a second time is not re-hashed, and a file damaged after stamping is still refused.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelLoadError } from '../../../src/model/store.ts';
import { ensureTinyPackage } from '../tiny-package.ts';
import { DiskCache } from './disk-cache.ts';
import { diskPackage, readLocalManifest, stampsFor } from './disk-package.ts';
import { FsStore } from './fs-store.ts';
import { VerifiedStamps } from './verified-stamps.ts';

const SHA = 'a'.repeat(64);
/** A clock far enough ahead that every file just written counts as old (not racy). */
const later = () => Date.now() + 60_000;
const WHOLE_SECOND = 1_700_000_000;

class CountingStamps extends VerifiedStamps {
  trusted = 0;
  override async matches(path: string, sha256: string): Promise<boolean> {
    const ok = await super.matches(path, sha256);
    if (ok) this.trusted++;
    return ok;
  }
}

describe('verified-file stamps', () => {
  const temps: string[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'unmask-stamps-'));
    temps.push(d);
    return d;
  };
  after(async () => {
    for (const d of temps) await rm(d, { recursive: true, force: true });
  });

  const stampedFile = async (now = later) => {
    const root = await tempDir();
    const file = join(root, 'weights.bin');
    await writeFile(file, 'verified bytes');
    // Whole seconds, so a test can put the very same mtime back.
    await utimes(file, WHOLE_SECOND, WHOLE_SECOND);
    const stamps = new VerifiedStamps(join(root, 'stamps'), { now });
    await stamps.rememberHashed(file, SHA, await stat(file, { bigint: true }));
    return { file, stamps };
  };

  test('an unchanged file is trusted for the hash it was verified against, and only that one', async () => {
    const { file, stamps } = await stampedFile();
    assert.equal(await stamps.matches(file, SHA), true);
    assert.equal(await stamps.matches(file, 'b'.repeat(64)), false);
  });

  test('a same-size rewrite is seen, even with its mtime put back', async () => {
    const { file, stamps } = await stampedFile();
    const { mtimeNs } = await stat(file, { bigint: true });
    await writeFile(file, 'VERIFIED BYTES');
    await utimes(file, WHOLE_SECOND, WHOLE_SECOND);
    assert.equal((await stat(file, { bigint: true })).mtimeNs, mtimeNs);
    assert.equal(await stamps.matches(file, SHA), false);
  });

  test('a file replaced by another (new inode) is seen', async () => {
    const { file, stamps } = await stampedFile();
    const other = `${file}.new`;
    await writeFile(other, 'verified bytes');
    await rm(file);
    await cp(other, file, { preserveTimestamps: true });
    assert.equal(await stamps.matches(file, SHA), false);
  });

  test('a ctime too recent to trust is not stamped; a file changed during its hash is not stamped', async () => {
    const { file, stamps } = await stampedFile(Date.now);
    assert.equal(await stamps.matches(file, SHA), false, 'a just-written file was stamped');
    const root = await tempDir();
    const moving = join(root, 'moving.bin');
    await writeFile(moving, 'first');
    const before = await stat(moving, { bigint: true });
    await writeFile(moving, 'second, longer');
    const late = new VerifiedStamps(join(root, 'stamps'), { now: later });
    await late.rememberHashed(moving, SHA, before);
    assert.equal(await late.matches(moving, SHA), false);
  });

  test('a damaged stamp means hash again', async () => {
    const { file, stamps } = await stampedFile();
    const [name] = await readdir(stamps.dir);
    await writeFile(join(stamps.dir, name), '{"path":');
    assert.equal(await stamps.matches(file, SHA), false);
  });

  test('a file stamped by its own writer: a write right after is still seen', async () => {
    const root = await tempDir();
    const file = join(root, 'cached.bin');
    await writeFile(file, 'downloaded bytes');
    const stamps = new VerifiedStamps(join(root, 'stamps'));
    await stamps.rememberOwn(file, SHA);
    assert.equal(await stamps.matches(file, SHA), true);
    await writeFile(file, 'DOWNLOADED BYTES');
    assert.equal(await stamps.matches(file, SHA), false);
  });

  test('UNMASK_VERIFY: stamp (default) or full; anything else is refused', () => {
    const cache = new DiskCache({ dir: join(tmpdir(), 'unmask-stamps-env') });
    assert.ok(stampsFor(cache, {}) instanceof VerifiedStamps);
    assert.equal(stampsFor(cache, { UNMASK_VERIFY: 'full' }), null);
    assert.throws(() => stampsFor(cache, { UNMASK_VERIFY: 'never' }), /stamp or full/);
  });

  test('a local package opened again is not re-hashed; a file damaged since is still refused', async () => {
    const source = await ensureTinyPackage();
    const dir = join(await tempDir(), 'pkg');
    await cp(source, dir, { recursive: true, preserveTimestamps: true });
    const manifest = await readLocalManifest(dir);
    const stamps = new CountingStamps(join(await tempDir(), 'verified'), { now: later });
    await diskPackage(new FsStore(dir), { stamps });
    assert.equal(stamps.trusted, 0);
    await diskPackage(new FsStore(dir), { stamps });
    assert.equal(stamps.trusted, manifest.files.length, 'the second open hashed again');

    const graph = join(dir, manifest.graph.file);
    const { size } = await stat(graph);
    await writeFile(graph, Buffer.alloc(size, 7));
    await assert.rejects(
      diskPackage(new FsStore(dir), { stamps }),
      (e: unknown) => e instanceof ModelLoadError && e.code === 'checksum',
    );
  });
});
