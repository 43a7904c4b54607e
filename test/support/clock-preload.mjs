/**
 * Preload for a child process under a virtual clock (see clock.ts): `Date` follows the offset that the
 * test writes to DUBAN_TEST_CLOCK_FILE. The file is re-read at most every 20 ms of real time.
 * Start the child with `--import ./test/support/clock-preload.mjs`.
 */
import { readFileSync } from 'node:fs';
import { patchDate } from './date-patch.mjs';

const file = process.env.DUBAN_TEST_CLOCK_FILE;
if (file) {
  const realNow = Date.now;
  let offset = 0;
  let readAt = 0;
  patchDate(() => {
    const t = realNow();
    if (t - readAt > 20) {
      readAt = t;
      try {
        offset = Number(readFileSync(file, 'utf8')) || 0;
      } catch {
        // No file yet: real time.
      }
    }
    return offset;
  });
}
