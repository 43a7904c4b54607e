// Entry of the validation worker thread (deploy-check.ts). Plain JavaScript, because a worker does not
// inherit loader hooks registered in code (bin/duban.js registers tsx that way); `node --import tsx`
// passes them on through execArgv, and then the first import already works.
let job;
try {
  job = await import('./compile-worker-job.ts');
} catch (err) {
  if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  const { register } = await import('tsx/esm/api');
  register();
  // A new specifier: the failed import above stays cached under the plain one.
  job = await import('./compile-worker-job.ts?with-tsx');
}
job.listen();
