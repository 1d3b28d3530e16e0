import { setFlagsFromString } from 'node:v8';

/**
 * Settings for a process that is first of all a tracker (`torrenttp tracker`, the benches), not
 * for a library to apply behind its embedder's back.
 *
 * Node copies every received datagram into a fresh `malloc`ed buffer (after `malloc`ing 64 KiB
 * for the read), and V8 frees those buffers from a background thread when it sweeps dead
 * `ArrayBuffer`s. Chunks freed by another thread land in the main arena's shared lists, and the
 * next 64 KiB `malloc` on the main thread has to consolidate them: in a UDP load profile `malloc`
 * and `free` took about 8 % of the tracker's CPU, against 3 % for a responder that keeps nothing.
 * Sweeping on the main thread (`--no-concurrent-array-buffer-sweeping`) frees them into the main
 * thread's own cache: 116,000 → 126,000 UDP announces per CPU-second (alternating runs of
 * `bench/tracker.ts`). V8 reads the flag at every sweep, so setting it after start-up works.
 */
export function tuneProcessForTracker(): void {
  setFlagsFromString('--no-concurrent-array-buffer-sweeping');
}
