// Plain JavaScript so that it loads before any TypeScript loader: a worker thread of a server under test
// inherits `--import ./test/support/clock-preload.mjs` but runs it before tsx's hooks are active there.
const RealDate = Date;

/** Replace the global Date once with one that adds `offset()` (argument-less construction and now()). */
export function patchDate(offset) {
  if (globalThis.Date.__virtual) return;
  class VirtualDate extends RealDate {
    static __virtual = true;
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset());
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset();
    }
  }
  Object.defineProperty(VirtualDate, 'name', { value: 'Date' });
  globalThis.Date = VirtualDate;
}
